// Command vmtest-agent runs inside a vmtest Debian VM and serves a Machine
// on the host over a serial port (internal/vmtest/vmproto): it runs commands
// (unconfined, as root or a named user, bounded by timeouts), reads and
// writes files, and starts and stops daemons the way a service manager
// would (setsid, output to a log, SIGTERM then SIGKILL).
//
// Usage: vmtest-agent /dev/ttyS1
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/armorer-dev/armorer/internal/vmtest/vmproto"
)

// maxOutput caps each of a command's stdout and stderr: a runaway command
// must not exhaust the VM's memory or the serial line.
const maxOutput = 32 << 20

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: vmtest-agent TTY")
		os.Exit(2)
	}
	tty, err := os.OpenFile(os.Args[1], os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmtest-agent:", err)
		os.Exit(1)
	}
	if err := makeRaw(int(tty.Fd())); err != nil {
		fmt.Fprintln(os.Stderr, "vmtest-agent: raw mode:", err)
		os.Exit(1)
	}
	a := &agent{daemons: map[string]*daemon{}}
	if err := a.serve(tty, tty); err != nil {
		fmt.Fprintln(os.Stderr, "vmtest-agent:", err)
		os.Exit(1)
	}
}

// makeRaw is cfmakeraw: 8-bit clean, no echo, no line editing, no signals,
// no newline translation in either direction.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CRTSCTS | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CLOCAL | unix.CREAD | unix.B115200
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

type agent struct {
	mu      sync.Mutex
	daemons map[string]*daemon
}

type daemon struct {
	cmd     *exec.Cmd
	pidfile string
	done    chan struct{} // closed when the started process has exited
	status  int
}

func (a *agent) serve(r io.Reader, w io.Writer) error {
	enc := json.NewEncoder(w)
	release, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	if err := enc.Encode(vmproto.Response{Hello: strings.TrimSpace(string(release))}); err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return err
		}
		var req vmproto.Request
		var resp vmproto.Response
		if err := json.Unmarshal(line, &req); err != nil {
			resp.Err = fmt.Sprintf("bad request: %v", err)
		} else {
			resp = a.handle(&req)
		}
		if err := enc.Encode(resp); err != nil {
			return err
		}
		if req.Op == vmproto.OpPoweroff {
			return nil
		}
	}
}

func (a *agent) handle(req *vmproto.Request) vmproto.Response {
	start := time.Now()
	var (
		resp vmproto.Response
		err  error
	)
	switch req.Op {
	case vmproto.OpExec:
		resp, err = run(req)
	case vmproto.OpWrite:
		err = writeFile(req.Path, req.Data, os.FileMode(req.Mode))
	case vmproto.OpRead:
		resp.Data, err = os.ReadFile(req.Path)
	case vmproto.OpStart:
		resp.PID, err = a.start(req)
	case vmproto.OpStop:
		resp, err = a.stop(req)
	case vmproto.OpPoweroff:
	default:
		err = fmt.Errorf("unknown op %q", req.Op)
	}
	if err != nil {
		resp.Err = err.Error()
	}
	resp.Took = time.Since(start)
	return resp
}

// command prepares req's Argv with its directory, environment and user.
func command(req *vmproto.Request) (*exec.Cmd, error) {
	if len(req.Argv) == 0 {
		return nil, errors.New("empty argv")
	}
	cmd := exec.Command(req.Argv[0], req.Argv[1:]...)
	cmd.Dir = req.Dir
	cmd.Env = append(os.Environ(), req.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if req.User != "" {
		cred, home, err := credential(req.User)
		if err != nil {
			return nil, err
		}
		cmd.SysProcAttr.Credential = cred
		cmd.Env = append(cmd.Env, "HOME="+home, "USER="+req.User, "LOGNAME="+req.User)
		if cmd.Dir == "" {
			cmd.Dir = "/"
		}
	}
	return cmd, nil
}

func credential(name string) (*syscall.Credential, string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, "", err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, "", fmt.Errorf("groups of %s: %w", name, err)
	}
	for _, g := range gids {
		if n, err := strconv.Atoi(g); err == nil {
			cred.Groups = append(cred.Groups, uint32(n))
		}
	}
	return cred, u.HomeDir, nil
}

