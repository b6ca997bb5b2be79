package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// runSlowly runs armorer (this test binary) with args, feeding it log
// lines on stdin for a while longer than progressDelay, with stderr on
// a pseudo-terminal when tty (else a pipe). It returns stdout and stderr.
func runSlowly(t *testing.T, tty bool, args ...string) (string, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), "ARMORER_TEST_MAIN=1", "NO_COLOR=", EnvForceTTY+"=")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	var master *os.File
	if tty {
		m, s, err := pty.Open()
		if err != nil {
			t.Skipf("no pseudo-terminal here: %v", err)
		}
		defer m.Close()
		cmd.Stderr, master = s, m
		defer s.Close()
	} else {
		cmd.Stderr = &stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ptyDone := make(chan struct{})
	if master != nil {
		go func() { io.Copy(&stderr, master); close(ptyDone) }()
	} else {
		close(ptyDone)
	}
	deadline := time.Now().Add(progressDelay + 700*time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		for j := range 100 {
			fmt.Fprintf(in, `audit: type=1400 audit(1795600175.%03d:%d): apparmor="ALLOWED" operation="open" profile="app" name="/srv/f%d" pid=1 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`+"\n", j, i*100+j, j)
		}
		time.Sleep(50 * time.Millisecond)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("armorer %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if master != nil {
		cmd.Stderr.(*os.File).Close()
		select {
		case <-ptyDone:
		case <-time.After(2 * time.Second):
		}
	}
	return stdout.String(), stderr.String()
}

// TestProgressOnTerminal: a read still running after a second shows its
// progress on a terminal's stderr, and clears the line before the result.
func TestProgressOnTerminal(t *testing.T) {
	stdout, stderr := runSlowly(t, true, "events", "--summary", "-")
	if !strings.Contains(stderr, " reading: ") || !strings.Contains(stderr, " lines, ") {
		t.Errorf("no progress on the terminal: %q", stderr)
	}
	if !strings.HasSuffix(stderr, "\r\x1b[K") {
		t.Errorf("progress line not cleared at the end: %q", stderr[max(0, len(stderr)-40):])
	}
	if strings.Contains(stdout, "\x1b") || !strings.HasPrefix(stdout, "events ") {
		t.Errorf("stdout (a pipe) got escapes or lost the summary: %q", stdout)
	}
}

// TestProgressNeverInPipesOrJSON: stderr a pipe, or --json: no progress.
func TestProgressNeverInPipesOrJSON(t *testing.T) {
	if _, stderr := runSlowly(t, false, "events", "--summary", "-"); stderr != "" {
		t.Errorf("stderr is a pipe, yet: %q", stderr)
	}
	if _, stderr := runSlowly(t, true, "events", "--summary", "--json", "-"); strings.Contains(stderr, "reading:") {
		t.Errorf("--json, yet: %q", stderr)
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
}
