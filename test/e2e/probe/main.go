// Command probe performs one kind of access per operation, so that a test
// can capture the AppArmor audit line each produces on a real kernel. Every
// operation prints "OP: ok" or "OP: <error>" and the program carries on: in
// enforce mode most operations are expected to fail.
//
//	probe [-dir D] [-peer PID] OP...    (OP "all" runs every operation)
//
// Installed twice in the VM (as .../probe and .../child) so that exec
// transitions have a distinct target binary.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

var (
	dir   = flag.String("dir", "/opt/probe/data", "directory the file operations work in (must exist)")
	peer  = flag.Int("peer", 0, "PID of an unconfined process to signal and ptrace")
	child = flag.String("child", "/opt/probe/bin/child", "program to exec")
)

type op func() error

var ops = map[string]op{
	"read":      func() error { return readFile(p("r")) },
	"audited":   func() error { return readFile(p("a")) },          // enforce profiles audit this read
	"spacepath": func() error { return readFile(p("with space")) }, // the kernel hex-encodes such names
	"write":     func() error { return openClose(p("w"), os.O_WRONLY, 0) },
	"append":    func() error { return openClose(p("w"), os.O_WRONLY|os.O_APPEND, 0) },
	"create": func() error {
		return openClose(p(fmt.Sprint("new-", os.Getpid())), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	},
	"mkdir":         func() error { return os.Mkdir(p(fmt.Sprint("dir-", os.Getpid())), 0o755) },
	"rmdir":         func() error { return os.Remove(p("emptydir")) },
	"mknod":         func() error { return unix.Mkfifo(p(fmt.Sprint("fifo-", os.Getpid())), 0o644) },
	"link":          func() error { return os.Link(p("r"), p(fmt.Sprint("link-", os.Getpid()))) },
	"symlink":       func() error { return os.Symlink(p("r"), p(fmt.Sprint("symlink-", os.Getpid()))) },
	"rename":        func() error { return os.Rename(p("from"), p("to")) },
	"unlink":        func() error { return os.Remove(p("gone")) },
	"chmod":         func() error { return os.Chmod(p("w"), 0o600) },
	"chown":         func() error { return os.Chown(p("w"), 65534, 65534) },
	"truncate":      func() error { return os.Truncate(p("w"), 0) },
	"lock":          lock,
	"mmap":          mmapExec,
	"exec":          func() error { return exec.Command(*child, "-dir", *dir).Run() },
	"dac":           func() error { return readFile(p("secret")) }, // mode 000: needs cap dac_override/dac_read_search
	"setuid":        setuid,
	"tcp":           tcp,
	"udp":           udp,
	"tcp6":          tcp6,
	"raw":           func() error { return sock(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP) },
	"packet":        func() error { return sock(unix.AF_PACKET, unix.SOCK_RAW, 0) },
	"netlink":       func() error { return sock(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE) },
	"unix":          unixSock,
	"bind80":        bind80,
	"signal":        signal,
	"ptrace":        ptrace,
	"userns":        userns,
	"mount":         mount,
	"changeprofile": func() error { return writeAttr("current", "changeprofile probe_target") },
	"onexec":        onexec,
	"changehat":     changehat,
	"sethostname":   func() error { h, _ := os.Hostname(); return unix.Sethostname([]byte(h)) },
}

func p(name string) string { return filepath.Join(*dir, name) }

func main() {
	flag.Parse()
	names := flag.Args()
	if len(names) == 1 && names[0] == "all" {
		names = names[:0]
		for n := range ops {
			if n != "changeprofile" && n != "changehat" { // change this process's own profile: run them alone
				names = append(names, n)
			}
		}
		sort.Strings(names)
	}
	// No operation: the exec target's job is done by having started.
	for _, n := range names {
		f, ok := ops[n]
		if !ok {
			fmt.Fprintf(os.Stderr, "probe: unknown operation %q\nusage: probe [-dir D] [-peer PID] OP... | all\n", n)
			os.Exit(2)
		}
		if err := f(); err != nil {
			fmt.Printf("%s: %v\n", n, err)
		} else {
			fmt.Printf("%s: ok\n", n)
		}
	}
}

func readFile(name string) error { _, err := os.ReadFile(name); return err }

func openClose(name string, flag int, mode os.FileMode) error {
	f, err := os.OpenFile(name, flag, mode)
	if err != nil {
		return err
	}
	return f.Close()
}

func lock() error {
	f, err := os.Open(p("r"))
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX)
}

