package host

import (
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
	} {
		if got := ProfileFileName(in); got != want {
			t.Errorf("ProfileFileName(%q) = %q, want %q", in, got, want)
		}
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
	})
}
