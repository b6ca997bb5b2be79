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
	svcProfile = "profile svc /opt/svc/bin/svc {\n  include <abstractions/svc-runtime>\n  include if exists <local/svc>\n}\n"
	svcRuntime = "/opt/svc/lib/** mr,\n"
)

// InstallProfiles compiles the change against the directory with the
// change laid over it before writing, then loads the profiles that were
// not loaded; a missing abstraction and a kernel rejection leave nothing.
func TestInstallProfiles(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	ctx := context.Background()
	dir := p.ProfileDir
	files := func(withRuntime bool) func() ([]FileWrite, error) {
		return func() ([]FileWrite, error) {
			fs := []FileWrite{{Path: filepath.Join(dir, "svc"), Content: []byte(svcProfile)}}
			if withRuntime {
				fs = append(fs, FileWrite{Path: filepath.Join(dir, "abstractions", "svc-runtime"), Content: []byte(svcRuntime)})
			}
			return fs, nil
		}
	}

	// The abstraction is neither in the change nor in the directory: the
	// parser says so, naming the directory's file, and nothing is written.
	_, err := h.InstallProfiles(ctx, dir, files(false))
	var ie *InvalidProfileError
	if !errors.As(err, &ie) || !strings.Contains(ie.Stderr, "abstractions/svc-runtime") || strings.Contains(err.Error(), "armorer-install-") {
		t.Fatalf("err = %v, want the parser's rejection naming abstractions/svc-runtime and no temporary file", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "svc")); !os.IsNotExist(err) {
		t.Errorf("the rejected profile was written: %v", err)
	}

	// A kernel rejection: the new files go, the kernel is as before.
	before := loadedProfiles(t, h)
	t.Setenv(fakeparser.EnvReject, "1")
	_, err = h.InstallProfiles(ctx, dir, files(true))
	var rb *RolledBackError
	if !errors.As(err, &rb) {
		t.Fatalf("err = %v, want *RolledBackError", err)
	}
	for _, f := range []string{"svc", "abstractions/svc-runtime"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s stayed after the kernel's rejection: %v", f, err)
		}
	}
	if got := loadedProfiles(t, h); got != before {
		t.Errorf("kernel after the rejection:\n%s\nwant:\n%s", got, before)
	}
	t.Setenv(fakeparser.EnvReject, "")

	res, err := h.InstallProfiles(ctx, dir, files(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reloads) != 1 || !res.Reloads[0].Added || res.Reloads[0].Replaced {
		t.Errorf("reloads = %+v, want svc added", res.Reloads)
	}
	if !strings.Contains(loadedProfiles(t, h), "svc (enforce)\n") {
		t.Errorf("svc not loaded:\n%s", loadedProfiles(t, h))
	}
	// Again: now it is replaced.
	res, err = h.InstallProfiles(ctx, dir, files(true))
	if err != nil || len(res.Reloads) != 1 || !res.Reloads[0].Replaced {
		t.Fatalf("second install: %+v, %v", res, err)
	}

	// NoLoad writes and validates, and leaves the kernel alone.
	off := h.WithDirs("", "")
	off.NoLoad = true
	os.Remove(filepath.Join(dir, "svc"))
	if res, err := off.InstallProfiles(ctx, dir, files(false)); err != nil || len(res.Reloads) != 0 {
		t.Fatalf("NoLoad: %+v, %v", res, err)
	}
}

// Installing a profile whose file is disabled (disable/NAME) enables it,
// as load does: otherwise it runs now and is gone after the next boot (and
// apparmor_parser 4.1 skips such a file even when named). A rejected
// install leaves the link as it was.
func TestInstallProfilesEnables(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	ctx := context.Background()
	dir := p.ProfileDir
	os.MkdirAll(filepath.Join(dir, "disable"), 0o755)
	link := filepath.Join(dir, "disable", "svc")
	if err := os.Symlink("../svc", link); err != nil {
		t.Fatal(err)
	}
	change := func() ([]FileWrite, error) {
		return []FileWrite{{Path: filepath.Join(dir, "svc"), Content: []byte(svcProfile)},
			{Path: filepath.Join(dir, "abstractions", "svc-runtime"), Content: []byte(svcRuntime)}}, nil
	}
	t.Setenv(fakeparser.EnvReject, "1")
	if _, err := h.InstallProfiles(ctx, dir, change); err == nil {
		t.Fatal("the rejected install succeeded")
	}
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("a rejected install removed disable/svc: %v", err)
	}
	t.Setenv(fakeparser.EnvReject, "")
	if _, err := h.InstallProfiles(ctx, dir, change); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("disable/svc stayed after the install: %v", err)
	}
}
