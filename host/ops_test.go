package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/internal/atomicfile"
	"github.com/armorer-dev/armorer/internal/fakeparser"
)

func readString(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func loadedProfiles(t *testing.T, h *Host) string {
	t.Helper()
	return readString(t, filepath.Join(h.Paths.SecurityFS, "apparmor", "profiles"))
}

func dirNamesT(t *testing.T, dir string) []string {
	t.Helper()
	names, err := dirNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestResolve(t *testing.T) {
	p := fixture(t, "full")
	h := New(p, nil)
	os.WriteFile(filepath.Join(p.ProfileDir, "usr.sbin.nscd"), []byte("profile x {}\n"), 0o644)
	os.MkdirAll(filepath.Join(p.ProfileDir, "sub"), 0o755)
	os.WriteFile(filepath.Join(p.ProfileDir, "sub", "inner"), []byte("profile y {}\n"), 0o644)
	outside := filepath.Join(t.TempDir(), "myapp.profile")
	os.WriteFile(outside, []byte("profile myapp {}\n"), 0o644)
	binary := filepath.Join(t.TempDir(), "bin")
	os.WriteFile(binary, []byte("\x7fELF\x02\x01"), 0o755)

	for _, tc := range []struct {
		arg, name, source string
	}{
		{arg: "usr.sbin.nscd", name: "usr.sbin.nscd"},
		{arg: "/usr/sbin/nscd", name: "usr.sbin.nscd"}, // binary path → conventional file name
		{arg: filepath.Join(p.ProfileDir, "usr.sbin.nscd"), name: "usr.sbin.nscd"},
		{arg: "sub/inner", name: "sub/inner"},
		{arg: outside, name: "myapp.profile", source: outside},
		{arg: "x", name: "usr.sbin.nscd"}, // a profile name, defined in a file of another name
	} {
		got, err := h.Resolve(tc.arg)
		if err != nil || got.Name != tc.name || got.Source != tc.source {
			t.Errorf("Resolve(%q) = %+v, %v; want name %q source %q", tc.arg, got, err, tc.name, tc.source)
		}
	}
	for _, arg := range []string{"", "nosuch", "../../etc/passwd", "sub/../../x", binary} {
		_, err := h.Resolve(arg)
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Errorf("Resolve(%q) = %v, want *NotFoundError", arg, err)
		}
	}
	// A file from outside whose name the loader skips would be installed
	// and loaded now, and be gone after the next boot.
	for _, base := range []string{".hidden", "README", "myapp.dpkg-new", "myapp.rpmsave"} {
		skipped := filepath.Join(t.TempDir(), base)
		os.WriteFile(skipped, []byte("profile myapp {}\n"), 0o644)
		if got, err := h.Resolve(skipped); err == nil || !strings.Contains(err.Error(), "skipped by the AppArmor loader") {
			t.Errorf("Resolve(%q) = %+v, %v; want it refused as a name the loader skips", skipped, got, err)
		}
	}
}

func TestLoadInstallsAndReportsUnconfined(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	ctx := context.Background()
	src := filepath.Join("testdata", "profiles", "myapp")
	f, err := h.Resolve(src)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Load(ctx, f, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "replaced" || res.Mode != Enforce || !slices.Equal(res.Profiles, []string{"myapp", "myapp//child"}) {
		t.Errorf("result = %+v", res)
	}
	if got := readString(t, filepath.Join(p.ProfileDir, "myapp")); got != readString(t, src) {
		t.Errorf("installed file differs from the source")
	}
	if res.Backup != "" {
		t.Errorf("backup %q for a new file", res.Backup)
	}
	// PID 102 runs /opt/myapp/bin/myapp unconfined: it started before the load.
	if len(res.Unconfined) != 1 || res.Unconfined[0].PID != 102 {
		t.Errorf("unconfined = %+v, want PID 102", res.Unconfined)
	}
	if names := dirNamesT(t, p.ProfileDir); !slices.Equal(names, []string{"myapp"}) {
		t.Errorf("profile directory = %q, want only myapp (no temporary or backup files)", names)
	}

	// A new profile set is "loaded" and appears in the kernel.
	f2, _ := h.Resolve(filepath.Join("testdata", "profiles", "newapp"))
	res, err = h.Load(ctx, f2, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "loaded" || !strings.Contains(loadedProfiles(t, h), "newapp-helper (enforce)") {
		t.Errorf("result = %+v, kernel:\n%s", res, loadedProfiles(t, h))
	}
}

func TestLoadInvalidChangesNothing(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	before := loadedProfiles(t, h)
	f, _ := h.Resolve(filepath.Join("testdata", "profiles", "bad"))
	_, err := h.Load(context.Background(), f, false, nil)
	var ie *InvalidProfileError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want *InvalidProfileError", err)
	}
	// The message names the file being installed, not the temporary copy.
	if want := filepath.Join(p.ProfileDir, "bad"); !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), ".armorer-check-") {
		t.Errorf("err = %q, want it to name %s", err, want)
	}
	if names := dirNamesT(t, p.ProfileDir); len(names) != 0 {
		t.Errorf("profile directory = %q, want it untouched", names)
	}
	if loadedProfiles(t, h) != before {
		t.Errorf("kernel state changed")
	}
}

