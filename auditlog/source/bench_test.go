package source

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// auditLines returns n auditd-format lines, about 250 bytes each.
func auditLines(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `type=AVC msg=audit(1764054000.%03d:%d): apparmor="DENIED" operation="open" profile="/usr/bin/app" name="/var/lib/app/file%d" pid=%d comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`+"\n",
			i%1000, i, i, 1000+i%5000)
	}
	return b.Bytes()
}

// Reading a file through the source and the channel, as `armorer events
// --follow FILE` does before it reaches the end.
func BenchmarkFileSource(b *testing.B) {
	data := auditLines(100000)
	path := filepath.Join(b.TempDir(), "audit.log")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		src, err := OpenSource(path, SourceOptions{})
		if err != nil {
			b.Fatal(err)
		}
		out := make(chan Record, 1024)
		done := make(chan int)
		go func() {
			n := 0
			for range out {
				n++
			}
			done <- n
		}()
		if err := src.Run(context.Background(), out); err != nil {
			b.Fatal(err)
		}
		close(out)
		if n := <-done; n != 100000 {
			b.Fatalf("%d records", n)
		}
	}
	b.ReportMetric(float64(b.N*100000)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkParseKmsg(b *testing.B) {
	rec := []byte(`5,658,1145759864,-;audit: type=1400 audit(1795600461.481:69): apparmor="DENIED" operation="open" profile="p" name="/etc/shadow" pid=1 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=0` + "\n")
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseKmsg(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// The per-record path allocates nothing: lines are split in place and
// copied into shared slabs, and kmsg headers parse without allocating.
func TestZeroAllocs(t *testing.T) {
	line := []byte(strings.Repeat("x", 200))
	var c counters
	out := make(chan Record, 1)
	s := newSender(&c, out, "x", FullWait, false)
	if n := testing.AllocsPerRun(10000, func() {
		s.send(context.Background(), line, Position{Line: 1})
		<-out
	}); n != 0 {
		t.Errorf("send: %v allocations per record", n)
	}

	data := bytes.Repeat(append(line, '\n'), 1000)
	var lr lineReader
	lr.init(1 << 20)
	r := bytes.NewReader(data)
	if n := testing.AllocsPerRun(100, func() {
		r.Reset(data)
		lr.reset()
		for lr.fill(r) == nil {
			for {
				if _, _, _, ok := lr.next(true); !ok {
					break
				}
			}
		}
	}); n != 0 {
		t.Errorf("lineReader: %v allocations per pass", n)
	}

	rec := []byte("6,1234,5678901,-;audit: x\n")
	if n := testing.AllocsPerRun(1000, func() { parseKmsg(rec) }); n != 0 {
		t.Errorf("parseKmsg: %v allocations", n)
	}
}

// The pipeline over a file read whole, as armorer events FILE and learn
// FILE do: compare with auditlog's BenchmarkReader (the same 100k lines
// here, from a file).
func BenchmarkPipelineFile(b *testing.B) { benchPipeline(b, false) }

// The pipeline over a followed file: the raw source, the channel, and the
// parse in the iterating goroutine (events --follow, monitor).
func BenchmarkPipelineFollow(b *testing.B) { benchPipeline(b, true) }

func benchPipeline(b *testing.B, follow bool) {
	const lines = 100000
	data := auditLines(lines)
	path := filepath.Join(b.TempDir(), "audit.log")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		var p *Pipeline
		opts := Options{Follow: follow}
		if follow {
			opts.OnIdle = func() {
				if p.Stats().Lines == lines {
					cancel()
				}
			}
		}
		p, err := Open(ctx, []string{path}, opts)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for range p.Events() {
			n++
		}
		cancel()
		if n != lines {
			b.Fatalf("%d events", n)
		}
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
}
