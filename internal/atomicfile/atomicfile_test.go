package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func setup(t *testing.T) (dir, backups string, root *os.Root) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "apparmor.d")
	backups = filepath.Join(t.TempDir(), "state", "backup")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return dir, backups, root
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// onlyFiles lists dir's entries, so tests can assert that no temporary file
// or backup was left beside the target.
func onlyFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteNewFile(t *testing.T) {
	dir, backups, root := setup(t)
	b, err := WriteFile(root, "myapp", []byte("profile myapp {}\n"), 0o644, backups)
	if err != nil {
		t.Fatal(err)
	}
	if b.Existed() {
		t.Errorf("Existed() = true for a new file")
	}
	if got := readFile(t, filepath.Join(dir, "myapp")); got != "profile myapp {}\n" {
		t.Errorf("content = %q", got)
	}
	fi, _ := os.Stat(filepath.Join(dir, "myapp"))
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
	}
	if got := onlyFiles(t, dir); len(got) != 1 {
		t.Errorf("directory holds %v, want only myapp", got)
	}
	// Restore of a file that did not exist removes it.
	if err := b.Restore(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "myapp")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Restore the new file still exists: %v", err)
	}
}

func TestReplaceKeepsBackupInStateDirAndMode(t *testing.T) {
	dir, backups, root := setup(t)
	target := filepath.Join(dir, "myapp")
	if err := os.WriteFile(target, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o640); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		if err := os.Chown(target, 1234, 5678); err != nil {
			t.Fatal(err)
		}
	}
	b, err := WriteFile(root, "myapp", []byte("new\n"), 0o600, backups)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, target); got != "new\n" {
		t.Errorf("content = %q", got)
	}
	fi, _ := os.Stat(target)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want the previous 0640", fi.Mode().Perm())
	}
	if os.Getuid() == 0 {
		if o := ownerOf(fi); o == nil || o.uid != 1234 || o.gid != 5678 {
			t.Errorf("owner = %+v, want the previous 1234:5678", o)
		}
	}
	if !b.Existed() || !strings.HasPrefix(b.Path, BackupPath(backups, target)) {
		t.Fatalf("backup at %q, want under %q", b.Path, BackupPath(backups, target))
	}
	if !strings.HasPrefix(b.Path, backups) {
		t.Errorf("backup %q is not in the state directory %q", b.Path, backups)
	}
	if got := readFile(t, b.Path); got != "old\n" {
		t.Errorf("backup content = %q, want old", got)
	}
	if got := onlyFiles(t, dir); len(got) != 1 {
		t.Errorf("profile directory holds %v, want only myapp (no backup beside it)", got)
	}
	if err := b.Restore(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, target); got != "old\n" {
		t.Errorf("after Restore content = %q, want old", got)
	}
	fi, _ = os.Stat(target)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("after Restore mode = %v, want 0640", fi.Mode().Perm())
	}
}

// Failures before the rename leave the target untouched and no temporary
// file behind; a failure after it restores the previous version and names
// the backup.
func TestFailureInjection(t *testing.T) {
	boom := errors.New("injected failure")
	once := func() func(string) error {
		done := false
		return func(name string) error {
			if done || name != "myapp" {
				return nil
			}
			done = true
			return boom
		}
	}
	cases := []struct {
		name      string
		set       func(func(string) error)
		wantMsg   string
		wantAfter string
	}{
		{"write", func(h func(string) error) { hooks.write = h }, "write temporary file", "old\n"},
		{"fsync", func(h func(string) error) { hooks.sync = h }, "sync temporary file", "old\n"},
		{"rename", func(h func(string) error) { hooks.rename = h }, "rename into place", "old\n"},
		{"dir fsync", func(h func(string) error) { hooks.syncDir = h }, "the previous version was restored (a copy is kept in ", "old\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, backups, root := setup(t)
			target := filepath.Join(dir, "myapp")
			os.WriteFile(target, []byte("old\n"), 0o644)
			tc.set(once())
			t.Cleanup(func() { hooks.write, hooks.sync, hooks.rename, hooks.syncDir = nil, nil, nil, nil })
			_, err := WriteFile(root, "myapp", []byte("new\n"), 0o644, backups)
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want the injected failure", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) || !strings.Contains(err.Error(), target) {
				t.Errorf("err = %q, want it to name %s and contain %q", err, target, tc.wantMsg)
			}
			if got := readFile(t, target); got != tc.wantAfter {
				t.Errorf("content after failure = %q, want %q", got, tc.wantAfter)
			}
			if got := onlyFiles(t, dir); len(got) != 1 {
				t.Errorf("directory holds %v after failure, want only myapp", got)
			}
		})
	}
}

