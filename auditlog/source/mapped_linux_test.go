package source

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// bigLog writes n AppArmor events to a file and returns its path.
func bigLog(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		b.WriteString(avc(i+1, "/srv/data/"+strings.Repeat("x", i%50)))
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "kern.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A file read whole is mapped; when it is truncated while it is read, the
// pages past its new end fault: the pipeline stops with an error that says
// so, after the events before the cut, instead of crashing (SIGBUS).
func TestPipelineMappedFileTruncated(t *testing.T) {
	path := bigLog(t, 20000) // about 4 MB
	p, err := Open(context.Background(), []string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.files) != 1 || p.files[0].data == nil {
		t.Fatal("the file was not mapped")
	}
	if err := os.Truncate(path, 1<<20); err != nil { // after Open mapped it
		t.Fatal(err)
	}
	n := 0
	for range p.Events() {
		n++
	}
	err = p.Err()
	if err == nil || !strings.Contains(err.Error(), "truncated while it was read") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Err = %v, want the file truncated while it was read", err)
	}
	if n < 4000 || n >= 20000 {
		t.Errorf("%d events before the cut at 1 MiB, want those of its first MiB", n)
	}
}

// A mapped file of several times dropEvery, read whole: every event, in
// order, while what was read is dropped from memory.
func TestPipelineMappedFileWindows(t *testing.T) {
	const n = 100000 // about 22 MB
	path := bigLog(t, n)
	if fi, err := os.Stat(path); err != nil || fi.Size() < 2*dropEvery {
		t.Fatalf("%v, size %d: want more than 2*dropEvery", err, fi.Size())
	}
	p, err := Open(context.Background(), []string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, p)
	if len(got) != n {
		t.Fatalf("%d events, want %d", len(got), n)
	}
	for i, ev := range got {
		if ev.line != int64(i+1) || ev.name != "/srv/data/"+strings.Repeat("x", i%50) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
}

// What cannot be mapped is read: a named pipe, and /proc's files, which
// say they have 0 bytes.
func TestPipelineUnmappableFilesAreRead(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		w.WriteString(avc(1, "/a") + "\n" + avc(2, "/b") + "\n")
	}()
	p, err := Open(context.Background(), []string{fifo}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, p); len(got) != 2 || got[1].name != "/b" {
		t.Errorf("from a named pipe: %+v", got)
	}

	p, err = Open(context.Background(), []string{"/proc/self/mountinfo"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	collect(t, p)
	if st := p.Stats(); st.Lines == 0 {
		t.Errorf("/proc/self/mountinfo: %d lines read, want its lines", st.Lines)
	}
}
