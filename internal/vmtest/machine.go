package vmtest

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/testenv"
	"github.com/armorer-dev/armorer/internal/vmtest/vmproto"
)

//go:embed debian-init.sh
var debianInit []byte

// MachineOptions tune a Machine. The zero value is usable.
type MachineOptions struct {
	Userland *Userland // nil means Services
	MemoryMB int       // 0 means 3072
	// Files and Dirs are added to the userland at boot (a second cpio):
	// the armorer binary, profiles, test programs. Programs are copied
	// without libraries: the userland's own serve dynamic ones.
	Files []File
	Dirs  []string
	// BootTimeout bounds qemu's start to the agent's hello; 0 means 5 minutes.
	BootTimeout time.Duration
	Append      []string  // kernel command-line arguments added
	Console     io.Writer // receives the serial console as it arrives
	// UserlandParser keeps the userland's apparmor_parser and policy on a
	// kernel of another release; by default the kernel's release provides
	// them (Debian 13's kernel: parser 4.1 and Debian 13's abstractions).
	UserlandParser bool
}

// Machine is a booted Debian VM serving commands over its second serial
// port (vmtest-agent). Its methods are safe for concurrent use; requests
// run one at a time.
type Machine struct {
	Kernel  Kernel
	Release string        // the running kernel's release (uname -r)
	Boot    time.Duration // qemu start to the agent's hello

	dir     string
	cmd     *exec.Cmd
	console *consoleBuffer
	exited  chan struct{} // closed when qemu has exited
	waitErr error

	mu     sync.Mutex
	conn   net.Conn
	br     *bufio.Reader
	broken error
	closed bool
}

// BootMachine prepares k's assets and the userland and boots a Machine
// that the test's cleanup powers off. A missing component (qemu,
// debootstrap, the kernel) skips the test outside CI and fails it in CI; a
// VM that does not boot fails it.
func BootMachine(t testing.TB, k Kernel, opt MachineOptions) *Machine {
	t.Helper()
	a := Need(t, k)
	u := Services
	if opt.Userland != nil {
		u = *opt.Userland
	}
	ctx := context.Background()
	if _, _, err := u.Ensure(ctx); err != nil {
		testenv.Missing(t, "Debian userland for the VM unavailable: %v", err)
	}
	m, err := a.StartMachine(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("%s VM: %v", k.Name, err)
		}
	})
	return m
}

// StartMachine boots the userland (opt.Userland, default Services) on a's
// kernel and returns once the agent in the VM answers. Close powers it off.
func (a *Assets) StartMachine(ctx context.Context, opt MachineOptions) (*Machine, error) {
	u := Services
	if opt.Userland != nil {
		u = *opt.Userland
	}
	tree, archive, err := u.Ensure(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vmtest-machine-")
	if err != nil {
		return nil, err
	}
	m := &Machine{Kernel: a.Kernel, dir: dir, console: &consoleBuffer{w: opt.Console}, exited: make(chan struct{})}
	initrd := filepath.Join(dir, "initrd")
	if err := a.machineInitrd(ctx, u, tree, archive, opt, initrd); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := m.start(ctx, a, initrd, opt); err != nil {
		m.Close()
		return nil, err
	}
	os.Remove(initrd) // qemu has read it; it is the size of the userland
	return m, nil
}

var (
	agentOnce sync.Once
	agentBin  string
	agentErr  error
)

// buildAgent builds vmtest-agent once per test process.
func buildAgent(ctx context.Context) (string, error) {
	agentOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "vmtest-agent-")
		if err != nil {
			agentErr = err
			return
		}
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		agentBin = filepath.Join(tmp, "vmtest-agent")
		agentErr = GoBuild(bctx, "./internal/vmtest/vmagent", agentBin)
	})
	return agentBin, agentErr
}

