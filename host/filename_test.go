package host

import (
	"go/token"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/policy"
)

// TestProfileFileName: the conventional names stay; labels that would
// give a file the loader skips, or a path, give a loaded name instead
// (issue 13 item 8).
func TestProfileFileName(t *testing.T) {
	for in, want := range map[string]string{
		"/opt/myapp/bin/myapp": "opt.myapp.bin.myapp",
		"/usr/sbin/nginx":      "usr.sbin.nginx",
		"/usr//bin/../bin/x":   "usr.bin.x",
		"myapp":                "myapp",
		"my app":               "my_app",
		".hidden":              "_hidden",
		"..x":                  "__x",
		"../../etc/x":          "__._._etc.x",
		"a..b":                 "a._b",
		"/.config/app":         "_config.app",
		"/opt/.x":              "opt._x",
		"README":               "README_",
		"x.dpkg-new":           "x.dpkg-new_",
		"":                     "_",
		"a\nb":                 "a_b",
		// The name is also the local/ include's: <local/NAME> must stay one
		// include (a label "x>capability," must not add a rule).
		"x>capability,#":           "x_capability__",
		`a"b,c{d}`:                 "a_b_c_d_",
		"/opt/app-1.2/bin/my_app+": "opt.app-1.2.bin.my_app+",
	} {
		if got := ProfileFileName(in); got != want {
			t.Errorf("ProfileFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// checkLocalInclude fails unless `include if exists <local/NAME>` in a
// profile parses as that one include and nothing else.
func checkLocalInclude(t *testing.T, name string) {
	t.Helper()
	src := "profile t {\n  include if exists <local/" + name + ">\n}\n"
	f, err := policy.ParseFile(token.NewFileSet(), "t", []byte(src), 0)
	if err != nil {
		t.Fatalf("ProfileFileName gave %q: its local include does not parse: %v", name, err)
	}
	prof, ok := f.Rules[0].(*policy.Profile)
	if len(f.Rules) != 1 || !ok || len(prof.Body) != 1 {
		t.Fatalf("ProfileFileName gave %q: its local include is not one rule:\n%s", name, src)
	}
	if inc, ok := prof.Body[0].(*policy.Include); !ok || inc.Path.Value() != "<local/"+name+">" && inc.Path.Value() != "local/"+name {
		t.Fatalf("ProfileFileName gave %q: the include reads %#v", name, prof.Body[0])
	}
}

func TestProfileFileNameLocalInclude(t *testing.T) {
	for _, s := range []string{"x>capability,#", "a> /** rwx, #", `a"b`, "a}b", "a#b", "a,b", "x\x3e", "x@{HOME}", "ünïcode"} {
		checkLocalInclude(t, ProfileFileName(s))
	}
}

func FuzzProfileFileName(f *testing.F) {
	for _, s := range []string{"/usr/bin/x", "..", ".a", "a/../..", "README", "x.rpmnew"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := ProfileFileName(s)
		if n == "" || policy.SkippedName(n) || strings.Contains(n, "/") || strings.Contains(n, "..") {
			t.Fatalf("ProfileFileName(%q) = %q: not a name the loader loads", s, n)
		}
		checkLocalInclude(t, n)
	})
}