func mmapExec() error {
	f, err := os.Open(p("r"))
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE)
	if err != nil {
		return err
	}
	return unix.Munmap(b)
}

// setuid changes the real uid of a child (a Go program cannot setuid only
// one of its threads), which needs capability setuid.
func setuid() error {
	cmd := exec.Command(*child, "-dir", *dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd.Run()
}

func sock(family, typ, proto int) error {
	fd, err := unix.Socket(family, typ, proto)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

func tcp() error { return stream("tcp4", "127.0.0.1:0") }

func tcp6() error { return stream("tcp6", "[::1]:0") }

// stream listens, connects, sends and receives: create, bind, listen,
// connect, accept, sendmsg and recvmsg.
func stream(network, addr string) error {
	l, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 4)
		if _, err := c.Read(b); err != nil {
			done <- err
			return
		}
		_, err = c.Write(b)
		done <- err
	}()
	c, err := net.DialTimeout(network, l.Addr().String(), 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	if _, err := c.Read(make([]byte, 4)); err != nil {
		return err
	}
	return <-done
}

func udp() error {
	s, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer s.Close()
	c, err := net.Dial("udp4", s.LocalAddr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	s.SetDeadline(time.Now().Add(5 * time.Second))
	_, _, err = s.ReadFrom(make([]byte, 4))
	return err
}

func unixSock() error {
	path := p(fmt.Sprint("sock-", os.Getpid()))
	defer os.Remove(path)
	if err := stream("unix", path); err != nil {
		return err
	}
	return stream("unix", "@probe-abstract")
}

// bind80 binds a privileged port: capability net_bind_service.
func bind80() error {
	l, err := net.Listen("tcp4", "127.0.0.1:80")
	if err != nil {
		return err
	}
	return l.Close()
}

func signal() error {
	if *peer == 0 {
		return fmt.Errorf("needs -peer")
	}
	return unix.Kill(*peer, unix.SIGCONT)
}

// ptrace attaches to the peer and detaches again; it also reads its
// environ, a ptrace read check.
func ptrace() error {
	if *peer == 0 {
		return fmt.Errorf("needs -peer")
	}
	_, rerr := os.ReadFile(fmt.Sprintf("/proc/%d/environ", *peer))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.PtraceAttach(*peer); err != nil {
		return err
	}
	var ws unix.WaitStatus
	unix.Wait4(*peer, &ws, unix.WALL, nil)
	if err := unix.PtraceDetach(*peer); err != nil {
		return err
	}
	return rerr
}

// userns starts a child in a new user namespace.
func userns() error {
	cmd := exec.Command(*child, "-dir", *dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	return cmd.Run()
}

func mount() error {
	target := p("mnt")
	if err := unix.Mount("tmpfs", target, "tmpfs", 0, "size=1m"); err != nil {
		return err
	}
	if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		unix.Unmount(target, 0)
		return err
	}
	return unix.Unmount(target, 0)
}

// writeAttr writes this thread's AppArmor attribute (the kernel refuses
// writes from another thread of the process).
func writeAttr(attr, value string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	name := "/proc/thread-self/attr/apparmor/" + attr
	if _, err := os.Stat(name); err != nil {
		name = "/proc/thread-self/attr/" + attr
	}
	return os.WriteFile(name, []byte(value), 0)
}

// changehat enters the hat "hat" and returns, then asks for a hat the
// profile does not have.
func changehat() error {
	runtime.LockOSThread() // hats are per thread
	defer runtime.UnlockOSThread()
	if err := writeAttr("current", "changehat 0000000000000042^hat"); err != nil {
		return fmt.Errorf("enter hat: %w", err)
	}
	if err := writeAttr("current", "changehat 0000000000000042^"); err != nil {
		return fmt.Errorf("leave hat: %w", err)
	}
	return writeAttr("current", "changehat 0000000000000043^nohat")
}

// onexec asks for probe_target at the next exec, then execs the child.
func onexec() error {
	runtime.LockOSThread() // the attribute is per thread: exec from it
	defer runtime.UnlockOSThread()
	if err := writeAttr("exec", "exec probe_target"); err != nil {
		return err
	}
	return exec.Command(*child, "-dir", *dir).Run()
}
