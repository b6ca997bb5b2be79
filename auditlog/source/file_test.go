package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// got is what the file tests compare: data and position of each record.
type got struct {
	Data   string
	Line   int64
	Offset int64
}

func gots(recs []Record) []got {
	var g []got
	for _, r := range recs {
		if r.Pos.Offset != 0 && r.Pos.Inode == 0 {
			panic("file record without inode")
		}
		g = append(g, got{string(r.Data), r.Pos.Line, r.Pos.Offset})
	}
	return g
}

func TestFileRead(t *testing.T) {
	tests := []struct {
		name  string
		input string
		max   int
		want  []got
		errs  uint64
	}{
		{"empty", "", 0, nil, 0},
		{"one line", "a\n", 0, []got{{"a", 1, 2}}, 0},
		{"no final newline", "a\nbc", 0, []got{{"a", 1, 2}, {"bc", 2, 4}}, 0},
		{"empty lines kept", "\n\nx\n", 0, []got{{"", 1, 1}, {"", 2, 2}, {"x", 3, 4}}, 0},
		{"carriage return kept", "a\r\n", 0, []got{{"a\r", 1, 3}}, 0},
		{"long line cut", "0123456789\nab\n", 4, []got{{"0123", 1, 4}, {"ab", 2, 14}}, 1},
		{"long last line cut", "ab\n0123456789", 4, []got{{"ab", 1, 3}, {"0123", 2, 7}}, 1},
		{"line of exactly max", "0123\n", 4, []got{{"0123", 1, 5}}, 0},
		{"line of max+1", "01234\n", 4, []got{{"0123", 1, 4}}, 1},
		{"line of max-1", "012\n", 4, []got{{"012", 1, 4}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			writeFile(t, path, tt.input)
			src, err := OpenSource(path, SourceOptions{MaxRecord: tt.max})
			if err != nil {
				t.Fatal(err)
			}
			recs := runAll(t, src)
			if diff := cmp.Diff(tt.want, gots(recs)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			st := src.Stats()
			if st.Delivered != uint64(len(tt.want)) || st.Errors != tt.errs {
				t.Errorf("stats %+v, want %d delivered, %d errors", st, len(tt.want), tt.errs)
			}
			for _, r := range recs {
				if r.Source != path {
					t.Errorf("Source = %q, want %q", r.Source, path)
				}
			}
		})
	}
}

// A big file in small reads: every line arrives once, in order, intact,
// and records stay valid after later reads (they are copies).
func TestFileManyLines(t *testing.T) {
	var b strings.Builder
	const n = 100000
	for i := range n {
		fmt.Fprintf(&b, "line %d %s\n", i, strings.Repeat("x", i%300))
	}
	in := b.String()
	src, err := OpenSource("-", SourceOptions{Stdin: iotest.HalfReader(strings.NewReader(in))})
	if err != nil {
		t.Fatal(err)
	}
	recs := runAll(t, src)
	if len(recs) != n {
		t.Fatalf("got %d records, want %d", len(recs), n)
	}
	var joined bytes.Buffer
	for i, r := range recs {
		if r.Pos.Line != int64(i+1) {
			t.Fatalf("record %d has line %d", i, r.Pos.Line)
		}
		joined.Write(r.Data)
		joined.WriteByte('\n')
	}
	if joined.String() != in {
		t.Error("records joined with newlines differ from the input")
	}
}

func TestFileResume(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	writeFile(t, path, "a\nb\nc\n")
	src, err := OpenSource(path, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recs := runAll(t, src)
	resume := recs[1].Pos // after "b"

	tests := []struct {
		name      string
		content   string // the file when resuming
		want      []got
		rotations uint64
	}{
		{"same file", "a\nb\nc\n", []got{{"c", 3, 6}}, 0},
		{"grown", "a\nb\nc\nd\n", []got{{"c", 3, 6}, {"d", 4, 8}}, 0},
		{"shorter: start over", "x\n", []got{{"x", 1, 2}}, 1},
		{"replaced by a longer file: start over", "n1\nn2\nn3\n", []got{{"n1", 1, 3}, {"n2", 2, 6}, {"n3", 3, 9}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.HasPrefix(tt.name, "replaced") {
				// A new file (new inode) renamed over the path.
				writeFile(t, path+".new", tt.content)
				if err := os.Rename(path+".new", path); err != nil {
					t.Fatal(err)
				}
			}
			writeFile(t, path, tt.content)
			src, err := OpenSource(path, SourceOptions{Resume: &resume})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, gots(runAll(t, src))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got := src.Stats().Rotations; got != tt.rotations {
				t.Errorf("rotations = %d, want %d", got, tt.rotations)
			}
		})
	}
}

func TestFileFromEnd(t *testing.T) {
	tests := []struct {
		name, before string
		want         []got
	}{
		{"complete lines skipped", "a\nb\n", []got{{"c", 3, 6}}},
		{"unfinished line kept", "a\nb", []got{{"bc", 2, 5}}},
		{"empty file", "", []got{{"c", 1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			writeFile(t, path, tt.before)
			src, err := OpenSource(path, SourceOptions{FromEnd: true, Follow: true})
			if err != nil {
				t.Fatal(err)
			}
			r := start(t, src, 16)
			appendFile(t, path, "c\n")
			if diff := cmp.Diff(tt.want, gots([]Record{r.next()})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Follow a file through appends, a rename rotation (with writes to the old
// file after the rename), a copytruncate, and a truncation followed by a
// rewrite past the old offset — with fsnotify and with polling only.
func TestFileFollowRotation(t *testing.T) {
	for _, mode := range []struct {
		name    string
		noWatch bool
	}{{"fsnotify", false}, {"poll", true}} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "audit.log")
			writeFile(t, path, "a1\na2\n")
			src, err := OpenSource(path, SourceOptions{Follow: true, noWatch: mode.noWatch})
			if err != nil {
				t.Fatal(err)
			}
			r := start(t, src, 64)
			expect := func(want ...got) {
				t.Helper()
				var recs []Record
				for range want {
					recs = append(recs, r.next())
				}
				if diff := cmp.Diff(want, gots(recs)); diff != "" {
					t.Fatalf("(-want +got):\n%s", diff)
				}
			}
			expect(got{"a1", 1, 3}, got{"a2", 2, 6})

			appendFile(t, path, "a3\npart")
			expect(got{"a3", 3, 9})
			appendFile(t, path, "ial\n")
			expect(got{"partial", 4, 17})

			// Rotation by rename: the writer keeps writing to the old
			// file until it reopens; that data comes first.
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path+".1", "a5\nunfinished")
			writeFile(t, path, "b1\n")
			expect(got{"a5", 5, 20}, got{"unfinished", 6, 30}, got{"b1", 1, 3})
			eventually(t, "rotation counted", func() bool { return src.Stats().Rotations == 1 })

			appendFile(t, path, "b2\n")
			expect(got{"b2", 2, 6})

			// copytruncate: cut to zero, then the writer goes on.
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path, "c1\n")
			expect(got{"c1", 1, 3})

			// Truncated and rewritten past the old offset before we look:
			// the size alone does not show it, the content does.
			if err := os.WriteFile(path, []byte("d1-longer\nd2\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			expect(got{"d1-longer", 1, 10}, got{"d2", 2, 13})

			if err := r.stop(); !errors.Is(err, context.Canceled) {
				t.Errorf("Run after cancel = %v, want context.Canceled", err)
			}
			st := src.Stats()
			if st.Rotations != 3 || st.Delivered != 11 || st.Dropped != 0 {
				t.Errorf("stats %+v, want 3 rotations, 11 delivered", st)
			}
		})
	}
}

// A file renamed away with no successor is still followed.
func TestFileFollowDeleted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	writeFile(t, path, "a\n")
	src, err := OpenSource(path, SourceOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, src, 16)
	r.next()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	f.WriteString("b\n")
	if rec := r.next(); string(rec.Data) != "b" {
		t.Errorf("got %q, want b", rec.Data)
	}
}

// With FullDrop and nobody reading, a file source fills the channel, then
// drops and counts, and never blocks.
func TestFileDropWhenFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	writeFile(t, path, strings.Repeat("x\n", 100))
	src, err := OpenSource(path, SourceOptions{WhenFull: FullDrop})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Record, 4)
	if err := src.Run(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	if st := src.Stats(); st.Delivered != 4 || st.Dropped != 96 {
		t.Errorf("stats %+v, want 4 delivered and 96 dropped", st)
	}
	if len(out) != 4 {
		t.Errorf("channel holds %d records, want 4", len(out))
	}
}

// By default a file source waits for room: a slow reader loses nothing,
// and cancelling unblocks the wait.
func TestFileWaitWhenFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	writeFile(t, path, strings.Repeat("x\n", 10))
	src, err := OpenSource(path, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, src, 1)
	for range 10 {
		r.next()
	}
	// The counter moves just after the send completes.
	eventually(t, "10 delivered", func() bool { return src.Stats().Delivered == 10 })
	if st := src.Stats(); st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}

	src, err = OpenSource(path, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r = start(t, src, 1)
	eventually(t, "channel full", func() bool { return len(r.out) == 1 })
	if err := r.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	noperm := filepath.Join(dir, "noperm")
	writeFile(t, noperm, "x\n")
	os.Chmod(noperm, 0)
	tests := []struct {
		spec string
		is   error
		msg  string
	}{
		{filepath.Join(dir, "missing"), fs.ErrNotExist, "check the path"},
		{dir, nil, "is a directory"},
		{"auditd:" + filepath.Join(dir, "missing"), fs.ErrNotExist, "is auditd installed"},
	}
	if os.Geteuid() != 0 {
		tests = append(tests, struct {
			spec string
			is   error
			msg  string
		}{noperm, fs.ErrPermission, "run as root"})
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := OpenSource(tt.spec, SourceOptions{})
			var ue *UnavailableError
			if !errors.As(err, &ue) {
				t.Fatalf("Open = %v, want *UnavailableError", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	src, err := OpenSource("-", SourceOptions{Stdin: strings.NewReader("a\n")})
	if err != nil {
		t.Fatal(err)
	}
	runAll(t, src)
	if err := src.Run(context.Background(), make(chan Record, 1)); err == nil {
		t.Error("second Run succeeded")
	}
}

func TestLineReaderTail(t *testing.T) {
	var lr lineReader
	lr.init(1 << 10)
	in := strings.Repeat("0123456789", 20)
	for i := 0; i < len(in); i += 7 {
		lr.keepTail([]byte(in[i:min(i+7, len(in))]))
	}
	if want := in[len(in)-tailLen:]; string(lr.tail) != want {
		t.Errorf("tail = %q, want %q", lr.tail, want)
	}
}

// Cancelling unblocks a pending read of stdin when it is a pipe.
func TestStdinCancel(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	src, err := OpenSource("-", SourceOptions{Stdin: pr})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, src, 16)
	pw.WriteString("a\n")
	if rec := r.next(); string(rec.Data) != "a" || rec.Pos.Line != 1 || rec.Pos.Offset != 0 {
		t.Errorf("got %q at %+v", rec.Data, rec.Pos)
	}
	if err := r.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}
}

// auditd:PATH is a followed file like any other, named by its spec.
func TestAuditdSpec(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeFile(t, path, "type=AVC msg=audit(1.2:3): x\n")
	src, err := OpenSource("auditd:"+path, SourceOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, src, 16)
	appendFile(t, path, "type=AVC msg=audit(1.2:4): y\n")
	for _, want := range []string{"type=AVC msg=audit(1.2:3): x", "type=AVC msg=audit(1.2:4): y"} {
		if rec := r.next(); string(rec.Data) != want || rec.Source != "auditd:"+path {
			t.Errorf("got %q from %q, want %q", rec.Data, rec.Source, want)
		}
	}
}

// Rotation by the real logrotate, in its two common modes: create (rename
// the file, create a new one) and copytruncate (copy, then truncate in
// place). Debian package logrotate.
func TestFileFollowLogrotate(t *testing.T) {
	logrotate, err := exec.LookPath("logrotate")
	if err != nil {
		needReal(t, "logrotate not found (Debian package logrotate): %v", err)
	}
	for _, mode := range []string{"create", "copytruncate"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "audit.log")
			conf := filepath.Join(dir, "logrotate.conf")
			writeFile(t, conf, path+" {\n\trotate 3\n\t"+mode+"\n}\n")
			rotate := func() {
				t.Helper()
				out, err := exec.Command(logrotate, "-f", "-s", filepath.Join(dir, "state"), conf).CombinedOutput()
				if err != nil {
					t.Fatalf("logrotate: %v\n%s", err, out)
				}
			}
			writeFile(t, path, "a1\na2\n")
			src, err := OpenSource(path, SourceOptions{Follow: true})
			if err != nil {
				t.Fatal(err)
			}
			r := start(t, src, 64)
			expect := func(want ...string) {
				t.Helper()
				for _, w := range want {
					if rec := r.next(); string(rec.Data) != w {
						t.Fatalf("got %q, want %q", rec.Data, w)
					}
				}
			}
			expect("a1", "a2")
			if mode == "create" {
				// Written just before the rename: read from the old
				// file before the new one, whenever the source wakes.
				appendFile(t, path, "a3\n")
			}
			rotate()
			if _, err := os.Stat(path + ".1"); err != nil {
				t.Fatalf("logrotate did not rotate: %v", err)
			}
			appendFile(t, path, "b1\n")
			if mode == "create" {
				expect("a3")
			}
			expect("b1")
			appendFile(t, path, "b2 longer than anything before\n")
			expect("b2 longer than anything before")
			eventually(t, "rotation counted", func() bool { return src.Stats().Rotations == 1 })
			rotate()
			appendFile(t, path, "c1 longer than anything before, longer still\n")
			expect("c1 longer than anything before, longer still")
			if st := src.Stats(); st.Rotations != 2 || st.Dropped != 0 {
				t.Errorf("stats %+v, want 2 rotations", st)
			}
		})
	}
}

