package auditlog

import (
	"bytes"
	"sync"
	"testing"

	corpus "github.com/armorer-dev/armorer/internal/auditlogcorpus"
)

var benchCorpus = sync.OnceValues(func() ([]byte, int) {
	var b bytes.Buffer
	n, err := corpus.Write(&b, 1_000_000, 1)
	if err != nil {
		panic(err)
	}
	return b.Bytes(), n
})

// BenchmarkReader reads the 1M-line corpus (half AppArmor events, half other
// lines) through a Reader, as armorer events does.
func BenchmarkReader(b *testing.B) {
	data, want := benchCorpus()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(data), ReaderOptions{})
		n := 0
		for r.Next() {
			n++
		}
		if n != want {
			b.Fatalf("read %d events, want %d", n, want)
		}
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkParseLine parses one kernel 6.1 file event.
func BenchmarkParseLine(b *testing.B) {
	line := []byte(lineAVC)
	p := NewParser()
	var ev Event
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Parse(line, &ev); err != nil {
			b.Fatal(err)
		}
	}
}
