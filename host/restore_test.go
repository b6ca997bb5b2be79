package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/internal/fakeparser"
)

const (
	appComplain = "profile myapp /opt/myapp/bin/myapp flags=(complain) {\n  /opt/myapp/config r,\n}\n"
	appEnforce  = "profile myapp /opt/myapp/bin/myapp {\n  /opt/myapp/config r,\n  /opt/myapp/new r,\n}\n"
)

// UpdateAndReload replaces a loaded profile after the write; a profile
// that is not loaded stays so; with NoLoad the kernel is not asked.
func TestUpdateAndReload(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	ctx := context.Background()
	target := filepath.Join(p.ProfileDir, "myapp")
	os.WriteFile(target, []byte(appComplain), 0o644)
	os.WriteFile(filepath.Join(p.ProfileDir, "idle"), []byte("profile idle {\n}\n"), 0o644)
	write := func(h *Host, files ...FileWrite) (*WriteResult, error) {
		return h.UpdateAndReload(ctx, p.ProfileDir, nil, func() ([]FileWrite, error) { return files, nil })
	}

	res, err := write(h, FileWrite{Path: target, Content: []byte(appEnforce)},
		FileWrite{Path: filepath.Join(p.ProfileDir, "idle"), Content: []byte("profile idle {\n  /x r,\n}\n")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reloads) != 2 || res.Reloads[0].Replaced || !res.Reloads[1].Replaced { // sorted: idle, myapp
		t.Errorf("reloads = %+v, want myapp replaced and idle (not loaded) left alone", res.Reloads)
	}
	if got := loadedProfiles(t, h); !strings.Contains(got, "myapp (enforce)\n") || strings.Contains(got, "idle") {
		t.Errorf("kernel after the reload:\n%s", got)
	}

	off := h.WithDirs("", "")
	off.NoLoad = true
	before := loadedProfiles(t, h)
	res, err = write(off, FileWrite{Path: target, Content: []byte(appComplain)})
	if err != nil || len(res.Reloads) != 0 {
		t.Fatalf("NoLoad: %+v, %v", res, err)
	}
	if got := loadedProfiles(t, h); got != before {
		t.Errorf("NoLoad changed the kernel:\n%s\nwant:\n%s", got, before)
	}
}

// A rejected reload that had changed the kernel (a partial load) puts the
// files back and reloads the previous version.
func TestUpdateAndReloadPartialRejection(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	ctx := context.Background()
	target := filepath.Join(p.ProfileDir, "myapp")
	os.WriteFile(target, []byte(appComplain), 0o644)
	if _, err := h.Load(ctx, ProfileFile{Name: "myapp"}, false, nil); err != nil {
		t.Fatal(err)
	}
	before := loadedProfiles(t, h)
	t.Setenv(fakeparser.EnvPartial, filepath.Join(t.TempDir(), "marker"))
	_, err := h.UpdateAndReload(ctx, p.ProfileDir, nil, func() ([]FileWrite, error) {
		return []FileWrite{{Path: target, Content: []byte(appEnforce)}}, nil
	})
	var rb *RolledBackError
	if !errors.As(err, &rb) {
		t.Fatalf("err = %v, want *RolledBackError", err)
	}
	if !strings.Contains(rb.Kernel, "restored to the previous profiles and modes") || rb.Backup == "" || rb.File != target {
		t.Errorf("rolled back: %+v", rb)
	}
	if got := readString(t, target); got != appComplain {
		t.Errorf("file after the rollback:\n%s", got)
	}
	if got := loadedProfiles(t, h); sortedLines(got) != sortedLines(before) {
		t.Errorf("kernel after the rollback:\n%s\nwant:\n%s", got, before)
	}
}

// Restore brings back a kept version (only one), keeps the current one,
// replaces the profile when it is loaded, and refuses an invalid version.
func TestRestore(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	ctx := context.Background()
	target := filepath.Join(p.ProfileDir, "myapp")
	os.WriteFile(target, []byte(appComplain), 0o644)
	f := ProfileFile{Name: "myapp"}
	if _, err := h.Load(ctx, f, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteProfiles(ctx, p.ProfileDir, nil, []FileWrite{{Path: target, Content: []byte(appEnforce)}}); err != nil {
		t.Fatal(err)
	}
	kept, err := h.Backups(f) // load's and the write's
	if err != nil || len(kept) != 2 {
		t.Fatalf("backups = %q, %v", kept, err)
	}
	res, err := h.Restore(ctx, f, kept[1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Action, "restored ") || strings.Contains(res.Action, "not loaded") || res.Mode != Complain {
		t.Errorf("result = %+v", res)
	}
	if got := readString(t, target); got != appComplain {
		t.Errorf("file after restore:\n%s", got)
	}
	if !strings.Contains(loadedProfiles(t, h), "myapp (complain)\n") {
		t.Errorf("kernel after restore:\n%s", loadedProfiles(t, h))
	}
	if b, _ := os.ReadFile(res.Backup); string(b) != appEnforce {
		t.Errorf("the replaced version was not kept: %q", b)
	}

	var nb *NotBackupError
	if _, err := h.Restore(ctx, f, target); !errors.As(err, &nb) {
		t.Errorf("restore of a file that is no backup: %v", err)
	}

	// A kept version that no longer compiles: refused, nothing changes.
	kept, _ = h.Backups(f)
	newest := kept[len(kept)-1]
	os.WriteFile(newest, []byte("profile myapp {\n  /x rz,\n}\n"), 0o600)
	var ie *InvalidProfileError
	if _, err := h.Restore(ctx, f, newest); !errors.As(err, &ie) {
		t.Errorf("restore of an invalid version: %v", err)
	}
	if got := readString(t, target); got != appComplain {
		t.Errorf("file after a refused restore:\n%s", got)
	}
}

// A reload of several files that the kernel rejects for one of them puts
// back the others it had accepted: the kernel runs the restored files'
// version, not the rejected change's, though the names and modes it lists
// never changed.
func TestUpdateAndReloadRejectionRestoresEarlierFiles(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	ctx := context.Background()
	const (
		alphaOld = "profile alpha /opt/alpha {\n  /opt/alpha/old r,\n}\n"
		alphaNew = "profile alpha /opt/alpha {\n  /opt/alpha/old r,\n  /opt/alpha/new r,\n}\n"
		betaOld  = "profile beta /opt/beta {\n  /opt/beta/old r,\n}\n"
		betaNew  = "profile beta /opt/beta {\n  /opt/beta/old r,\n  /opt/beta/new r,\n}\n"
	)
	alpha, beta := filepath.Join(p.ProfileDir, "alpha"), filepath.Join(p.ProfileDir, "beta")
	os.WriteFile(alpha, []byte(alphaOld), 0o644)
	os.WriteFile(beta, []byte(betaOld), 0o644)
	for _, n := range []string{"alpha", "beta"} {
		if _, err := h.Load(ctx, ProfileFile{Name: n}, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	kernelText := func(name string) string {
		return readString(t, filepath.Join(p.SecurityFS, "apparmor", "policy", "profiles", name+".1", "source"))
	}
	t.Setenv(fakeparser.EnvRejectFile, "beta") // alpha (first, sorted) is accepted, beta rejected
	_, err := h.UpdateAndReload(ctx, p.ProfileDir, nil, func() ([]FileWrite, error) {
		return []FileWrite{{Path: alpha, Content: []byte(alphaNew)}, {Path: beta, Content: []byte(betaNew)}}, nil
	})
	var rb *RolledBackError
	if !errors.As(err, &rb) {
		t.Fatalf("err = %v, want *RolledBackError", err)
	}
	if readString(t, alpha) != alphaOld || readString(t, beta) != betaOld {
		t.Errorf("files not restored:\n%s\n%s", readString(t, alpha), readString(t, beta))
	}
	if got := kernelText("alpha"); got != alphaOld {
		t.Errorf("the kernel runs alpha's rejected change, its file holds the previous version:\n%s", got)
	}
	if !strings.Contains(rb.Kernel, "restored to the previous profiles") {
		t.Errorf("kernel = %q, want it restored", rb.Kernel)
	}
}
