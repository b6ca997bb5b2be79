package policy_test

import (
	"bytes"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/armorer-dev/armorer/policy"
)

// benchText is a large policy text: every Debian abstraction concatenated
// (rule lists, comments, dbus rules over many lines), or the testdata inputs
// when Debian's policy is not installed.
func benchText(b *testing.B) []byte {
	files, _ := filepath.Glob("/etc/apparmor.d/abstractions/*")
	if len(files) == 0 {
		files, _ = filepath.Glob("testdata/format/*.golden")
	}
	var buf bytes.Buffer
	for _, fn := range files {
		if fi, err := os.Stat(fn); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		src, err := os.ReadFile(fn)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := policy.ParseFile(token.NewFileSet(), fn, src, 0); err != nil {
			continue
		}
		buf.Write(src)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// BenchmarkParseFile measures the lexer and parser alone, comments kept.
func BenchmarkParseFile(b *testing.B) {
	src := benchText(b)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := policy.ParseFile(token.NewFileSet(), "bench", src, policy.ParseComments); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFormatFile measures the printer alone on a parsed tree.
func BenchmarkFormatFile(b *testing.B) {
	src := benchText(b)
	fset := token.NewFileSet()
	f, err := policy.ParseFile(fset, "bench", src, policy.ParseComments)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if err := policy.Format(io.Discard, fset, f); err != nil {
			b.Fatal(err)
		}
	}
}