// Every line exactly once, in order, while a writer appends as fast as it
// can and rotates by rename every few thousand lines, as auditd does
// (rename, create the new file, write there). The writer waits for each
// rotation to be noticed before the next: a file rotated twice before the
// reader looks is skipped (see the package documentation).
func TestFileFollowStress(t *testing.T) {
	for _, mode := range []struct {
		name    string
		noWatch bool
	}{{"fsnotify", false}, {"poll", true}} {
		t.Run(mode.name, func(t *testing.T) {
			const lines, every = 20000, 3000
			dir := t.TempDir()
			path := filepath.Join(dir, "audit.log")
			writeFile(t, path, "")
			src, err := OpenSource(path, SourceOptions{Follow: true, noWatch: mode.noWatch})
			if err != nil {
				t.Fatal(err)
			}
			r := start(t, src, 256)
			writerErr := make(chan error, 1)
			go func() {
				writerErr <- func() error {
					f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
					if err != nil {
						return err
					}
					rotations := uint64(0)
					for i := range lines {
						if i > 0 && i%every == 0 {
							if err := os.Rename(path, fmt.Sprintf("%s.%d", path, i)); err != nil {
								return err
							}
							f.Close()
							if f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
								return err
							}
							rotations++
							for src.Stats().Rotations < rotations {
								time.Sleep(time.Millisecond)
							}
						}
						// A partial write now and then: the reader must
						// not deliver half a line.
						line := fmt.Sprintf("line %d %s\n", i, strings.Repeat("x", i%97))
						if i%7 == 0 {
							if _, err := f.WriteString(line[:len(line)/2]); err != nil {
								return err
							}
							line = line[len(line)/2:]
						}
						if _, err := f.WriteString(line); err != nil {
							return err
						}
					}
					return f.Close()
				}()
			}()
			for i := range lines {
				want := fmt.Sprintf("line %d %s", i, strings.Repeat("x", i%97))
				if rec := r.next(); string(rec.Data) != want {
					t.Fatalf("record %d = %q, want %q", i, rec.Data, want)
				}
			}
			if err := <-writerErr; err != nil {
				t.Fatal(err)
			}
			if st := src.Stats(); st.Rotations != lines/every || st.Errors != 0 {
				t.Errorf("stats %+v, want %d rotations", st, lines/every)
			}
		})
	}
}