// run runs req's command in its own process group and waits for it; on
// timeout the whole group is killed.
func run(req *vmproto.Request) (vmproto.Response, error) {
	cmd, err := command(req)
	if err != nil {
		return vmproto.Response{}, err
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.Stdin = bytes.NewReader(req.Stdin)
	stdout, stderr := &capped{}, &capped{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A background child that keeps the output pipes open must not hold
	// the answer back once the command itself has exited.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return vmproto.Response{RC: 127}, err
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(timeout, func() {
		timedOut.Store(true)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	werr := cmd.Wait()
	timer.Stop()
	resp := vmproto.Response{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), RC: exitStatus(cmd.ProcessState), TimedOut: timedOut.Load()}
	if werr != nil && cmd.ProcessState == nil {
		return resp, werr
	}
	return resp, nil
}

// exitStatus is the exit code, or 128+signal as a shell reports it.
func exitStatus(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// capped is a buffer that keeps the first maxOutput bytes.
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := maxOutput - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s: not an absolute path", path)
	}
	if mode == 0 {
		mode = 0o644
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

// start starts a daemon in its own session, its output appended to its log.
func (a *agent) start(req *vmproto.Request) (int, error) {
	if req.Name == "" {
		return 0, errors.New("start: a daemon needs a name")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if d, ok := a.daemons[req.Name]; ok && d.running() {
		return 0, fmt.Errorf("start: daemon %s is already running", req.Name)
	}
	cmd, err := command(req)
	if err != nil {
		return 0, err
	}
	cmd.SysProcAttr.Setsid = true
	logPath := req.Log
	if logPath == "" {
		logPath = "/var/log/vmtest/" + req.Name + ".log"
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return 0, err
	}
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer log.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	d := &daemon{cmd: cmd, pidfile: req.PIDFile, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		d.status = exitStatus(cmd.ProcessState)
		close(d.done)
	}()
	a.daemons[req.Name] = d
	return cmd.Process.Pid, nil
}

// stop sends SIGTERM, waits up to req.Timeout for the daemon to exit, then
// sends SIGKILL. A daemon with a PID file is the process named there (the
// one that forked away); its exit status is unknown (RC -1).
func (a *agent) stop(req *vmproto.Request) (vmproto.Response, error) {
	a.mu.Lock()
	d, ok := a.daemons[req.Name]
	a.mu.Unlock()
	pidfile := req.PIDFile
	if ok && pidfile == "" {
		pidfile = d.pidfile
	}
	if !ok && pidfile == "" {
		return vmproto.Response{}, fmt.Errorf("stop: no daemon %s", req.Name)
	}
	timeout := req.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	if pidfile == "" {
		return stopChild(d, timeout)
	}
	pid := pidFrom(pidfile)
	if pid <= 0 {
		return vmproto.Response{}, fmt.Errorf("stop %s: no PID in %s", req.Name, pidfile)
	}
	resp := vmproto.Response{PID: pid, RC: -1}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return resp, fmt.Errorf("stop %s: kill %d: %w", req.Name, pid, err)
	}
	if waitGone(pid, timeout) {
		return resp, nil
	}
	resp.Killed = true
	syscall.Kill(pid, syscall.SIGKILL)
	waitGone(pid, 5*time.Second)
	return resp, nil
}

func stopChild(d *daemon, timeout time.Duration) (vmproto.Response, error) {
	pid := d.cmd.Process.Pid
	resp := vmproto.Response{PID: pid}
	select {
	case <-d.done:
		resp.RC = d.status
		return resp, fmt.Errorf("stop: daemon (pid %d) had already exited with status %d", pid, d.status)
	default:
	}
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(timeout):
		resp.Killed = true
		syscall.Kill(pid, syscall.SIGKILL)
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
			return resp, fmt.Errorf("stop: pid %d survived SIGKILL", pid)
		}
	}
	resp.RC = d.status
	return resp, nil
}

// running reports whether the daemon (the process it forked away to, with
// a PID file) has not exited.
func (d *daemon) running() bool {
	if d.pidfile != "" {
		return alive(pidFrom(d.pidfile))
	}
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

func pidFrom(pidfile string) int {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// alive reports whether pid is a process that has not exited (a zombie
// has: nobody may reap an orphan quickly).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: comm may hold spaces and parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

func waitGone(pid int, timeout time.Duration) bool {
	end := time.Now().Add(timeout)
	for alive(pid) {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
