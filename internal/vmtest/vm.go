package vmtest

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

//go:embed init.sh
var initScript []byte

//go:embed vmtest.sh
var libScript []byte

// Markers the VM prints on the serial console; Run parses them.
const (
	markInit  = "@@@VMTEST-INIT"
	markBegin = "@@@VMTEST-BEGIN "
	markEnd   = "@@@VMTEST-END "
	markDone  = "@@@VMTEST-DONE "
)

// Options tune one VM run. The zero value is usable.
type Options struct {
	// Timeout bounds the scenario inside the VM (busybox timeout); 0 means 5 minutes.
	// The host kills qemu 60 s after it, or when ctx ends.
	Timeout  time.Duration
	MemoryMB int // 0 means 1024
	// Append adds kernel command-line arguments.
	Append []string
	// Console, when set, receives the serial console as it arrives (e.g. os.Stderr for debugging).
	Console io.Writer
	// KeepInitrd leaves the built initramfs here instead of a temporary file.
	KeepInitrd string
}

// TimedOut is a Step's RC when busybox timeout killed it (128+SIGTERM;
// coreutils would say 124).
const TimedOut = 143

// Step is one `step` of a scenario: its output (stdout and stderr) and exit
// status (TimedOut when its time limit killed it).
type Step struct {
	Name   string
	Output string
	RC     int
}

// Result is what a VM run printed.
type Result struct {
	Console    string // the whole serial console, \r removed
	Steps      []Step
	Completed  bool          // the scenario finished and the VM powered off cleanly
	ScenarioRC int           // the scenario's exit status: 0 unless it calls exit (TimedOut: Run reports an error)
	Boot       time.Duration // qemu start to /init running
	Wall       time.Duration // qemu start to exit
}

// Step returns the last step called name.
func (r *Result) Step(name string) (Step, bool) {
	for i := len(r.Steps) - 1; i >= 0; i-- {
		if r.Steps[i].Name == name {
			return r.Steps[i], true
		}
	}
	return Step{}, false
}

// Output is the output of the last step called name ("" if none).
func (r *Result) Output(name string) string { s, _ := r.Step(name); return s.Output }