// The kernel rejects the replacement: the previous file comes back, its
// copy stays in the state directory, and the kernel state is unchanged.
func TestLoadKernelRejectionRestores(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), true)
	h := New(p, nil)
	old := "# the version that is loaded\n" + readString(t, filepath.Join("testdata", "profiles", "myapp"))
	target := filepath.Join(p.ProfileDir, "myapp")
	os.WriteFile(target, []byte(old), 0o640)
	before := loadedProfiles(t, h)

	f, _ := h.Resolve(filepath.Join("testdata", "profiles", "myapp"))
	f.Name = "myapp"
	_, err := h.Load(context.Background(), f, false, nil)
	var rb *RolledBackError
	var ke *KernelError
	if !errors.As(err, &rb) || !errors.As(err, &ke) {
		t.Fatalf("err = %v, want *RolledBackError wrapping *KernelError", err)
	}
	if got := readString(t, target); got != old {
		t.Errorf("file after rejection = %q, want the previous version", got)
	}
	fi, _ := os.Stat(target)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode after restore = %v, want 0640", fi.Mode().Perm())
	}
	backups, _ := atomicfile.Backups(p.BackupDir(), target)
	if len(backups) != 1 || rb.Backup != backups[0] || readString(t, backups[0]) != old {
		t.Errorf("backup = %q (all: %q), want one copy of the previous version in %s", rb.Backup, backups, p.BackupDir())
	}
	msg := err.Error()
	for _, want := range []string{"Permission denied", "restored the previous " + target, rb.Backup, "kernel: unchanged"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if loadedProfiles(t, h) != before {
		t.Errorf("kernel state changed")
	}
}