// A crash between creating the temporary file and renaming it leaves a dot
// file, which the next write ignores (and AppArmor's loader skips).
func TestLeftoverTempFromCrash(t *testing.T) {
	dir, backups, root := setup(t)
	os.WriteFile(filepath.Join(dir, ".myapp.armorer-deadbeef0000"), []byte("half"), 0o600)
	if _, err := WriteFile(root, "myapp", []byte("new\n"), 0o644, backups); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "myapp")); got != "new\n" {
		t.Errorf("content = %q", got)
	}
}

func TestNamesCannotEscapeRoot(t *testing.T) {
	dir, backups, root := setup(t)
	outside := filepath.Join(filepath.Dir(dir), "outside")
	for _, name := range []string{"../outside", "/etc/passwd", "a/../../outside"} {
		if _, err := WriteFile(root, name, []byte("x"), 0o644, backups); err == nil {
			t.Errorf("WriteFile(%q) succeeded, want an error", name)
		}
	}
	if _, err := os.Stat(outside); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file was written outside the root: %v", err)
	}
	// A symlink pointing out of the root is not followed either.
	os.Symlink("../outside", filepath.Join(dir, "link"))
	if _, err := WriteFile(root, "link", []byte("x"), 0o644, backups); err == nil {
		t.Errorf("writing through a symlink succeeded")
	}
	if _, err := os.Stat(outside); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file was written outside the root: %v", err)
	}
}

func TestBackupsArePruned(t *testing.T) {
	dir, backups, root := setup(t)
	target := filepath.Join(dir, "myapp")
	os.WriteFile(target, []byte("v0"), 0o644)
	for i := range KeepBackups + 3 {
		if _, err := WriteFile(root, "myapp", []byte{'v', byte('a' + i)}, 0o644, backups); err != nil {
			t.Fatal(err)
		}
	}
	all, err := Backups(backups, target)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != KeepBackups {
		t.Fatalf("%d backups kept, want %d", len(all), KeepBackups)
	}
	// The newest backup holds the version before the last write.
	if got := readFile(t, all[len(all)-1]); got != string([]byte{'v', byte('a' + KeepBackups + 1)}) {
		t.Errorf("newest backup = %q", got)
	}
}

func TestWritePath(t *testing.T) {
	dir, backups, _ := setup(t)
	target := filepath.Join(dir, "f")
	if _, err := WritePath(target, []byte("x"), 0o600, backups); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, target); got != "x" {
		t.Errorf("content = %q", got)
	}
}

// Without a backup directory, a failure after the rename never deletes
// the file that existed: the new version stays, and the error says so.
func TestLateFailureWithoutBackupKeepsFile(t *testing.T) {
	dir, _, root := setup(t)
	target := filepath.Join(dir, "myapp")
	os.WriteFile(target, []byte("old\n"), 0o644)
	hooks.syncDir = func(name string) error {
		if name == "myapp" {
			return errors.New("injected failure")
		}
		return nil
	}
	t.Cleanup(func() { hooks.syncDir = nil })
	b, err := WriteFile(root, "myapp", []byte("new\n"), 0o644, "")
	if err == nil || !strings.Contains(err.Error(), "no backup was kept") {
		t.Errorf("err = %v", err)
	}
	if got := readFile(t, target); got != "new\n" {
		t.Errorf("content = %q, want the new version kept", got)
	}
	if b != nil {
		t.Errorf("backup returned on error")
	}
	hooks.syncDir = nil
	b, err = WriteFile(root, "myapp", []byte("newer\n"), 0o644, "")
	if err != nil || !b.Existed() || b.Restore() == nil {
		t.Errorf("without a backup: err %v, Existed %v; Restore must fail", err, b.Existed())
	}
}

