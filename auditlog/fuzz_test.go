package auditlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzParse: no panic on any line; the line is not modified; an event's
// JSON is valid; a Clone renders the same JSON; memory stays bounded by the
// line (fields never outnumber its bytes); a Parser that keeps only the
// summary's keys reads the line the same way.
func FuzzParse(f *testing.F) {
	for _, in := range goldenInputs(f) {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			f.Add(l)
		}
	}
	p, full, only := NewParser(), NewParser(), NewParser()
	only.Only(summaryKeys...)
	var ev Event
	f.Fuzz(func(t *testing.T, line []byte) {
		sameWithOnly(t, full, only, line, summaryKeys)
		orig := bytes.Clone(line)
		err := p.Parse(line, &ev)
		if !bytes.Equal(line, orig) {
			t.Fatal("Parse modified its input")
		}
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error %T %v, want *SyntaxError", err, err)
			}
			return
		}
		if len(ev.Fields) > len(line) {
			t.Fatalf("%d fields from %d bytes", len(ev.Fields), len(line))
		}
		if ev.Kind != KindEvent {
			return
		}
		js := ev.AppendJSON(nil, "f", 1)
		if !json.Valid(js) {
			t.Fatalf("invalid JSON %s", js)
		}
		if c := ev.Clone(); !bytes.Equal(c.AppendJSON(nil, "f", 1), js) {
			t.Fatalf("clone renders differently")
		}
		_ = ev.Class()
		var st Stream
		st.Add(&ev)
	})
}

// FuzzReader: any byte stream, text or journal export (the seed corpus has
// both), read whole, one byte at a time or in place (NewBytesReader) with
// a small MaxLine, gives the same events, bad lines and stats, never an
// error from a bytes.Reader and never a panic; memory stays bounded by
// MaxLine.
func FuzzReader(f *testing.F) {
	for _, in := range goldenInputs(f) {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) > 4096 {
			data = data[:4096]
		}
		f.Add(data)
	}
	// Export records whose binary field is longer than MaxLine (512 here):
	// first, in the middle and last in its record, and cut off by the end.
	for _, rec := range [][]byte{
		exportRecord("a1", bigField(600), textField("MESSAGE", "x")),
		exportRecord("a2", textField("_TRANSPORT", "kernel"), bigField(4096), textField("MESSAGE", "y")),
		exportRecord("a3", textField("MESSAGE", "z"), bigField(513)),
		exportRecord("a4", bigField(1000))[:700],
	} {
		f.Add(append(rec, exportRecord("b1", textField("_TRANSPORT", "kernel"), textField("MESSAGE", kernelAVC(1)))...))
	}
	// Text lines of MaxLine bytes and more, with and without a newline.
	long := strings.Repeat("x", 700)
	f.Add([]byte("a\n" + long + "\n" + kernelAVC(1) + "\n" + long + long))
	f.Add([]byte(strings.Repeat("y", 511) + "\n" + strings.Repeat("z", 512) + "\n" + kernelAVC(2) + "\n" + strings.Repeat("z", 512)))
	f.Add([]byte(kernelAVC(3) + "\n" + strings.Repeat("w", 511)))
	read := func(t *testing.T, r io.Reader) (string, Stats) {
		return readAll(t, NewReader(r, ReaderOptions{MaxLine: 512}))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, st1 := read(t, bytes.NewReader(data))
		bytewise, st2 := read(t, iotest.OneByteReader(bytes.NewReader(data)))
		if whole != bytewise || st1 != st2 {
			t.Fatalf("reading in one piece and byte by byte differ:\n%s%+v\n---\n%s%+v", whole, st1, bytewise, st2)
		}
		rd := NewBytesReader(data, ReaderOptions{MaxLine: 512})
		inPlace, st3 := readAll(t, rd)
		if whole != inPlace || st1 != st3 {
			t.Fatalf("reading through a buffer and in place differ:\n%s%+v\n---\n%s%+v", whole, st1, inPlace, st3)
		}
		if rd.Offset() != int64(len(data)) {
			t.Fatalf("in place: Offset %d at the end of %d bytes", rd.Offset(), len(data))
		}
	})
}

// readAll renders what rd reads: each event's JSON and each bad line.
func readAll(t *testing.T, rd *Reader) (string, Stats) {
	var out bytes.Buffer
	rd.opts.OnBad = func(e *SyntaxError) { fmt.Fprintf(&out, "bad %v\n", e) }
	for rd.Next() {
		out.Write(rd.Event().AppendJSON(nil, "f", rd.Line()))
		out.WriteByte('\n')
	}
	if err := rd.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
	return out.String(), rd.Stats()
}
