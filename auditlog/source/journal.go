package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// journalMatches select the entries that can carry AppArmor events: kernel
// messages (printk, when no audit daemon takes the records) and
// audit-transport messages (journald's own audit socket). Two matches on
// the same field are ORed by journalctl.
var journalMatches = []string{"_TRANSPORT=kernel", "_TRANSPORT=audit"}

// journalDirs are where journald keeps the system journal: volatile, then
// persistent, each with one directory per machine ID.
var journalDirs = []string{"/run/log/journal", "/var/log/journal"}

// journalFilesExist reports whether any journal file can be read under dirs.
func journalFilesExist(dirs []string) bool {
	for _, dir := range dirs {
		for _, pattern := range []string{"*/*.journal", "*/*.journal~", "*.journal"} {
			matches, _ := filepath.Glob(filepath.Join(dir, pattern))
			for _, m := range matches {
				if f, err := os.Open(m); err == nil {
					f.Close()
					return true
				}
			}
		}
	}
	return false
}

// journalSource runs journalctl -o json and delivers its lines.
type journalSource struct {
	once
	counters
	name string
	opts SourceOptions
	bin  string
	args []string
}

func openJournal(name, path string, opts SourceOptions) (Source, error) {
	bin, err := exec.LookPath("journalctl")
	if err != nil {
		return nil, &UnavailableError{Source: name, What: "find journalctl", Err: err,
			Hint: "the journal source runs journalctl (Debian package systemd): install it, or read a file written by journalctl -o json elsewhere"}
	}
	args := []string{"--output=json", "--no-pager"}
	if path == "" && !journalFilesExist(journalDirs) {
		// journalctl itself prints nothing and succeeds, or waits forever
		// with --follow.
		return nil, &UnavailableError{Source: name, What: "read the system journal",
			Err:  fmt.Errorf("no journal files readable in %s", strings.Join(journalDirs, " or ")),
			Hint: "is systemd-journald running? Reading other users' and system entries needs root or the systemd-journal or adm group"}
	}
	if path != "" {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fileUnavailable(name, path, err)
		}
		if fi.IsDir() {
			args = append(args, "--directory="+path)
		} else {
			args = append(args, "--file="+path)
		}
	}
	switch {
	case opts.Resume != nil && opts.Resume.Cursor != "":
		args = append(args, "--after-cursor="+opts.Resume.Cursor)
	case opts.FromEnd:
		args = append(args, "--lines=0")
	case opts.Follow:
		args = append(args, "--no-tail") // -f alone starts at the last 10 entries
	}
	if opts.Follow {
		args = append(args, "--follow")
	}
	args = append(args, journalMatches...)
	return &journalSource{name: name, opts: opts, bin: bin, args: args}, nil
}

func (s *journalSource) Name() string       { return s.name }
func (s *journalSource) Stats() SourceStats { return s.counters.Stats() }
func (s *journalSource) Close() error       { s.once.close(); return nil }

// Args returns journalctl's arguments, for tests and logs.
func (s *journalSource) Args() []string { return s.args }

func (s *journalSource) Run(ctx context.Context, out chan<- Record) error {
	if err := s.start(); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, s.bin, s.args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 2 * time.Second
	stderr := &tailBuffer{max: 4 << 10}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("run journalctl: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return &UnavailableError{Source: s.name, What: "run journalctl", Err: err}
	}
	s.opts.Logger.Debug("started journalctl", "args", s.args)

	snd := newSender(&s.counters, out, s.name, s.opts.WhenFull, false)
	var lr lineReader
	lr.init(s.opts.MaxRecord)
	readErr := func() error {
		for {
			for {
				line, pos, cut, ok := lr.next(false)
				if !ok {
					break
				}
				if cut {
					// A cut JSON line is unusable; count it and go on.
					s.errors.Add(1)
					continue
				}
				pos.Cursor = journalCursor(line)
				if err := snd.send(ctx, line, pos); err != nil {
					return err
				}
			}
			if err := lr.fill(stdout); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}()
	if readErr != nil {
		// Stop journalctl (the context may still be live when the read
		// failed) and drain its output so that Wait returns.
		cmd.Process.Signal(os.Interrupt)
		io.Copy(io.Discard, stdout)
	}
	waitErr := cmd.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if readErr != nil {
		return fmt.Errorf("read journalctl output: %w", readErr)
	}
	if waitErr != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "no message"
		}
		ue := &UnavailableError{Source: s.name, What: "journalctl " + strings.Join(s.args, " "), Err: fmt.Errorf("%w: %s", waitErr, msg)}
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) && strings.Contains(msg, "ermission") {
			ue.Hint = "run as root or as a member of the systemd-journal or adm group"
		}
		return ue
	}
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		s.opts.Logger.Warn("journalctl", "stderr", msg)
	}
	return nil
}

var cursorKey = []byte(`"__CURSOR":"`)

// journalCursor extracts __CURSOR from one journalctl JSON line. Cursors
// are ASCII without quotes or backslashes, so no unescaping is needed.
func journalCursor(line []byte) string {
	i := bytes.Index(line, cursorKey)
	if i < 0 {
		return ""
	}
	rest := line[i+len(cursorKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return ""
	}
	return string(rest[:j])
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