// BuildInitrd writes the initramfs for img and scenario to out.
func (a *Assets) BuildInitrd(ctx context.Context, img *Image, scenario string, opt Options, out string) error {
	dir, err := os.MkdirTemp("", "vmtest-root-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s := &stager{dir: dir, libRoot: a.AppArmorRoot, done: map[string]bool{}}
	for _, d := range []string{"/proc", "/sys", "/dev", "/tmp", "/run", "/root", "/mnt", "/var/log", "/etc"} {
		if err := s.mkdir(d); err != nil {
			return err
		}
	}
	if err := s.busybox(a.Busybox); err != nil {
		return err
	}
	if err := s.apparmor(a.AppArmorRoot); err != nil {
		return err
	}
	timeout := opt.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	base := []File{
		{Path: "/init", Data: initScript, Mode: 0o755},
		{Path: "/lib/vmtest.sh", Data: libScript},
		{Path: "/scenario.sh", Data: []byte(scenario), Mode: 0o755},
		Text("/etc/vmtest.conf", fmt.Sprintf("VMTEST_TIMEOUT=%d\n", int(timeout.Seconds()))),
		Text("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
		Text("/etc/group", "root:x:0:\nnogroup:x:65534:\n"),
		{Path: "/etc/shadow", Data: []byte("root:*:19000:0:99999:7:::\n"), Mode: 0o640},
		Text("/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n"),
		Text("/etc/nsswitch.conf", "hosts: files dns\n"),
		Text("/etc/hostname", "vmtest\n"),
	}
	for _, f := range append(base, img.Files...) {
		if err := s.add(f); err != nil {
			return fmt.Errorf("vmtest: %s: %w", f.Path, err)
		}
	}
	for _, d := range img.Dirs {
		if err := s.mkdir(d); err != nil {
			return err
		}
	}
	return cpio(ctx, a.Busybox, dir, out)
}

// Run boots the VM with img, runs scenario (a busybox sh script that may use
// the functions of vmtest.sh) and returns what it printed. An error means the
// VM could not run or did not finish; the Result is returned with it when
// there is one, for diagnostics.
func (a *Assets) Run(ctx context.Context, img *Image, scenario string, opt Options) (*Result, error) {
	if img == nil {
		img = &Image{}
	}
	initrd := opt.KeepInitrd
	if initrd == "" {
		fh, err := os.CreateTemp("", "vmtest-initrd-*.cpio")
		if err != nil {
			return nil, err
		}
		fh.Close()
		initrd = fh.Name()
		defer os.Remove(initrd)
	}
	if err := a.BuildInitrd(ctx, img, scenario, opt, initrd); err != nil {
		return nil, err
	}
	return a.Boot(ctx, initrd, opt)
}

// Boot runs qemu on a prebuilt initramfs.
func (a *Assets) Boot(ctx context.Context, initrd string, opt Options) (*Result, error) {
	timeout := opt.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+60*time.Second)
	defer cancel()
	mem := opt.MemoryMB
	if mem == 0 {
		mem = 1024
	}
	// no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer
	// check can miss its ticks and panic ("IO-APIC + timer doesn't work");
	// the check proves nothing about AppArmor.
	cmdline := append([]string{"console=ttyS0", "apparmor=1", "security=apparmor", "panic=-1", "loglevel=4", "log_buf_len=8M", "no_timer_check"}, opt.Append...)
	args := []string{
		"-accel", "tcg", "-cpu", "max", "-m", strconv.Itoa(mem), "-smp", "1",
		"-nographic", "-no-reboot", "-nic", "none",
		"-kernel", a.Vmlinuz, "-initrd", initrd,
		"-append", strings.Join(cmdline, " "),
	}
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("vmtest: start qemu: %w", err)
	}
	var (
		console bytes.Buffer
		boot    time.Duration
	)
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if boot == 0 && strings.Contains(line, markInit) { // the BIOS leaves escape codes before it
			boot = time.Since(start)
		}
		console.WriteString(line)
		console.WriteByte('\n')
		if opt.Console != nil {
			fmt.Fprintln(opt.Console, line)
		}
	}
	if sc.Err() != nil { // a line over 16 MiB: keep the rest, and keep qemu from blocking on a full pipe
		io.Copy(&console, pipe)
	}
	werr := cmd.Wait()
	res := parseConsole(console.String())
	res.Boot = boot
	res.Wall = time.Since(start)
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("vmtest: %s VM killed after %v (host deadline): %w; console tail:\n%s", a.Kernel.Name, res.Wall.Round(time.Millisecond), ctx.Err(), tail(res.Console, 40))
	case werr != nil:
		return res, fmt.Errorf("vmtest: qemu: %w: %s; console tail:\n%s", werr, strings.TrimSpace(stderr.String()), tail(res.Console, 40))
	case !res.Completed:
		return res, fmt.Errorf("vmtest: %s VM stopped before the scenario finished; console tail:\n%s", a.Kernel.Name, tail(res.Console, 40))
	case res.ScenarioRC == TimedOut:
		return res, fmt.Errorf("vmtest: %s scenario killed by its time limit (Options.Timeout %v); console tail:\n%s", a.Kernel.Name, timeout, tail(res.Console, 40))
	}
	return res, nil
}

// parseConsole splits the console into steps by their marker lines. A
// marker must start a line; kernel messages printed in the middle of a step
// end up in that step's output.
func parseConsole(console string) *Result {
	res := &Result{Console: console, ScenarioRC: -1}
	var cur *Step
	var buf strings.Builder
	for _, line := range strings.SplitAfter(console, "\n") {
		trimmed := strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(trimmed, markBegin):
			cur = &Step{Name: strings.TrimPrefix(trimmed, markBegin)}
			buf.Reset()
		case strings.HasPrefix(trimmed, markEnd) && cur != nil:
			name, rc, ok := parseEnd(strings.TrimPrefix(trimmed, markEnd))
			if ok && name == cur.Name {
				cur.RC = rc
				cur.Output = buf.String()
				res.Steps = append(res.Steps, *cur)
				cur = nil
			}
		case strings.HasPrefix(trimmed, markDone):
			if rc, err := strconv.Atoi(strings.TrimPrefix(trimmed, markDone+"rc=")); err == nil {
				res.ScenarioRC = rc
				res.Completed = true
			}
		case cur != nil:
			buf.WriteString(line)
		}
	}
	return res
}

// parseEnd parses "NAME rc=N".
func parseEnd(s string) (string, int, bool) {
	i := strings.LastIndex(s, " rc=")
	if i < 0 {
		return "", 0, false
	}
	rc, err := strconv.Atoi(s[i+4:])
	if err != nil {
		return "", 0, false
	}
	return s[:i], rc, true
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ModuleRoot is the directory holding the armorer go.mod, found from the
// current directory upwards.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("vmtest: no go.mod above the current directory")
		}
		dir = parent
	}
}
