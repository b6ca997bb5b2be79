package policy_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/armorer-dev/armorer/policy"
)

// includeTree unpacks testdata/include/tree.txtar and returns its root.
func includeTree(t *testing.T) string {
	t.Helper()
	ar, err := txtar.ParseFile("testdata/include/tree.txtar")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, f := range ar.Files {
		p := filepath.Join(root, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// firstInclude parses src and returns its first include directive,
// wherever it is.
func firstInclude(t *testing.T, src string) *policy.Include {
	t.Helper()
	f, err := policy.ParseFile(policyFset(), "t", []byte(src), 0)
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	for n := range policy.Preorder(f) {
		if inc, ok := n.(*policy.Include); ok {
			return inc
		}
	}
	t.Fatalf("no include in %q", src)
	return nil
}

func TestLoaderResolve(t *testing.T) {
	root := includeTree(t)
	l := policy.NewLoader(root+"/first", root+"/second")
	l.Base = root + "/base"
	rel := func(ps []string) []string {
		var out []string
		for _, p := range ps {
			r, _ := filepath.Rel(root, p)
			out = append(out, r)
		}
		return out
	}
	for _, tc := range []struct {
		src  string
		want []string
		err  string
	}{
		{"include <abstractions/shared>", []string{"first/abstractions/shared"}, ""},
		{"#include <abstractions/only-second>", []string{"second/abstractions/only-second"}, ""},
		{"include <tunables/global>", []string{"base/tunables/global"}, ""},
		{`include "rel/file"`, []string{"base/rel/file"}, ""},
		{`include "` + root + `/first/broken"`, []string{"first/broken"}, ""},
		{"include <dir>", []string{"first/dir/a", "first/dir/b"}, ""},
		{"include if exists <nope>", nil, ""},
		{`include if exists "/nonexistent/x"`, nil, ""},
		{"include <nope>", nil, "include <nope>: no such file (looked for " + root + "/first/nope, " + root + "/second/nope, " + root + "/base/nope)"},
		{`include "nope"`, nil, "no such file (looked for " + root + "/base/nope)"},
	} {
		got, err := l.Resolve(firstInclude(t, "profile t {\n  "+tc.src+"\n}\n"))
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.src, err, tc.err)
			} else if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: %v is not fs.ErrNotExist", tc.src, err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.src, err)
		case !slices.Equal(rel(got), tc.want):
			t.Errorf("%s: resolved %q, want %q", tc.src, rel(got), tc.want)
		}
	}
}

func TestSkippedName(t *testing.T) {
	for _, n := range []string{".hidden", "README", "x.dpkg-new", "x.dpkg-old", "x.dpkg-dist", "x.dpkg-bak", "x.dpkg-remove", "x.pacsave", "x.pacnew", "x.rpmnew", "x.rpmsave", "x.orig", "x.rej", "x~"} {
		if !policy.SkippedName(n) {
			t.Errorf("SkippedName(%q) = false", n)
		}
	}
	for _, n := range []string{"usr.bin.foo", "x.md", "#x#", "x.swp", "README.md"} {
		if policy.SkippedName(n) {
			t.Errorf("SkippedName(%q) = true; apparmor_parser reads it", n)
		}
	}
}

// TestIncludePositions checks that diagnostics in included files carry
// that file's name and position, from one FileSet per load, and that a
// file included many times is parsed once.
func TestIncludePositions(t *testing.T) {
	root := includeTree(t)
	l := policy.NewLoader(root + "/first")
	src := []byte("profile a {\n  include <broken>\n}\nprofile b {\n  include <broken>\n}\n")
	res := policy.CheckFile(l, "main", src, policy.CheckConfig{})
	errs := res.Errors()
	if len(errs) != 1 {
		t.Fatalf("errors %v, want one (reported once for both includes)", errs)
	}
	want := root + "/first/broken:2:6: invalid permission 'z'"
	if got := errs[0].String(); !strings.HasPrefix(got, want) {
		t.Errorf("diagnostic %q, want prefix %q", got, want)
	}
	f1, _ := l.Load(root+"/first/broken", nil)
	f2, _ := l.Load(root+"/first/broken", nil)
	if f1 == nil || f1 != f2 {
		t.Error("Load does not cache parsed files")
	}
}

// TestIncludeCycle: apparmor_parser includes a file once per profile, so
// a cycle is valid; Check warns, naming the chain.
func TestIncludeCycle(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"a": "/a r,\ninclude <b>\n", "b": "/b r,\ninclude <a>\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := policy.CheckFile(policy.NewLoader(dir), "main", []byte("profile t {\n  include <a>\n}\n"), policy.CheckConfig{})
	if !res.Valid() || len(res.Diagnostics) != 1 {
		t.Fatalf("diagnostics %v", res.Diagnostics)
	}
	d := res.Diagnostics[0]
	want := "include cycle: " + dir + "/a → " + dir + "/b → " + dir + "/a"
	if d.Severity != policy.SeverityWarning || !strings.Contains(d.Message, want) || d.Pos.Filename != dir+"/b" {
		t.Errorf("cycle diagnostic %v, want a warning in %s/b containing %q", d, dir, want)
	}
}

// TestIncludeSpecialFiles: including /proc or a device must neither hang
// (/proc/kmsg blocks on read) nor read huge files (/proc/kcore).
func TestIncludeSpecialFiles(t *testing.T) {
	done := make(chan *policy.CheckResult, 1)
	go func() {
		src := []byte("profile a {\n  include \"/proc\"\n  include if exists \"/dev/zero\"\n}\n")
		done <- policy.CheckFile(policy.NewLoader(), "special", src, policy.CheckConfig{})
	}()
	select {
	case res := <-done:
		if res.Valid() {
			t.Error("including /dev/zero should be an error")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Check hangs on include \"/proc\"")
	}
}

// TestIncludeOutsideSearchPath: an include that climbs out of the search
// path is refused at its position, and a file outside the search path
// named explicitly is checked without any of its text in the messages
// (issue 13 item 14: check printed the first line of /etc/shadow).
func TestIncludeOutsideSearchPath(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "apparmor.d")
	os.MkdirAll(filepath.Join(dir, "abstractions"), 0o755)
	secret := filepath.Join(top, "shadow")
	os.WriteFile(secret, []byte("root:$6$SECRETHASH:19000:0:99999:7:::\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "abstractions", "bad"), []byte("bogus-token here\n"), 0o644)
	messages := func(src string) string {
		l := policy.NewLoader(dir)
		l.Base = dir
		res := policy.CheckFile(l, filepath.Join(dir, "p"), []byte(src), policy.CheckConfig{})
		var b strings.Builder
		for _, d := range res.Errors() {
			b.WriteString(d.Pos.String() + ": " + d.Message + "\n")
		}
		return b.String()
	}

	got := messages("profile p {\n  include <../shadow>\n}\n")
	if strings.Contains(got, "SECRET") || !strings.Contains(got, "p:2:") || !strings.Contains(got, "leaves the include search path") {
		t.Errorf("include <../shadow>:\n%s\nwant the directive's position and the reason, no content", got)
	}
	got = messages("profile p {\n  include \"" + secret + "\"\n}\n")
	if strings.Contains(got, "SECRET") || !strings.Contains(got, secret+":1:1") {
		t.Errorf("include %q:\n%s\nwant the position in the file, no content", secret, got)
	}
	// A file inside the search path is policy: its errors say what is wrong.
	if got = messages("profile p {\n  include <abstractions/bad>\n}\n"); !strings.Contains(got, "bogus-token") {
		t.Errorf("include <abstractions/bad>:\n%s\nwant the usual message", got)
	}
}
