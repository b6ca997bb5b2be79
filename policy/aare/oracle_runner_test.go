package aare

// A small private runner for apparmor_parser used as the exact oracle (the
// shared one lives in internal/oracle on another branch; the two are to be
// merged). Every call is -QK: nothing touches a kernel.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const hostParser = "/usr/sbin/apparmor_parser"

type oracle struct {
	bin, conf, dir string
	mu             sync.Mutex
	seq            int
}

// newOracle finds apparmor_parser; without it the test is skipped, unless CI
// is set, where a missing parser is a failure.
func newOracle(t testing.TB) *oracle {
	t.Helper()
	bin := hostParser
	if _, err := os.Stat(bin); err != nil {
		if b, err := exec.LookPath("apparmor_parser"); err == nil {
			bin = b
		} else {
			if os.Getenv("CI") != "" {
				t.Fatalf("apparmor_parser not found (CI is set, so the compiler oracle must run): %v", err)
			}
			t.Skipf("apparmor_parser not found: %v", err)
		}
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "parser.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return &oracle{bin: bin, conf: conf, dir: dir}
}

// outcome is the compiled policy's hash, or the parser's complaint.
type outcome struct {
	sum  [32]byte
	err  string
	hung bool // the parser did not finish in time (it loops on some patterns)
}

func (o outcome) String() string {
	if o.err != "" {
		return "error: " + o.err
	}
	return fmt.Sprintf("%x", o.sum[:6])
}

// profileText renders a profile named t holding the given rule lines.
func profileText(rules []string) []byte {
	var b bytes.Buffer
	for _, r := range rules { // variable definitions go first, outside
		if strings.HasPrefix(r, "@{") {
			b.WriteString(r)
			b.WriteString("\n")
		}
	}
	b.WriteString("profile t {\n")
	for _, r := range rules {
		if strings.HasPrefix(r, "@{") {
			continue
		}
		b.WriteString("  ")
		b.WriteString(r)
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// blobStart begins every binary profile apparmor_parser -S writes.
var blobStart = []byte("\x04\x08\x00version\x00")

// compileAll compiles each profile (a list of rule lines) on its own and
// returns the outcomes, in batches of files per parser run, two runs at a time.
func (o *oracle) compileAll(ctx context.Context, t testing.TB, profiles [][]string) []outcome {
	t.Helper()
	out := make([]outcome, len(profiles))
	const batch = 200
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	for lo := 0; lo < len(profiles); lo += batch {
		hi := min(lo+batch, len(profiles))
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := o.compileBatch(ctx, profiles[lo:hi], out[lo:hi]); err != nil {
				errMu.Lock()
				firstErr = err
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return out
}

func (o *oracle) compileBatch(ctx context.Context, profiles [][]string, out []outcome) error {
	o.mu.Lock()
	o.seq++
	dir := filepath.Join(o.dir, fmt.Sprint(o.seq))
	o.mu.Unlock()
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files := make([]string, len(profiles))
	for i, p := range profiles {
		files[i] = filepath.Join(dir, fmt.Sprintf("p%04d", i))
		if err := os.WriteFile(files[i], profileText(p), 0o644); err != nil {
			return err
		}
	}
	stdout, _, err := o.run(ctx, 60*time.Second, files...)
	if err == nil {
		if blobs := splitBlobs(stdout); len(blobs) == len(files) {
			for i, b := range blobs {
				out[i] = outcome{sum: sha256.Sum256(b)}
			}
			return nil
		}
	}
	// Some profile was refused: compile them one by one to see which.
	for i, f := range files {
		stdout, stderr, err := o.run(ctx, 5*time.Second, f)
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			out[i] = outcome{err: "timeout", hung: true}
		case err != nil && len(stdout) == 0:
			out[i] = outcome{err: strings.TrimSpace(strings.ReplaceAll(stderr, f, "PROFILE"))}
		case err != nil:
			return fmt.Errorf("apparmor_parser %s: %v with output: %s", f, err, stderr)
		default:
			out[i] = outcome{sum: sha256.Sum256(stdout)}
		}
	}
	return nil
}

func (o *oracle) run(ctx context.Context, timeout time.Duration, files ...string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// --jobs=1 keeps the binary profiles on stdout in the order of the files.
	args := append([]string{"--config-file", o.conf, "-I", "/etc/apparmor.d", "--base", "/etc/apparmor.d", "--jobs=1", "-QK", "-S"}, files...)
	cmd := exec.CommandContext(ctx, o.bin, args...)
	// apparmor_parser forks workers; on a timeout kill the whole process
	// group, or a looping worker would outlive the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var kept []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if l != "" && !strings.Contains(l, "Cache read/write disabled: interface file missing") {
			kept = append(kept, l)
		}
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return stdout.Bytes(), strings.Join(kept, "\n"), err
}

func splitBlobs(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		if !bytes.HasPrefix(b, blobStart) {
			return nil
		}
		next := bytes.Index(b[len(blobStart):], blobStart)
		if next < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:len(blobStart)+next])
		b = b[len(blobStart)+next:]
	}
	return out
}

// quoteRule renders a file rule with its path quoted. Patterns handed to it
// never contain '"' or end in '\'.
func quoteRule(r Rule) string {
	s := r.String()
	i := strings.Index(s, r.Pattern)
	return s[:i] + `"` + r.Pattern + `"` + s[i+len(r.Pattern):]
}
