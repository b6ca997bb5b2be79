package learn

import (
	"bytes"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
	"github.com/rogpeppe/go-internal/txtar"
)

// FuzzGeneralise: a generalised pattern compiles and matches the path it
// came from, whatever characters the path holds.
func FuzzGeneralise(f *testing.F) {
	for _, s := range []string{"/proc/12/stat", "/home/a/.cache/x", "/tmp/app-a8Xk2Q", "/srv/we*ird[1]{a,b}?",
		"/var/log/app.log.3", "/usr/lib/libz.so.1.2.13", "/x/0b9e5c2a-1d4f-4e8a-9c3b-7f6e5d4c3b2a", "/a/123456789b",
		`/back\slash`, "/at@{x}", "/tmp/"} {
		f.Add(s)
	}
	vars := aare.VarMap(defaultVars)
	f.Fuzz(func(t *testing.T, p string) {
		if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.ContainsRune(p, 0) || !utf8.ValidString(p) {
			return
		}
		for _, perms := range []aare.Perm{aare.PermRead, aare.PermWrite, aare.PermMmap | aare.PermRead} {
			pat, _ := generalise(p, perms)
			c, err := aare.Compile(pat, vars)
			if err != nil {
				t.Fatalf("generalise(%q) = %q, which does not compile: %v", p, pat, err)
			}
			if !c.Match(p) {
				t.Fatalf("generalise(%q) = %q, which does not match it", p, pat)
			}
		}
	})
}

// FuzzLearnLog: whatever the log says, learn does not panic, and every
// profile it prints parses back without a syntax error.
func FuzzLearnLog(f *testing.F) {
	seeds, _ := filepath.Glob("../auditlog/testdata/kernel/*/*.log")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	cases, _ := filepath.Glob("testdata/learn/*.txtar")
	for _, c := range cases {
		ar, err := txtar.ParseFile(c)
		if err != nil {
			continue
		}
		for _, file := range ar.Files {
			if file.Name == "audit.log" {
				f.Add(file.Data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l := New(Options{})
		r := auditlog.NewReader(bytes.NewReader(data), auditlog.ReaderOptions{Name: "fuzz"})
		var a Access
		for r.Next() {
			if fromEvent(r.Event(), "fuzz", r.Line(), &a) {
				l.Add(&a)
			}
		}
		ps, err := l.Result()
		if err != nil {
			return // an exec conflict is a legitimate answer
		}
		for _, p := range ps {
			if p.Parent != "" {
				continue
			}
			pf := ProfileFile{Name: p.Name, Abstractions: p.Abstractions}
			for _, r := range p.Rules {
				pf.Rules = append(pf.Rules, r.Explained())
			}
			for _, c := range ps {
				if c.Parent == p.Name {
					pf.Children = append(pf.Children, newChild(c, MergeOptions{}))
				}
			}
			var b bytes.Buffer
			if err := policy.Format(&b, nil, pf.File()); err != nil {
				t.Fatal(err)
			}
			if _, err := policy.ParseFile(token.NewFileSet(), "learned", b.Bytes(), policy.ParseComments); err != nil {
				t.Fatalf("learned profile does not parse: %v\n%s", err, b.Bytes())
			}
		}
	})
}
