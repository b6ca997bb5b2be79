package debfetch

import "testing"

// The cache key depends on what the tree holds, never on how the package
// list was spelled.
func TestRootfsKey(t *testing.T) {
	a := Rootfs{Suite: "bookworm", Include: []string{"man-db", "apparmor"}}
	b := Rootfs{Suite: "bookworm", Variant: "minbase", Include: []string{"apparmor", "man-db", "apparmor"}, Arch: "amd64"}
	if a.Key("http://deb.debian.org/debian") != b.Key("http://deb.debian.org/debian") {
		t.Error("same tree, different keys")
	}
	for _, c := range []Rootfs{
		{Suite: "trixie", Include: a.Include},
		{Suite: "bookworm", Include: []string{"apparmor"}},
		{Suite: "bookworm", Variant: "buildd", Include: a.Include},
		{Suite: "bookworm", Include: a.Include, Updates: true},
	} {
		if c.Key("http://deb.debian.org/debian") == a.Key("http://deb.debian.org/debian") {
			t.Errorf("%+v has the key of %+v", c, a)
		}
	}
	if a.Key("http://deb.debian.org/debian") == a.Key("http://mirror.example/debian") {
		t.Error("the archive is not part of the key")
	}
}
