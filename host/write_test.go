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
