// Package parserrun starts apparmor_parser: the one way both the host's
// parser wrapper (host.Parser) and the test oracle (internal/oracle) run it.
// It never uses a shell, runs the parser in its own process group and, when
// the context ends, kills the whole group: the parser forks workers, and on
// some patterns (3.0.8 on "/{,{,a,},}") a worker loops forever and would
// outlive its caller. The message every call prints without a kernel cache
// interface is dropped from stderr (package parsernoise).
package parserrun

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/armorer-dev/armorer/internal/parsernoise"
)

// Run runs argv[0] with argv[1:] and returns its stdout and its filtered
// stderr. err is nil on exit status 0; otherwise it is the *exec.ExitError
// or the start failure (see Exited).
func Run(ctx context.Context, argv []string) (stdout []byte, stderr string, err error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var out, eb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &eb
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	err = cmd.Run()
	return out.Bytes(), parsernoise.Filter(eb.String()), err
}

// Exited reports whether err is a normal non-zero exit: the parser's
// verdict, not a failure to run it or a kill (by a signal or the context).
func Exited(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.Exited()
}
