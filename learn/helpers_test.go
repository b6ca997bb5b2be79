package learn

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/internal/oracle"
	"github.com/armorer-dev/armorer/policy"
)

var bundled, _ = filepath.Abs("../examples/myapp/apparmor.d")

func compiles(t *testing.T, path, abi, profDir string) {
	t.Helper()
	version, inc := "3.0", []string{profDir, bundled}
	p := oracle.Require(t, version)
	if abi == "4.0" {
		p = oracle.Require(t, "4.1")
		inc = []string{profDir, p.IncludeDir}
	}
	ok, stderr, err := p.ValidateFile(context.Background(), path, inc)
	if err != nil {
		t.Fatalf("apparmor_parser %s: %v", p.Version, err)
	}
	if !ok {
		text, _ := os.ReadFile(path)
		t.Errorf("apparmor_parser %s rejects %s:\n%s\n%s", p.Version, filepath.Base(path), text, stderr)
	}
}

func logAccesses(t testing.TB, log []byte) []*Access {
	r := auditlog.NewReader(bytes.NewReader(log), auditlog.ReaderOptions{Name: "audit.log"})
	var out []*Access
	for r.Next() {
		a := new(Access)
		if fromEvent(r.Event(), "audit.log", r.Line(), a) {
			out = append(out, a)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Bad > 0 {
		t.Fatalf("audit.log: %d bad lines", st.Bad)
	}
	return out
}

// printFile prints a built file with the policy printer.
func printFile(t testing.TB, f *policy.File) string {
	t.Helper()
	var b bytes.Buffer
	if err := policy.Format(&b, nil, f); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// learnLog runs one learning session with opts over the log file at path
// (the external tests' way in: learn_test writes its lines with lineLog).
func learnLog(t testing.TB, opts SessionOptions, path string) *SessionResult {
	t.Helper()
	s, err := OpenSession(opts)
	if err != nil {
		t.Fatal(err)
	}
	src, err := source.Open(context.Background(), []string{path}, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	res, err := s.Learn(src.Events())
	if err != nil {
		t.Fatal(err)
	}
	return res
}