// A kernel that took part of the set before failing: armorer reloads the
// previous file and removes what was new, then checks the result.
func TestLoadPartialKernelRejectionRestoresKernel(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	t.Setenv(fakeparser.EnvPartial, filepath.Join(t.TempDir(), "marker"))
	// The remove of the new profile goes through securityfs .remove; the
	// fixture's stands in for the kernel's by removing the line.
	h := New(p, nil)
	os.WriteFile(filepath.Join(p.ProfileDir, "myapp"), []byte(readString(t, filepath.Join("testdata", "profiles", "myapp"))), 0o644)
	before := loadedProfiles(t, h)

	// The new version of the file adds a profile.
	src := filepath.Join(t.TempDir(), "myapp")
	os.WriteFile(src, []byte(readString(t, filepath.Join("testdata", "profiles", "myapp"))+"profile myapp-extra {}\n"), 0o644)
	f, _ := h.Resolve(src)
	h.removeHook = func(name string) error { return removeLine(t, h, name) }
	_, err := h.Load(context.Background(), f, false, nil)
	var rb *RolledBackError
	if !errors.As(err, &rb) {
		t.Fatalf("err = %v, want *RolledBackError", err)
	}
	if !strings.Contains(rb.Kernel, "restored to the previous profiles and modes") {
		t.Errorf("kernel = %q", rb.Kernel)
	}
	if got := loadedProfiles(t, h); got != sortedLines(before) {
		t.Errorf("kernel after rollback:\n%s\nwant:\n%s", got, before)
	}
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

func removeLine(t *testing.T, h *Host, name string) error {
	file := filepath.Join(h.Paths.SecurityFS, "apparmor", "profiles")
	var keep []string
	for line := range strings.Lines(readString(t, file)) {
		if n, _, err := ParseLabel(line); err == nil && n == name {
			continue
		}
		keep = append(keep, line)
	}
	return os.WriteFile(file, []byte(strings.Join(keep, "")), 0o644)
}

func TestUnloadRefusesWhileInUse(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	ctx := context.Background()
	os.WriteFile(filepath.Join(p.ProfileDir, "myapp"), []byte(readString(t, filepath.Join("testdata", "profiles", "myapp"))), 0o644)
	f, _ := h.Resolve("myapp")
	_, err := h.Unload(ctx, f, false)
	var iu *InUseError
	if !errors.As(err, &iu) || iu.Profile != "myapp" || len(iu.Procs) != 2 {
		t.Fatalf("err = %v, want *InUseError for myapp with PIDs 100 and 105", err)
	}
	if !strings.Contains(err.Error(), "100 (myapp)") || !strings.Contains(err.Error(), "--force") {
		t.Errorf("err = %q", err)
	}
	if !strings.Contains(loadedProfiles(t, h), "myapp (enforce)") {
		t.Errorf("refused unload removed the profile")
	}
	res, err := h.Unload(ctx, f, true)
	if err != nil || res.Action != "unloaded" {
		t.Fatalf("forced unload = %+v, %v", res, err)
	}
	if strings.Contains(loadedProfiles(t, h), "myapp") {
		t.Errorf("profile still loaded:\n%s", loadedProfiles(t, h))
	}
	if _, err := os.Stat(filepath.Join(p.ProfileDir, "myapp")); err != nil {
		t.Errorf("unload removed the file: %v", err)
	}
	res, err = h.Unload(ctx, f, false)
	if err != nil || res.Action != "not loaded" {
		t.Errorf("second unload = %+v, %v; want not loaded", res, err)
	}
}

func TestDisable(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	ctx := context.Background()
	os.WriteFile(filepath.Join(p.ProfileDir, "newapp"), []byte(readString(t, filepath.Join("testdata", "profiles", "newapp"))), 0o644)
	f, _ := h.Resolve("newapp")
	if _, err := h.Load(ctx, f, false, nil); err != nil {
		t.Fatal(err)
	}
	res, err := h.Disable(ctx, f, false)
	if err != nil || res.Action != "disabled" {
		t.Fatalf("Disable = %+v, %v", res, err)
	}
	link, err := os.Readlink(filepath.Join(p.ProfileDir, "disable", "newapp"))
	if err != nil || link != "../newapp" {
		t.Errorf("disable/newapp -> %q, %v; want ../newapp", link, err)
	}
	if strings.Contains(loadedProfiles(t, h), "newapp") {
		t.Errorf("disabled profile still loaded")
	}
	// Disabling again is idempotent.
	if _, err := h.Disable(ctx, f, false); err != nil {
		t.Errorf("second Disable = %v", err)
	}
}

func TestDisableRefusesWhileInUse(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	os.WriteFile(filepath.Join(p.ProfileDir, "myapp"), []byte(readString(t, filepath.Join("testdata", "profiles", "myapp"))), 0o644)
	f, _ := h.Resolve("myapp")
	_, err := h.Disable(context.Background(), f, false)
	var iu *InUseError
	if !errors.As(err, &iu) {
		t.Fatalf("err = %v, want *InUseError", err)
	}
	if _, err := os.Lstat(filepath.Join(p.ProfileDir, "disable", "myapp")); err == nil {
		t.Errorf("refused disable still created the disable/ link")
	}
}

// complain and enforce change the flags in the file (nothing else), keep
// the previous version, and reload; the fixture kernel then reports the
// mode from the file.
func TestSetMode(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	ctx := context.Background()
	orig := readString(t, filepath.Join("testdata", "profiles", "myapp"))
	target := filepath.Join(p.ProfileDir, "myapp")
	os.WriteFile(target, []byte(orig), 0o644)
	os.MkdirAll(filepath.Join(p.ProfileDir, "disable"), 0o755)
	os.Symlink("../myapp", filepath.Join(p.ProfileDir, "disable", "myapp"))
	f, _ := h.Resolve("myapp")

	res, err := h.SetMode(ctx, f, Complain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != Complain || res.Backup == "" {
		t.Errorf("result = %+v, want complain with a backup", res)
	}
	want := strings.Replace(orig, "profile myapp /opt/myapp/bin/myapp {", "profile myapp /opt/myapp/bin/myapp flags=(complain) {", 1)
	want = strings.Replace(want, "profile child {", "profile child flags=(complain) {", 1)
	if got := readString(t, target); got != want {
		t.Errorf("file after complain:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(loadedProfiles(t, h), "myapp (complain)") {
		t.Errorf("kernel:\n%s", loadedProfiles(t, h))
	}
	if _, err := os.Lstat(filepath.Join(p.ProfileDir, "disable", "myapp")); err == nil {
		t.Errorf("complain left the disable/ link: the profile would not load at boot")
	}

	res, err = h.SetMode(ctx, f, Enforce, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != Enforce || readString(t, target) != orig {
		t.Errorf("enforce: mode %s, file:\n%s\nwant the original", res.Mode, readString(t, target))
	}
}

func TestLoadComplain(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	f, _ := h.Resolve(filepath.Join("testdata", "profiles", "newapp"))
	res, err := h.Load(context.Background(), f, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != Complain || !strings.Contains(readString(t, filepath.Join(p.ProfileDir, "newapp")), "profile newapp /opt/newapp/bin/newapp flags=(complain) {") {
		t.Errorf("result %+v; file:\n%s", res, readString(t, filepath.Join(p.ProfileDir, "newapp")))
	}
	// The source file outside the profile directory is not touched.
	if strings.Contains(readString(t, filepath.Join("testdata", "profiles", "newapp")), "complain") {
		t.Errorf("load --complain edited the source file")
	}
}

// The kernel rejects an enforce: file and kernel mode stay complain.
func TestSetModeKernelRejection(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "locked"), true)
	h := New(p, nil)
	orig := "profile myapp /opt/myapp/bin/myapp flags=(complain) {\n}\n"
	target := filepath.Join(p.ProfileDir, "myapp")
	os.WriteFile(target, []byte(orig), 0o644)
	f, _ := h.Resolve("myapp")
	_, err := h.SetMode(context.Background(), f, Enforce, nil)
	var rb *RolledBackError
	if !errors.As(err, &rb) {
		t.Fatalf("err = %v, want *RolledBackError", err)
	}
	if !strings.Contains(err.Error(), lockedHint) {
		t.Errorf("err = %q, want the lock_policy explanation", err)
	}
	if readString(t, target) != orig || !strings.Contains(loadedProfiles(t, h), "myapp (complain)") {
		t.Errorf("after rejection: file %q, kernel %q", readString(t, target), loadedProfiles(t, h))
	}
}

func TestResolveLoadAmbiguous(t *testing.T) {
	p := fixture(t, "full")
	h := New(p, nil)
	os.WriteFile(filepath.Join(p.ProfileDir, "amb"), []byte("profile amb {}\n"), 0o644)
	t.Chdir(t.TempDir())
	os.WriteFile("amb", []byte("profile amb { /x r, }\n"), 0o644)
	var ae *AmbiguousError
	if _, err := h.ResolveLoad("amb"); !errors.As(err, &ae) {
		t.Errorf("ResolveLoad(amb) = %v, want *AmbiguousError", err)
	}
	if f, err := h.Resolve("amb"); err != nil || f.Source != "" {
		t.Errorf("Resolve(amb) = %+v, %v; want the installed file", f, err)
	}
	if f, err := h.ResolveLoad("./amb"); err != nil || f.Source == "" {
		t.Errorf("ResolveLoad(./amb) = %+v, %v; want the file here", f, err)
	}
	os.WriteFile("amb", []byte("profile amb {}\n"), 0o644)
	if _, err := h.ResolveLoad("amb"); err != nil {
		t.Errorf("same content: %v", err)
	}
}

func TestUnloadBySourceFile(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	f, _ := h.Resolve(filepath.Join("testdata", "profiles", "newapp"))
	if _, err := h.Load(context.Background(), f, false, nil); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(p.ProfileDir, "newapp")) // only the outside file is left
	res, err := h.Unload(context.Background(), f, false)
	if err != nil || res.Action != "unloaded" || strings.Contains(loadedProfiles(t, h), "newapp") {
		t.Errorf("Unload(outside file) = %+v, %v; kernel:\n%s", res, err, loadedProfiles(t, h))
	}
}

// A rejected enforce of a disabled profile leaves it disabled.
func TestSetModeRejectedKeepsDisableLink(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), true)
	h := New(p, nil)
	os.WriteFile(filepath.Join(p.ProfileDir, "newapp"), []byte(readString(t, filepath.Join("testdata", "profiles", "newapp"))), 0o644)
	os.MkdirAll(filepath.Join(p.ProfileDir, "disable"), 0o755)
	os.Symlink("../newapp", filepath.Join(p.ProfileDir, "disable", "newapp"))
	f, _ := h.Resolve("newapp")
	if _, err := h.SetMode(context.Background(), f, Enforce, nil); err == nil {
		t.Fatal("SetMode succeeded against a rejecting kernel")
	}
	if link, err := os.Readlink(filepath.Join(p.ProfileDir, "disable", "newapp")); err != nil || link != "../newapp" {
		t.Errorf("disable/newapp = %q, %v; want it back after the rejection", link, err)
	}
}

