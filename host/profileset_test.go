package host

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestProfileSet(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("usr.bin.a", "/usr/bin/a {\n  include if exists <local/usr.bin.a>\n  profile helper { }\n}\n")
	write("b", "profile b /opt/b/bin/* flags=(complain) { }\n")
	write("off", "profile off /usr/bin/off { }\n")
	write("broken", "profile broken {\n")
	write(".hidden", "profile hidden { }\n")
	write("b.dpkg-old", "profile old { }\n")
	write("abstractions/x", "/x r,\n")
	if err := os.Mkdir(filepath.Join(dir, "disable"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../off", filepath.Join(dir, "disable", "off")); err != nil {
		t.Fatal(err)
	}

	files, err := ProfileFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if want := []string{"b", "broken", "off", "usr.bin.a"}; !slices.Equal(names, want) {
		t.Errorf("ProfileFiles = %q, want %q", names, want)
	}

	set, err := LoadProfileSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Problems) != 1 {
		t.Errorf("problems = %v, want the broken file only", set.Problems)
	}
	var top []string
	for _, p := range set.TopLevel(false) {
		top = append(top, p.Name+"="+p.Attach)
	}
	if want := []string{"/usr/bin/a=/usr/bin/a", "b=/opt/b/bin/*"}; !slices.Equal(top, want) {
		t.Errorf("TopLevel(false) = %q, want %q", top, want)
	}
	if len(set.TopLevel(true)) != 3 || !set.Profiles["off"].Disabled {
		t.Errorf("disabled file: %+v", set.Profiles["off"])
	}
	a := set.Profiles["/usr/bin/a"]
	if a.Local == nil || a.Local.Path.Value() != "local/usr.bin.a" {
		t.Errorf("local include of /usr/bin/a: %v", a.Local)
	}
	if c := set.Profiles["/usr/bin/a//helper"]; c == nil || c.Attach != "" {
		t.Errorf("child profile: %+v", c)
	}
	if got, ok := set.ProfileFor("/opt/b/bin/tool"); !ok || got != "b" {
		t.Errorf("ProfileFor(/opt/b/bin/tool) = %q, %v", got, ok)
	}
	if _, ok := set.ProfileFor("/usr/bin/other"); ok {
		t.Error("ProfileFor matched an unattached program")
	}
	if got := set.AbstractionNames(); !slices.Equal(got, []string{"abstractions/x"}) {
		t.Errorf("AbstractionNames = %q", got)
	}
}

func TestProfileSetPackaged(t *testing.T) {
	dir, info := t.TempDir(), t.TempDir()
	abs, _ := filepath.Abs(dir)
	list := abs + "\n" + filepath.Join(abs, "usr.sbin.x") + "\n/usr/sbin/x\n"
	if err := os.WriteFile(filepath.Join(info, "x.list"), []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	set := OpenProfileSet(dir)
	set.DpkgInfo = info
	if !set.Packaged(filepath.Join(dir, "usr.sbin.x")) {
		t.Error("a file in dpkg's list is not packaged")
	}
	if set.Packaged(filepath.Join(dir, "mine")) {
		t.Error("a file no package installed counts as packaged")
	}
}

// systemd applies drop-ins after the unit; ExecStart= and AppArmorProfile=
// come from the same reader.
func TestReadUnit(t *testing.T) {
	etc, lib := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(lib, "app.service"), []byte("[Unit]\nDescription=x\n\n[Service]\nExecStart=/usr/bin/a \\\n  --flag\nAppArmorProfile=one\n"), 0o644)
	os.MkdirAll(filepath.Join(etc, "app.service.d"), 0o755)
	os.MkdirAll(filepath.Join(lib, "app.service.d"), 0o755)
	os.WriteFile(filepath.Join(lib, "app.service.d", "10-x.conf"), []byte("[Service]\nExecStart=\nExecStart=/usr/bin/b\n"), 0o644)
	os.WriteFile(filepath.Join(etc, "app.service.d", "10-x.conf"), []byte("[Service]\n# overrides lib's 10-x.conf\nExecStart=\nExecStart=/usr/bin/c\n"), 0o644)
	u, err := ReadUnit([]string{etc, lib}, "app.service")
	if err != nil {
		t.Fatal(err)
	}
	if u.File != filepath.Join(lib, "app.service") {
		t.Errorf("File = %s", u.File)
	}
	o, ok := u.Last("Service", "ExecStart")
	if !ok || o.Value != "/usr/bin/c" || o.Pos() != filepath.Join(etc, "app.service.d", "10-x.conf")+":4" {
		t.Errorf("last ExecStart = %+v (%s)", o, o.Pos())
	}
	if v, _ := u.Value("Service", "AppArmorProfile"); v != "one" {
		t.Errorf("AppArmorProfile = %q", v)
	}
	if _, err := ReadUnit([]string{etc, lib}, "none.service"); err == nil {
		t.Error("a missing unit read without error")
	}
}

// ProfileFor answers as the kernel attaches: an exact attachment wins
// over a glob, whatever the names; a disabled file's profile is not loaded
// at boot, so it attaches to nothing (a Px to it would fail).
func TestProfileForSpecificAndEnabled(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"a-glob": "profile a-glob /opt/b/bin/* { }\n",
		"exact":  "profile exact /opt/b/bin/special { }\n",
		"off":    "profile off /usr/bin/off { }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, "disable"), 0o755)
	if err := os.Symlink("../off", filepath.Join(dir, "disable", "off")); err != nil {
		t.Fatal(err)
	}
	set, err := LoadProfileSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	for exe, want := range map[string]string{"/opt/b/bin/special": "exact", "/opt/b/bin/other": "a-glob", "/usr/bin/off": ""} {
		if got, ok := set.ProfileFor(exe); got != want || ok != (want != "") {
			t.Errorf("ProfileFor(%s) = %q, %v; want %q", exe, got, ok, want)
		}
	}
}
