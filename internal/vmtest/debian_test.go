package vmtest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestOmitted(t *testing.T) {
	for rel, want := range map[string]bool{
		"dev": false, "dev/null": true, "usr/share/doc": true, "usr/share/doc/nginx/copyright": true,
		"usr/share/docs": false, "usr/share/zoneinfo/UTC": false, "var/lib/apt/lists/x_Packages": true, "etc/nginx": false,
	} {
		if got := omitted(rel); got != want {
			t.Errorf("omitted(%q) = %v, want %v", rel, got, want)
		}
	}
}

// TestInTree maps paths under merged-/usr links into /usr, so that the boot
// archive never replaces a link with a directory.
func TestInTree(t *testing.T) {
	tree := t.TempDir()
	os.MkdirAll(filepath.Join(tree, "usr/sbin"), 0o755)
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	os.Symlink("usr/sbin", filepath.Join(tree, "sbin"))
	for in, want := range map[string]string{
		"/sbin/apparmor_parser": "/usr/sbin/apparmor_parser",
		"/etc/hosts":            "/etc/hosts",
		"/opt/x":                "/opt/x",
		"/usr/sbin/x":           "/usr/sbin/x",
	} {
		if got := inTree(tree, in); got != want {
			t.Errorf("inTree(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMatchTreeDirs: a staged directory that exists in the tree takes its
// owner and mode (the kernel applies a cpio directory's to the unpacked
// one); a new one stays as staged.
func TestMatchTreeDirs(t *testing.T) {
	tree, staged := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(tree, "tmp"), 0o755)
	os.Chmod(filepath.Join(tree, "tmp"), 0o777|os.ModeSticky)
	os.MkdirAll(filepath.Join(tree, "var/lib/pg"), 0o700)
	os.Chown(filepath.Join(tree, "var/lib/pg"), 123, 456)
	for _, d := range []string{"tmp", "var/lib/pg", "opt/new"} {
		os.MkdirAll(filepath.Join(staged, d), 0o755)
	}
	if err := matchTreeDirs(staged, tree); err != nil {
		t.Fatal(err)
	}
	check := func(rel string, mode os.FileMode, uid int) {
		fi, err := os.Stat(filepath.Join(staged, rel))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (os.ModePerm | os.ModeSticky); got != mode {
			t.Errorf("%s: mode %v, want %v", rel, got, mode)
		}
		if os.Getuid() == 0 {
			if got := int(fi.Sys().(*syscall.Stat_t).Uid); got != uid {
				t.Errorf("%s: uid %d, want %d", rel, got, uid)
			}
		}
	}
	check("tmp", 0o777|os.ModeSticky, 0)
	check("var/lib/pg", 0o700, 123)
	check("opt/new", 0o755, os.Getuid())
}
