package auditlog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReaderScansAsScanner: a Reader's own buffering (scan) gives the
// tokens and the error that bufio.Scanner gives with the same split and
// buffer bound, on text and export streams, over-long lines and records,
// read errors, empty reads and reads of any size.
func TestReaderScansAsScanner(t *testing.T) {
	long := strings.Repeat("x", 700)
	inputs := map[string][]byte{
		"lines":            []byte("a\nbb\n\nccc"),
		"crlf":             []byte(kernelAVC(1) + "\r\n" + kernelAVC(2) + "\r\n"),
		"long":             []byte("a\n" + long + "\nb\n" + long + long),
		"exact":            []byte(strings.Repeat("y", 511) + "\n" + strings.Repeat("z", 512) + "\nq"),
		"export":           append(exportRecord("a1", textField("MESSAGE", "x")), exportRecord("a2", bigField(600), textField("MESSAGE", "y"))...),
		"export too long":  exportRecord("a3", textField("MESSAGE", long)),
		"export truncated": exportRecord("a4", bigField(1000))[:700],
		"empty":            nil,
	}
	for _, in := range goldenInputs(t) {
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		inputs[in] = data
	}
	errBoom := errors.New("boom")
	readers := map[string]func([]byte) io.Reader{
		"whole":   func(b []byte) io.Reader { return bytes.NewReader(b) },
		"bytes":   func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"halves":  func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"eof":     func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
		"error":   func(b []byte) io.Reader { return io.MultiReader(bytes.NewReader(b), iotest.ErrReader(errBoom)) },
		"empties": func(b []byte) io.Reader { return &emptyReads{r: bytes.NewReader(b)} },
		"stuck":   func(b []byte) io.Reader { return io.MultiReader(bytes.NewReader(b), &emptyReads{n: 1000}) },
	}
	for name, data := range inputs {
		for how, open := range readers {
			r := NewReader(open(data), ReaderOptions{MaxLine: 512})
			var got []string
			for r.scan() {
				got = append(got, fmt.Sprintf("%d %q", r.tok, r.token))
			}
			gotErr := r.rerr
			if gotErr == io.EOF {
				gotErr = nil
			}

			ref := NewReader(nil, ReaderOptions{MaxLine: 512})
			sc := bufio.NewScanner(open(data))
			sc.Buffer(make([]byte, 512), 512)
			sc.Split(ref.split)
			var want []string
			for sc.Scan() {
				want = append(want, fmt.Sprintf("%d %q", ref.tok, sc.Bytes()))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") || !errors.Is(gotErr, sc.Err()) {
				t.Errorf("%s read %s: tokens\n%s\nerr %v; bufio.Scanner:\n%s\nerr %v", name, how,
					strings.Join(got, "\n"), gotErr, strings.Join(want, "\n"), sc.Err())
			}
		}
	}
}

// emptyReads returns 0, nil every other read (n: that many times, then
// EOF, when r is nil).
type emptyReads struct {
	r    io.Reader
	n    int
	flip bool
}

func (e *emptyReads) Read(p []byte) (int, error) {
	if e.r == nil {
		if e.n--; e.n < 0 {
			return 0, io.EOF
		}
		return 0, nil
	}
	if e.flip = !e.flip; e.flip {
		return 0, nil
	}
	return e.r.Read(p)
}
