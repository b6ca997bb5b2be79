//go:build e2e

package main

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/debfetch"
	"github.com/armorer-dev/armorer/internal/testenv"
)

// debRootfs is the clean Debian 12 the .deb is installed into: minbase
// plus man-db, so that `man armorer-learn` can run.
var debRootfs = debfetch.Rootfs{Suite: "bookworm", Variant: "minbase", Include: []string{"man-db"}}

const testVersion = "v0.0.0-20261203050000-9ea949b0c1d2"

// TestDebInstallPurge builds the .deb as `make deb` does, checks it with
// lintian, installs it with dpkg -i in a clean debootstrap chroot, runs
// `armorer version` and `man armorer-learn` there, purges it and checks
// that the tree holds exactly the files it held before.
func TestDebInstallPurge(t *testing.T) {
	for _, tool := range []string{"lintian", "debootstrap", "chroot", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "%s not installed (scripts/install-deps.sh)", tool)
		}
	}
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root for debootstrap and chroot")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	debPath := buildTestDeb(t, ctx)
	lint, err := exec.CommandContext(ctx, "lintian", "--no-cfg", "-I", "-E", "--pedantic", "--fail-on", "error,warning", debPath).CombinedOutput()
	if err != nil {
		t.Errorf("lintian: %v\n%s", err, lint)
	}
	t.Logf("lintian:\n%s", lint)

	base, err := debRootfs.Ensure(ctx)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "root")
	if err := debfetch.CopyTree(ctx, base, root); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(debPath, filepath.Join(root, "tmp", "armorer.deb")); err != nil {
		t.Fatal(err)
	}
	before := treeList(t, root)

	run := func(args ...string) string {
		t.Helper()
		cctx, c := context.WithTimeout(ctx, 2*time.Minute)
		defer c()
		cmd := exec.CommandContext(cctx, "chroot", append([]string{root}, args...)...)
		cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LC_ALL=C.UTF-8", "MANPAGER=cat", "MANWIDTH=80"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("dpkg", "-i", "/tmp/armorer.deb")

	if out := run("armorer", "version"); !strings.Contains(out, "armorer "+testVersion+"\n") || !strings.Contains(out, "commit:  9ea949b0c1d2") {
		t.Errorf("armorer version in the chroot:\n%s", out)
	}
	if out := run("man", "armorer-learn"); !strings.Contains(out, "ARMORER-LEARN(1)") || !strings.Contains(out, "--glob") {
		t.Errorf("man armorer-learn in the chroot:\n%.2000s", out)
	}
	if out := run("stat", "-c", "%U:%G %a", "/var/lib/armorer"); out != "root:root 755\n" {
		t.Errorf("/var/lib/armorer is %q, want root:root 755", out)
	}
	for _, p := range []string{
		"/usr/share/bash-completion/completions/armorer", "/usr/share/zsh/vendor-completions/_armorer",
		"/usr/share/fish/vendor_completions.d/armorer.fish", "/lib/systemd/system/armorer-monitor.service",
		"/usr/share/doc/armorer/examples/armorer-alerts.yml", "/usr/share/doc/armorer/examples/armorer-apparmor.json",
	} {
		run("test", "-s", p)
	}
	// What armorer leaves at run time (backups, stored events) goes on purge too.
	run("mkdir", "-p", "/var/lib/armorer/backup")
	run("touch", "/var/lib/armorer/backup/myapp.1")

	run("dpkg", "--purge", "armorer")
	after := treeList(t, root)
	if added, removed := diffLists(before, after); len(added)+len(removed) > 0 {
		t.Errorf("dpkg --purge left the tree changed:\nleft behind: %v\nremoved: %v", added, removed)
	}
}

// buildTestDeb builds the binary, the docs and the .deb as the Makefile does.
func buildTestDeb(t *testing.T, ctx context.Context) string {
	t.Helper()
	dir := t.TempDir()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "armorer")
	const bi = "github.com/armorer-dev/armorer/internal/buildinfo"
	build := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X "+bi+".version="+testVersion+" -X "+bi+".commit=9ea949b0c1d2 -X "+bi+".date=2026-12-03T05:00:00Z",
		"-o", bin, "./cmd/armorer")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	docs := filepath.Join(dir, "docs")
	gen := exec.CommandContext(ctx, "go", "run", "./scripts/gendoc", "-out", docs, "-version", testVersion, "-date", "2026-12-03T05:00:00Z")
	gen.Dir = repo
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("gendoc: %v\n%s", err, out)
	}
	deb, err := BuildDeb(DebInput{
		Binary: bin, Docs: docs, Unit: filepath.Join(repo, "contrib/systemd/armorer-monitor.service"), Contrib: filepath.Join(repo, "contrib"),
		Version: testVersion, Date: time.Date(2026, 12, 3, 5, 0, 0, 0, time.UTC),
	}, dir)
	if err != nil {
		t.Fatal(err)
	}
	return deb
}

// volatile are the paths whose presence dpkg and man-db change as a matter
// of course on any install and removal (logs, database backups, man-db's
// index), and the test's own copy of the .deb: not files of the package.
// dpkg's per-package files (var/lib/dpkg/info/armorer.*) are compared.
var volatile = []string{
	"var/log/*", "var/cache/man/*", "var/cache/debconf/*-old", "var/lib/dpkg/*-old",
	"var/lib/dpkg/triggers/*", "tmp/armorer.deb",
}

// treeList lists every path under root (with its type), minus volatile ones.
func treeList(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			rel += "/"
		}
		for _, v := range volatile {
			if ok, _ := path.Match(v, strings.TrimSuffix(rel, "/")); ok {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
		}
		out = append(out, rel+" "+d.Type().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func diffLists(before, after []string) (added, removed []string) {
	for _, a := range after {
		if _, ok := slices.BinarySearch(before, a); !ok {
			added = append(added, a)
		}
	}
	for _, b := range before {
		if _, ok := slices.BinarySearch(after, b); !ok {
			removed = append(removed, b)
		}
	}
	return added, removed
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}
