package auditlog

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the parser's output")

// goldenInputs are the fixtures: hand-written ones in testdata and the real
// kernels' captures in testdata/kernel/<distro>-<kver>/.
func goldenInputs(t testing.TB) []string {
	var files []string
	for _, pat := range []string{"testdata/*.log", "testdata/*.json", "testdata/*.export"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	filepath.WalkDir("testdata/kernel", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".log") {
			files = append(files, path)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	return files
}

// render writes what a Reader makes of in: one line per event (format,
// class, JSON), one per bad line, and the stats.
func render(t *testing.T, name string, in []byte) []byte {
	var out bytes.Buffer
	r := NewReader(bytes.NewReader(in), ReaderOptions{Name: name, OnBad: func(e *SyntaxError) {
		fmt.Fprintf(&out, "bad %v\n", e)
	}, OnRejected: func(e *RejectedError) {
		fmt.Fprintf(&out, "rejected %v\n", e)
	}})
	for r.Next() {
		ev := r.Event()
		js := ev.AppendJSON(nil, name, r.Line())
		if !json.Valid(js) {
			t.Errorf("%s:%d: invalid JSON %s", name, r.Line(), js)
		}
		fmt.Fprintf(&out, "%s %s %s\n", ev.Format, ev.Class(), js)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	fmt.Fprintf(&out, "stats %+v\n", r.Stats())
	return out.Bytes()
}

func TestGolden(t *testing.T) {
	for _, in := range goldenInputs(t) {
		t.Run(in, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := render(t, filepath.Base(in), src)
			golden := strings.TrimSuffix(in, filepath.Ext(in)) + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if d := cmp.Diff(string(want), string(got)); d != "" {
				t.Errorf("%s: output differs from %s (-want +got):\n%s", in, golden, d)
			}
		})
	}
}