func TestCheckLoaded(t *testing.T) {
	h := New(fixture(t, "full"), nil)
	if err := h.checkLoaded("f", []string{"myapp", "myapp//child"}); err != nil {
		t.Errorf("loaded profiles: %v", err)
	}
	err := h.checkLoaded("f", []string{"myapp", "ghost"})
	var ke *KernelError
	if !errors.As(err, &ke) || !strings.Contains(err.Error(), "the kernel does not list ghost") {
		t.Errorf("err = %v, want a *KernelError naming ghost", err)
	}
}

// TestSetModeOutsideRefuses: complain/enforce on a file outside the
// profile directory would replace the installed profile of the same base
// name; without Install it is refused and the error names that file
// (issue 13 item 7).
func TestSetModeOutsideRefuses(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	installed := filepath.Join(p.ProfileDir, "myapp")
	orig := "profile myapp /opt/myapp/bin/myapp {\n  /installed r,\n}\n"
	os.WriteFile(installed, []byte(orig), 0o644)
	elsewhere := filepath.Join(t.TempDir(), "myapp")
	os.WriteFile(elsewhere, []byte("profile myapp /opt/myapp/bin/myapp {\n  /other r,\n}\n"), 0o644)
	f, err := h.Resolve(elsewhere)
	if err != nil || f.Source == "" {
		t.Fatalf("Resolve(%s) = %+v, %v; want a Source outside the directory", elsewhere, f, err)
	}
	_, err = h.SetMode(context.Background(), f, Complain, nil)
	var oe *OutsideError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), installed) {
		t.Fatalf("err = %v, want an *OutsideError naming %s", err, installed)
	}
	if got := readString(t, installed); got != orig {
		t.Fatalf("the installed profile was replaced:\n%s", got)
	}
	f.Install = true
	if _, err := h.SetMode(context.Background(), f, Complain, nil); err != nil {
		t.Fatalf("with Install: %v", err)
	}
	if got := readString(t, installed); !strings.Contains(got, "/other r,") || !strings.Contains(got, "flags=(complain)") {
		t.Errorf("with Install the file is not installed in complain mode:\n%s", got)
	}
}