// machineInitrd writes the userland's archive followed by a second cpio
// with /init, the agent and opt's files: the kernel unpacks both, the
// second over the first.
func (a *Assets) machineInitrd(ctx context.Context, u Userland, tree, archive string, opt MachineOptions, out string) error {
	agent, err := buildAgent(ctx)
	if err != nil {
		return err
	}
	staged, err := os.MkdirTemp("", "vmtest-payload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staged)
	s := &stager{dir: staged, done: map[string]bool{}, noLibs: true}
	files := []File{
		{Path: "/init", Data: debianInit, Mode: 0o755},
		Program(agent, "/usr/sbin/vmtest-agent"),
		Text("/etc/hosts", "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"),
		Text("/etc/hostname", "vmtest\n"),
	}
	if a.Kernel.Suite != u.Suite && !opt.UserlandParser {
		pf, trees, err := releaseParser(a.AppArmorRoot)
		if err != nil {
			return err
		}
		files = append(files, pf...)
		for _, d := range trees {
			if err := s.tree(filepath.Join(a.AppArmorRoot, d), inTree(tree, "/"+d)); err != nil {
				return err
			}
		}
	}
	for _, f := range append(files, opt.Files...) {
		f.Path = inTree(tree, f.Path)
		if err := s.add(f); err != nil {
			return fmt.Errorf("vmtest: %s: %w", f.Path, err)
		}
	}
	for _, d := range opt.Dirs {
		if err := s.mkdir(inTree(tree, d)); err != nil {
			return err
		}
	}
	if err := matchTreeDirs(staged, tree); err != nil {
		return err
	}
	payload := out + ".payload"
	if err := cpio(ctx, a.Busybox, staged, payload); err != nil {
		return err
	}
	defer os.Remove(payload)
	return concat(out, archive, payload)
}

func concat(out string, parts ...string) error {
	fh, err := os.Create(out)
	if err != nil {
		return err
	}
	defer fh.Close()
	for _, p := range parts {
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(fh, in)
		in.Close()
		if err != nil {
			return err
		}
	}
	return fh.Close()
}

func (m *Machine) start(ctx context.Context, a *Assets, initrd string, opt MachineOptions) error {
	mem := opt.MemoryMB
	if mem == 0 {
		mem = 3072
	}
	sock := filepath.Join(m.dir, "ctl.sock")
	// audit_backlog_limit: with no auditd the kernel queues audit records
	// for printk, 64 by default, and drops the rest ("backlog limit
	// exceeded"): a service under load in complain mode logs faster.
	cmdline := append([]string{"console=ttyS0", "apparmor=1", "security=apparmor", "panic=-1", "loglevel=4", "log_buf_len=8M", "no_timer_check", "audit_backlog_limit=8192"}, opt.Append...)
	args := []string{
		"-accel", "tcg", "-cpu", "max", "-m", strconv.Itoa(mem), "-smp", "1",
		"-display", "none", "-monitor", "none", "-no-reboot", "-nic", "none",
		"-serial", "stdio",
		// ttyS1: the agent's line. wait=on: the VM starts only once the
		// host is connected, so the agent's hello cannot be lost.
		"-chardev", "socket,id=ctl,path=" + sock + ",server=on,wait=on",
		"-serial", "chardev:ctl",
		"-kernel", a.Vmlinuz, "-initrd", initrd,
		"-append", strings.Join(cmdline, " "),
	}
	// Not CommandContext: the Machine outlives ctx (which bounds the boot).
	m.cmd = exec.Command("qemu-system-x86_64", args...)
	var stderr bytes.Buffer
	m.cmd.Stderr = &stderr
	pipe, err := m.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := m.cmd.Start(); err != nil {
		return fmt.Errorf("vmtest: start qemu: %w", err)
	}
	go func() {
		m.console.readFrom(pipe)
		m.waitErr = m.cmd.Wait()
		if stderr.Len() > 0 {
			m.waitErr = fmt.Errorf("%v: %s", m.waitErr, strings.TrimSpace(stderr.String()))
		}
		close(m.exited)
	}()
	bootTimeout := opt.BootTimeout
	if bootTimeout == 0 {
		bootTimeout = 5 * time.Minute
	}
	deadline := start.Add(bootTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	for {
		m.conn, err = net.Dial("unix", sock)
		if err == nil {
			break
		}
		select {
		case <-m.exited:
			return fmt.Errorf("vmtest: qemu exited before its control socket was up: %v", m.waitErr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("vmtest: qemu's control socket %s: %w", sock, err)
		}
	}
	m.br = bufio.NewReaderSize(m.conn, 1<<20)
	m.conn.SetReadDeadline(deadline)
	var hello vmproto.Response
	if err := m.read(&hello); err != nil || hello.Hello == "" {
		return fmt.Errorf("vmtest: %s VM: no hello from the agent within %v (%v); console tail:\n%s", a.Kernel.Name, bootTimeout, err, tail(m.Console(), 40))
	}
	m.Release, m.Boot = hello.Hello, time.Since(start)
	return nil
}

func (m *Machine) read(resp *vmproto.Response) error {
	line, err := m.br.ReadBytes('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, resp)
}

// roundTrip sends req and reads its answer, waiting at most wait (plus a
// margin for the serial line) or until ctx ends. A transport failure breaks
// the Machine: later calls return the same error.
func (m *Machine) roundTrip(ctx context.Context, req *vmproto.Request, wait time.Duration) (*vmproto.Response, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.broken != nil {
		return nil, m.broken
	}
	if m.closed {
		return nil, errors.New("vmtest: machine is closed")
	}
	line, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait + 30*time.Second + time.Duration(len(line))*time.Microsecond)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	m.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { m.conn.SetDeadline(time.Now()) })
	defer stop()
	var resp vmproto.Response
	if _, err = m.conn.Write(append(line, '\n')); err == nil {
		err = m.read(&resp)
	}
	if err != nil {
		select {
		case <-m.exited:
			err = fmt.Errorf("%w (qemu exited: %v)", err, m.waitErr)
		default:
		}
		m.broken = fmt.Errorf("vmtest: %s VM: %s: %w; console tail:\n%s", m.Kernel.Name, req.Op, err, tail(m.Console(), 30))
		return nil, m.broken
	}
	if resp.Err != "" {
		return &resp, fmt.Errorf("vmtest: %s VM: %s: %s", m.Kernel.Name, req.Op, resp.Err)
	}
	return &resp, nil
}

// Cmd is a command to run in the VM, unconfined, from the agent.
type Cmd struct {
	Argv    []string
	Timeout time.Duration // the command's process group is killed after it; 0 means 60 s
	User    string        // run as this user with its groups; empty means root
	Dir     string
	Env     []string // added to the agent's environment (PATH, HOME=/root, LANG=C.UTF-8)
	Stdin   []byte
}

// Output is what a command printed and how it ended.
type Output struct {
	Argv           []string
	Stdout, Stderr []byte
	RC             int  // exit status; 128+N when killed by signal N
	TimedOut       bool // killed by its Timeout
	Took           time.Duration
}

// Err is nil when the command exited 0, else an error naming the command,
// its status and its stderr.
func (o *Output) Err() error {
	if o.RC == 0 && !o.TimedOut {
		return nil
	}
	why := fmt.Sprintf("exit status %d", o.RC)
	if o.TimedOut {
		why = fmt.Sprintf("killed after its timeout (%v)", o.Took.Round(time.Millisecond))
	}
	return fmt.Errorf("%s: %s\nstdout: %s\nstderr: %s", strings.Join(o.Argv, " "), why, tailBytes(o.Stdout, 2000), tailBytes(o.Stderr, 2000))
}

func tailBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// Exec runs c and waits for it. The error is about the VM or the agent (the
// command could not start, the line broke), never about the command's own
// status: that is Output.RC (or Output.Err).
func (m *Machine) Exec(ctx context.Context, c Cmd) (*Output, error) {
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	resp, err := m.roundTrip(ctx, &vmproto.Request{Op: vmproto.OpExec, Argv: c.Argv, Dir: c.Dir, Env: c.Env, User: c.User, Stdin: c.Stdin, Timeout: c.Timeout}, c.Timeout)
	if err != nil {
		return nil, err
	}
	return &Output{Argv: c.Argv, Stdout: resp.Stdout, Stderr: resp.Stderr, RC: resp.RC, TimedOut: resp.TimedOut, Took: resp.Took}, nil
}

// Run runs argv as root with a timeout.
func (m *Machine) Run(ctx context.Context, timeout time.Duration, argv ...string) (*Output, error) {
	return m.Exec(ctx, Cmd{Argv: argv, Timeout: timeout})
}

// Sh runs a /bin/sh (dash) script as root with a timeout.
func (m *Machine) Sh(ctx context.Context, timeout time.Duration, script string) (*Output, error) {
	return m.Exec(ctx, Cmd{Argv: []string{"/bin/sh", "-c", script}, Timeout: timeout})
}

// MustSh runs script as Sh does and fails the test unless it exits 0; it
// returns the script's stdout.
func (m *Machine) MustSh(t testing.TB, timeout time.Duration, script string) string {
	t.Helper()
	out, err := m.Sh(context.Background(), timeout, script)
	if err == nil {
		err = out.Err()
	}
	if err != nil {
		t.Fatalf("%s VM: %v", m.Kernel.Name, err)
	}
	return string(out.Stdout)
}

// WriteFile writes data to vmPath (its directories made) with mode (0
// means 0644), owned by root.
func (m *Machine) WriteFile(ctx context.Context, vmPath string, data []byte, mode fs.FileMode) error {
	_, err := m.roundTrip(ctx, &vmproto.Request{Op: vmproto.OpWrite, Path: vmPath, Data: data, Mode: uint32(mode.Perm())}, transferTime(len(data)))
	return err
}

// ReadFile returns the contents of vmPath.
func (m *Machine) ReadFile(ctx context.Context, vmPath string) ([]byte, error) {
	resp, err := m.roundTrip(ctx, &vmproto.Request{Op: vmproto.OpRead, Path: vmPath}, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	return resp.Data, nil
}

// CopyIn copies a File (Src or Data) into the running VM. Prefer
// MachineOptions.Files for what is known before boot: the boot archive is
// much faster than the serial line for big files.
func (m *Machine) CopyIn(ctx context.Context, f File) error {
	if f.Symlink != "" {
		_, err := m.Run(ctx, 10*time.Second, "ln", "-sfn", f.Symlink, f.Path)
		return err
	}
	data, mode := f.Data, f.Mode
	if f.Src != "" {
		b, err := os.ReadFile(f.Src)
		if err != nil {
			return err
		}
		data = b
		if mode == 0 {
			fi, err := os.Stat(f.Src)
			if err != nil {
				return err
			}
			mode = fi.Mode().Perm()
		}
	}
	return m.WriteFile(ctx, f.Path, data, mode)
}

// CopyOut copies vmPath to hostPath.
func (m *Machine) CopyOut(ctx context.Context, vmPath, hostPath string) error {
	data, err := m.ReadFile(ctx, vmPath)
	if err != nil {
		return err
	}
	return os.WriteFile(hostPath, data, 0o644)
}

// transferTime is a generous bound for n bytes over the serial line.
func transferTime(n int) time.Duration { return time.Minute + time.Duration(n)*10*time.Microsecond }

// Daemon is a service started directly (there is no init system in the
// VM), in its own session, stdin /dev/null, stdout and stderr appended to
// Log (default /var/log/vmtest/NAME.log).
type Daemon struct {
	Name string
	Argv []string
	User string // run as this user with its groups; empty means root
	Dir  string
	Env  []string
	// PIDFile is for a daemon that forks away (nginx): Stop signals the
	// PID written there instead of the process Start started.
	PIDFile string
	Log     string
}

// Start starts d and returns the PID of the process it started.
func (m *Machine) Start(ctx context.Context, d Daemon) (int, error) {
	resp, err := m.roundTrip(ctx, &vmproto.Request{Op: vmproto.OpStart, Name: d.Name, Argv: d.Argv, User: d.User, Dir: d.Dir, Env: d.Env, PIDFile: d.PIDFile, Log: d.Log}, 30*time.Second)
	if err != nil {
		return 0, err
	}
	return resp.PID, nil
}

// Stopped is how a daemon ended on Stop.
type Stopped struct {
	PID    int
	RC     int  // exit status (128+N: signal N); -1 when unknown (a PIDFile daemon is not the agent's child)
	Killed bool // it outlived SIGTERM by the timeout and got SIGKILL: not a clean stop
	Took   time.Duration
}

// Clean reports whether the daemon exited on SIGTERM within the timeout
// with status 0 (or an unknown status).
func (s *Stopped) Clean() bool { return !s.Killed && (s.RC == 0 || s.RC == -1) }

// Stop stops a daemon as a service manager would: SIGTERM from the
// (unconfined) agent, SIGKILL when it has not exited after timeout (0
// means 30 s).
func (m *Machine) Stop(ctx context.Context, name string, timeout time.Duration) (*Stopped, error) {
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	resp, err := m.roundTrip(ctx, &vmproto.Request{Op: vmproto.OpStop, Name: name, Timeout: timeout}, timeout+10*time.Second)
	if resp == nil {
		return nil, err
	}
	return &Stopped{PID: resp.PID, RC: resp.RC, Killed: resp.Killed, Took: resp.Took}, err
}

// Console is the serial console so far (kernel messages at loglevel < 4
// and /init's own lines; audit events are in dmesg, not here).
func (m *Machine) Console() string { return m.console.String() }

// Close powers the VM off (asking the agent, then killing qemu if it has
// not exited within 30 s) and removes its temporary files.
func (m *Machine) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	broken := m.broken
	m.mu.Unlock()
	var err error
	if m.conn != nil && broken == nil {
		_, err = m.roundTrip(context.Background(), &vmproto.Request{Op: vmproto.OpPoweroff}, 0)
	}
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	if m.cmd != nil && m.cmd.Process != nil {
		select {
		case <-m.exited:
		case <-time.After(30 * time.Second):
			m.cmd.Process.Kill()
			<-m.exited
			if err == nil {
				err = fmt.Errorf("vmtest: %s VM did not power off; killed", m.Kernel.Name)
			}
		}
	}
	if m.conn != nil {
		m.conn.Close()
	}
	os.RemoveAll(m.dir)
	return err
}

// consoleBuffer collects the serial console, copying it to w as it comes.
type consoleBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	w   io.Writer
}

func (c *consoleBuffer) readFrom(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		c.mu.Lock()
		c.buf.WriteString(line)
		c.buf.WriteByte('\n')
		c.mu.Unlock()
		if c.w != nil {
			fmt.Fprintln(c.w, line)
		}
	}
	io.Copy(io.Discard, r) // a line over 16 MiB: keep qemu from blocking
}

func (c *consoleBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}
