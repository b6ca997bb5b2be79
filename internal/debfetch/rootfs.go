package debfetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/internal/statelock"
)

// Rootfs is a Debian tree made by debootstrap, cached under
// CacheDir/rootfs-<hash of suite, variant, packages and archive>, so that
// every test and build that needs the same tree (the .deb install test,
// the agent image's base layer, a VM's userland) debootstraps it once.
// The cached tree is shared: copy it (CopyTree) before changing it.
type Rootfs struct {
	Suite    string   // e.g. "bookworm"
	Variant  string   // debootstrap --variant; default "minbase"
	Include  []string // packages added to the variant's set
	CacheDir string   // default DefaultCacheDir()
	Arch     string   // default "amd64"
	// Updates also applies the suite's -updates and -security archives
	// (apt-get upgrade in the tree), as Debian's own images carry them:
	// for what is shipped (the agent image), not for tests.
	Updates bool
}

func (r Rootfs) normalized() Rootfs {
	if r.Variant == "" {
		r.Variant = "minbase"
	}
	if r.CacheDir == "" {
		r.CacheDir = DefaultCacheDir()
	}
	if r.Arch == "" {
		r.Arch = "amd64"
	}
	r.Include = slices.Compact(slices.Sorted(slices.Values(r.Include)))
	return r
}

// Key identifies the tree: the same inputs give the same key.
func (r Rootfs) Key(archive string) string {
	r = r.normalized()
	h := sha256.New()
	fmt.Fprintf(h, "suite=%s\nvariant=%s\narch=%s\narchive=%s\ninclude=%s\n",
		r.Suite, r.Variant, r.Arch, archive, strings.Join(r.Include, ","))
	if r.Updates {
		fmt.Fprintf(h, "updates=true\n")
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Ensure returns the cached tree's path, running debootstrap first when it
// is not cached yet. It needs root (debootstrap does) and the host's apt
// sources for the archive. Concurrent callers, in any process, wait for
// one build.
func (r Rootfs) Ensure(ctx context.Context) (string, error) {
	r = r.normalized()
	if r.Suite == "" {
		return "", errors.New("debfetch: Rootfs needs a Suite")
	}
	archive, err := hostArchiveURI()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(r.CacheDir, "rootfs-"+r.Key(archive))
	// One build at a time across processes; the next one finds it done.
	lock, err := statelock.Acquire(ctx, dir+".lock", nil)
	if err != nil {
		return "", err
	}
	defer lock.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "etc", "debian_version")); err == nil {
		return dir, nil
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", errors.New("debfetch: debootstrap not found; install it (apt-get install debootstrap; scripts/install-deps.sh does)")
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	args := []string{"--variant=" + r.Variant, "--arch=" + r.Arch}
	if len(r.Include) > 0 {
		args = append(args, "--include="+strings.Join(r.Include, ","))
	}
	args = append(args, r.Suite, tmp, archive)
	cmd := exec.CommandContext(ctx, "debootstrap", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		log := out.Bytes()
		if len(log) > 4000 {
			log = log[len(log)-4000:]
		}
		os.RemoveAll(tmp)
		return "", fmt.Errorf("debootstrap %s: %w\n%s", strings.Join(args, " "), err, log)
	}
	if r.Updates {
		if err := upgrade(ctx, tmp, archive, r.Suite); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
	}
	// Downloaded packages and package lists are not part of the tree.
	for _, g := range []string{"var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_*"} {
		m, _ := filepath.Glob(filepath.Join(tmp, g))
		for _, d := range m {
			os.Remove(d)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// upgrade points the tree's apt at the suite, its -updates and its
// -security archive (beside the main archive: .../debian-security) and
// upgrades every package in a chroot.
func upgrade(ctx context.Context, root, archive, suite string) error {
	security := strings.TrimSuffix(strings.TrimSuffix(archive, "/"), "/debian") + "/debian-security"
	sources := fmt.Sprintf("deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n",
		archive, suite, archive, suite, security, suite)
	if err := os.WriteFile(filepath.Join(root, "etc/apt/sources.list"), []byte(sources), 0o644); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"apt-get", "-q", "update"},
		{"apt-get", "-q", "-y", "-o", "Dpkg::Options::=--force-confold", "upgrade"},
		{"apt-get", "clean"},
	} {
		cmd := exec.CommandContext(ctx, "chroot", append([]string{root}, args...)...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"}
		if out, err := cmd.CombinedOutput(); err != nil {
			if len(out) > 4000 {
				out = out[len(out)-4000:]
			}
			return fmt.Errorf("in %s: %s: %w\n%s", root, strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// CopyTree copies a tree with owners, modes, links and device nodes
// (cp -a), for a test that installs into a cached Rootfs.
func CopyTree(ctx context.Context, src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "cp", "-a", "--reflink=auto", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cp -a %s %s: %w\n%s", src, dst, err, out)
	}
	return nil
}
