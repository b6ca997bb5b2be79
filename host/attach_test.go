package host

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestDefinedProfiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("opt.myapp.bin.myapp", "abi <abi/3.0>,\nprofile myapp /opt/myapp/bin/myapp {\n  /opt/myapp/** r,\n}\n")
	write("usr.bin.tool", "/usr/bin/tool {\n}\nprofile helper {\n}\n")
	write("old", "profile old {\n}\n")
	write(".hidden", "profile hidden {\n}\n")
	write("x.dpkg-old", "profile dpkgold {\n}\n")
	write("abstractions/base", "/etc/ld.so.cache r,\n")
	os.MkdirAll(filepath.Join(dir, "disable"), 0o755)
	if err := os.Symlink("../old", filepath.Join(dir, "disable", "old")); err != nil {
		t.Fatal(err)
	}
	h := New(Paths{ProfileDir: dir}, nil)
	got, err := h.DefinedProfiles()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/usr/bin/tool", "helper", "myapp"}; !slices.Equal(got, want) {
		t.Errorf("DefinedProfiles = %q, want %q", got, want)
	}
}

// A profile is found by its name even when its file is named after the binary.
func TestResolveByProfileName(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "opt.myapp.bin.myapp"), []byte("abi <abi/3.0>,\nprofile myapp /opt/myapp/bin/myapp {\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	h := New(Paths{ProfileDir: dir}, nil)
	f, err := h.Resolve("myapp")
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "opt.myapp.bin.myapp" || f.Source != "" {
		t.Errorf("Resolve(myapp) = %+v, want the installed opt.myapp.bin.myapp", f)
	}
	if _, err := h.Resolve("nosuch"); err == nil {
		t.Error("Resolve(nosuch) succeeded")
	}
}
