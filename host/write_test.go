package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteProfiles(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	h := New(Paths{ProfileDir: dir, StateDir: state}, nil)
	old := "profile app {\n  /old r,\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// A valid change: the profile and its new local/ file.
	res, err := h.WriteProfiles(ctx, dir, nil, []FileWrite{
		{Path: filepath.Join(dir, "app"), Content: []byte("profile app {\n  /new r,\n  include if exists <local/app>\n}\n"), Profiles: []string{"app"}},
		{Path: filepath.Join(dir, "local", "app"), Content: []byte("/extra r,\n"), Profiles: []string{"app"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 2 || !res.Files[0].Existed || res.Files[0].Backup == "" || res.Files[1].Existed {
		t.Errorf("written: %+v", res.Files)
	}
	if len(res.Validated) != 1 || res.Validated[0] != filepath.Join(dir, "app") {
		t.Errorf("validated %q, want the profile file that includes local/app", res.Validated)
	}
	if b, _ := os.ReadFile(res.Files[0].Backup); string(b) != old {
		t.Errorf("backup holds %q, want the previous version", b)
	}

	// An invalid local/ file: both files are put back.
	before, _ := os.ReadFile(filepath.Join(dir, "app"))
	_, err = h.WriteProfiles(ctx, dir, nil, []FileWrite{
		{Path: filepath.Join(dir, "local", "app"), Content: []byte("capability bogus,\n"), Profiles: []string{"app"}},
		{Path: filepath.Join(dir, "other"), Content: []byte("profile other { }\n")},
	})
	var rej *WriteRejectedError
	if !errors.As(err, &rej) || rej.File != filepath.Join(dir, "app") {
		t.Fatalf("err = %v, want a rejection of app", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "local", "app")); string(b) != "/extra r,\n" {
		t.Errorf("local/app after rollback: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "app")); string(b) != string(before) {
		t.Errorf("app after rollback: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "other")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the new file stayed after rollback: %v", err)
	}

	// Nothing outside the directory.
	if _, err := h.WriteProfiles(ctx, dir, nil, []FileWrite{{Path: filepath.Join(state, "x"), Content: []byte("x")}}); err == nil {
		t.Error("wrote outside the profile directory")
	}
}

// TestWriteProfilesSymlinks: a profile file that is a symlink to a file
// inside the directory is read and written through, as apparmor_parser
// loads it; a link or a local/ directory that leads outside is never
// written through (issue 13 item 6).
func TestWriteProfilesSymlinks(t *testing.T) {
	dir, state, outside := t.TempDir(), t.TempDir(), t.TempDir()
	h := New(Paths{ProfileDir: dir, StateDir: state}, nil)
	ctx := context.Background()
	os.MkdirAll(filepath.Join(dir, "real"), 0o755)
	real := filepath.Join(dir, "real", "myapp.profile")
	os.WriteFile(real, []byte("profile myapp {\n  /old r,\n}\n"), 0o644)
	link := filepath.Join(dir, "myapp")
	os.Symlink("real/myapp.profile", link)

	set, err := LoadProfileSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p := set.Profiles["myapp"]; p == nil || p.File != link {
		t.Fatalf("profile myapp from the symlinked file: %+v", p)
	}
	newContent := "profile myapp {\n  /new r,\n}\n"
	if _, err := h.WriteProfiles(ctx, dir, nil, []FileWrite{{Path: link, Content: []byte(newContent), Profiles: []string{"myapp"}}}); err != nil {
		t.Fatalf("write through an inside symlink: %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced by a file: %v", err)
	}
	if b, _ := os.ReadFile(real); string(b) != newContent {
		t.Errorf("link target holds %q, want the new content", b)
	}

	// A profile symlinked to a file outside: read, but never written.
	ext := filepath.Join(outside, "ext")
	os.WriteFile(ext, []byte("profile ext {\n}\n"), 0o644)
	os.Symlink(ext, filepath.Join(dir, "ext"))
	if _, err := h.WriteProfiles(ctx, dir, nil, []FileWrite{{Path: filepath.Join(dir, "ext"), Content: []byte("profile ext {\n  /x r,\n}\n")}}); err == nil {
		t.Error("wrote through a symlink to outside the profile directory")
	}
	if b, _ := os.ReadFile(ext); string(b) != "profile ext {\n}\n" {
		t.Errorf("outside file changed: %q", b)
	}

	// local/ is a symlink to outside: nothing is written there.
	os.Symlink(outside, filepath.Join(dir, "local"))
	if _, err := h.WriteProfiles(ctx, dir, nil, []FileWrite{{Path: filepath.Join(dir, "local", "myapp"), Content: []byte("/extra r,\n"), Profiles: []string{"myapp"}}}); err == nil {
		t.Error("wrote through a local/ symlink to outside the profile directory")
	}
	if _, err := os.Stat(filepath.Join(outside, "myapp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was written outside through local/: %v", err)
	}
}

// TestWriteProfilesRefusesSkippedNames: a profile file the loader skips
// (dot files, README, package leftovers) is never created (issue 13 item 8).
func TestWriteProfilesRefusesSkippedNames(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	h := New(Paths{ProfileDir: dir, StateDir: state}, nil)
	for _, name := range []string{".x", "..x", "README", "app.dpkg-new"} {
		_, err := h.WriteProfiles(context.Background(), dir, nil, []FileWrite{{Path: filepath.Join(dir, name), Content: []byte("profile x {\n}\n")}})
		if err == nil {
			t.Errorf("wrote %s, which the loader skips", name)
		}
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s exists", name)
		}
	}
}

// Debian 13: abstractions say abi 4.0 while the profiles learn writes say
// abi 3.0; the installed 4.1 parser compiles both, so the write is checked
// for at least its version (the lifecycle e2e's record step failed here).
func TestWriteProfilesChecksForInstalledParser(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	parser := filepath.Join(t.TempDir(), "apparmor_parser")
	if err := os.WriteFile(parser, []byte("#!/bin/sh\necho 'AppArmor parser version 4.1.0'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "abstractions"), 0o755)
	os.WriteFile(filepath.Join(dir, "abstractions", "base"), []byte("abi <abi/4.0>,\n/etc/ld.so.cache r,\n"), 0o644)
	src := []byte("abi <abi/3.0>,\nprofile app {\n  include <abstractions/base>\n}\n")
	ctx := context.Background()

	h := New(Paths{ProfileDir: dir, StateDir: state, Parser: parser}, nil)
	if _, err := h.WriteProfiles(ctx, dir, nil, []FileWrite{{Path: filepath.Join(dir, "app"), Content: src, Profiles: []string{"app"}}}); err != nil {
		t.Fatalf("with apparmor_parser 4.1 installed: %v", err)
	}
	// With a 3.0 parser the same file is invalid: 3.0 has no abi 4.0.
	os.WriteFile(parser, []byte("#!/bin/sh\necho 'AppArmor parser version 3.0.8'\n"), 0o755)
	var rej *WriteRejectedError
	if _, err := h.WriteProfiles(ctx, dir, nil, []FileWrite{{Path: filepath.Join(dir, "app"), Content: append(src, '\n'), Profiles: []string{"app"}}}); !errors.As(err, &rej) {
		t.Fatalf("with apparmor_parser 3.0.8: err = %v, want a rejection", err)
	}
}