// TestFileRewriteBetweenCheckAndRead: the file is truncated and rewritten
// past the old offset after checkRotation looked and before the next read
// (the race the poll loop cannot close). The read must not deliver the new
// content as if it continued the old: it is undone, and the next check
// starts over from the beginning.
func TestFileRewriteBetweenCheckAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeFile(t, path, "c1\n")
	src, err := OpenSource(path, SourceOptions{Follow: true, noWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	s := src.(*fileSource)
	defer s.f.Close()
	out := make(chan Record, 16)
	snd := newSender(&s.counters, out, s.name, FullWait, false)
	ctx := context.Background()
	recv := func() []got {
		var recs []Record
		for len(out) > 0 {
			recs = append(recs, <-out)
		}
		return gots(recs)
	}
	if err := s.drain(ctx, snd, false); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]got{{"c1", 1, 3}}, recv()); diff != "" {
		t.Fatalf("first read (-want +got):\n%s", diff)
	}
	// checkRotation ran here and found nothing; now the rewrite.
	if err := os.WriteFile(path, []byte("d1-longer\nd2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.drain(ctx, snd, false); err != nil {
		t.Fatal(err)
	}
	if g := recv(); len(g) != 0 {
		t.Fatalf("read the rewritten file from the old offset: %v", g)
	}
	switched, err := s.checkRotation(ctx, snd)
	if err != nil || !switched {
		t.Fatalf("checkRotation = %v, %v; want the rewrite seen", switched, err)
	}
	if err := s.drain(ctx, snd, false); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]got{{"d1-longer", 1, 10}, {"d2", 2, 13}}, recv()); diff != "" {
		t.Errorf("after the rewrite (-want +got):\n%s", diff)
	}
}