// TestStaleTempsRemoved: temporary files a killed writer left (SIGKILL
// between create and rename) go on the next write to their directory:
// those of a process that is gone, and old ones whose owner is unknown; a
// running writer's fresh file stays (issue 13 item 11).
func TestStaleTempsRemoved(t *testing.T) {
	dir, backups, root := setup(t)
	// A pid that does not run: a child that has exited and been reaped.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	dead := cmd.Process.Pid
	old := time.Now().Add(-2 * StaleTemp)
	files := map[string]bool{ // name: should survive
		fmt.Sprintf(".myapp.armorer-%d-aaaaaaaaaaaa", dead):        false,
		fmt.Sprintf(".myapp.armorer-check-%d-bbbbbbbbbbbb", dead):  false,
		".myapp.armorer-0123456789ab":                              true,  // unknown owner, fresh
		".other.armorer-0123456789ac":                              false, // unknown owner, old
		fmt.Sprintf(".myapp.armorer-%d-cccccccccccc", os.Getpid()): true,  // a running writer
		// A running writer's file older than StaleTemp: a validation that
		// runs long (a large profile on a loaded machine) keeps its copy.
		fmt.Sprintf(".myapp.armorer-check-%d-dddddddddddd", os.Getpid()): true,
		".myapp.keep": true,
	}
	for name := range files {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("partial"), 0o600)
		if name == ".other.armorer-0123456789ac" || strings.HasSuffix(name, "dddddddddddd") {
			os.Chtimes(p, old, old)
		}
	}
	if _, err := WriteFile(root, "myapp", []byte("new"), 0o644, backups); err != nil {
		t.Fatal(err)
	}
	for name, survive := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if got := err == nil; got != survive {
			t.Errorf("%s: exists = %v, want %v", name, got, survive)
		}
	}
}

// TestBackupsPrunedByAge: besides the count, backups older than MaxAge
// go, except the newest (issue 13 item 11).
func TestBackupsPrunedByAge(t *testing.T) {
	dir, backups, root := setup(t)
	defer func(r Retention) { BackupRetention = r }(BackupRetention)
	BackupRetention = Retention{Keep: 3, MaxAge: time.Hour}
	target := filepath.Join(dir, "myapp")
	os.WriteFile(target, []byte("v0"), 0o644)
	for i := range 3 {
		if _, err := WriteFile(root, "myapp", []byte{'v', byte('1' + i)}, 0o644, backups); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := Backups(backups, target)
	if len(all) != 3 {
		t.Fatalf("%d backups, want 3", len(all))
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, p := range all {
		os.Chtimes(p, old, old)
	}
	if _, err := WriteFile(root, "myapp", []byte("v4"), 0o644, backups); err != nil {
		t.Fatal(err)
	}
	all, _ = Backups(backups, target)
	if len(all) != 1 || readFile(t, all[0]) != "v3" {
		t.Fatalf("backups after pruning by age: %q, want only the newest (v3)", all)
	}
	// Keep applies too, and never below one.
	BackupRetention = Retention{Keep: 0}
	for _, c := range []string{"v5", "v6"} {
		WriteFile(root, "myapp", []byte(c), 0o644, backups)
	}
	if all, _ = Backups(backups, target); len(all) != 1 {
		t.Fatalf("Keep 0 kept %d backups, want 1 (the newest)", len(all))
	}
}
