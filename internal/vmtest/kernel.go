package vmtest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/armorer-dev/armorer/internal/debfetch"
	"github.com/armorer-dev/armorer/internal/testenv"
)

// Kernel names a Debian release whose stock kernel and apparmor_parser a VM uses.
type Kernel struct {
	Name  string // short name used in fixture paths and test names, e.g. "debian12"
	Suite string // Debian suite the kernel and parser come from
	ABI   string // newest policy ABI the release's parser ships, e.g. "3.0", "4.0"
	// Series is the kernel's major.minor, e.g. "6.1"; fixture directories are Name-Series.
	Series string
}

var (
	// Debian12 is bookworm: kernel 6.1, apparmor_parser 3.0.8.
	Debian12 = Kernel{Name: "debian12", Suite: "bookworm", ABI: "3.0", Series: "6.1"}
	// Debian13 is trixie: kernel 6.12, apparmor_parser 4.1.
	Debian13 = Kernel{Name: "debian13", Suite: "trixie", ABI: "4.0", Series: "6.12"}
)

// Kernels lists every kernel the e2e suite runs on.
var Kernels = []Kernel{Debian12, Debian13}

// Assets are the cached, host-side files a VM of one Kernel boots from.
type Assets struct {
	Kernel        Kernel
	Vmlinuz       string // kernel image
	KernelPackage string // e.g. "linux-image-6.1.0-50-amd64_6.1.176-1_amd64"
	// AppArmorRoot is the suite's apparmor and libc6 packages unpacked: the
	// parser, its libraries, /etc/apparmor.d and the features file.
	AppArmorRoot    string
	AppArmorPackage string // e.g. "apparmor_3.0.8-3_amd64"
	Busybox         string // static busybox on the host
}

// Prepare downloads (or reuses from the cache) everything a VM of k needs.
func (k Kernel) Prepare(ctx context.Context) (*Assets, error) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		return nil, errors.New("vmtest: qemu-system-x86_64 not found: apt-get install --no-install-recommends qemu-system-x86 (scripts/install-deps.sh)")
	}
	bb, err := findBusybox()
	if err != nil {
		return nil, err
	}
	f := &debfetch.Fetcher{Suite: k.Suite, CacheDir: debfetch.DefaultCacheDir()}
	meta, err := f.Apt(ctx, "apt-cache", "depends", "linux-image-amd64")
	if err != nil {
		return nil, fmt.Errorf("vmtest: resolve %s kernel: %w", k.Suite, err)
	}
	pkg, err := kernelDependency(meta)
	if err != nil {
		return nil, fmt.Errorf("vmtest: %s: %w", k.Suite, err)
	}
	debs, err := f.Download(ctx, pkg)
	if err != nil {
		return nil, err
	}
	vmlinuz, err := cachedVmlinuz(ctx, debs[0])
	if err != nil {
		return nil, err
	}
	aaDebs, err := f.Download(ctx, "apparmor", "libc6")
	if err != nil {
		return nil, err
	}
	root, err := cachedRoot(ctx, aaDebs)
	if err != nil {
		return nil, err
	}
	return &Assets{
		Kernel:          k,
		Vmlinuz:         vmlinuz,
		KernelPackage:   strings.TrimSuffix(filepath.Base(debs[0]), ".deb"),
		AppArmorRoot:    root,
		AppArmorPackage: strings.TrimSuffix(filepath.Base(aaDebs[0]), ".deb"),
		Busybox:         bb,
	}, nil
}

type prepared struct {
	a   *Assets
	err error
}

var (
	preparedMu sync.Mutex
	preparedBy = map[Kernel]prepared{}
)

// Need prepares k's assets for a test, once per test binary. Outside CI a
// missing component skips the test; with CI set it fails it, so a forgotten
// install step can never turn the suite green.
func Need(t testing.TB, k Kernel) *Assets {
	t.Helper()
	preparedMu.Lock()
	p, ok := preparedBy[k]
	if !ok {
		p.a, p.err = k.Prepare(context.Background())
		preparedBy[k] = p
	}
	preparedMu.Unlock()
	a, err := p.a, p.err
	if err != nil {
		testenv.Missing(t, "VM for %s unavailable: %v", k.Name, err)
	}
	return a
}

var dependsRE = regexp.MustCompile(`(?m)^\s*Depends:\s*(linux-image-[0-9][^\s]*)`)

// kernelDependency picks the versioned kernel package out of `apt-cache
// depends linux-image-amd64`.
func kernelDependency(out []byte) (string, error) {
	m := dependsRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no linux-image-<version> dependency in apt-cache depends linux-image-amd64: %q", out)
	}
	return string(m[1]), nil
}

func findBusybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", errors.New("vmtest: busybox not found: apt-get install busybox-static (scripts/install-deps.sh)")
}

// cachedVmlinuz extracts ./boot/vmlinuz-* from a kernel .deb once, next to it.
func cachedVmlinuz(ctx context.Context, deb string) (string, error) {
	out := strings.TrimSuffix(deb, ".deb") + ".vmlinuz"
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("dpkg-deb --fsys-tarfile %s: %w", deb, err)
	}
	found, err := extractVmlinuz(pipe, out)
	io.Copy(io.Discard, pipe)
	werr := cmd.Wait()
	if err != nil {
		return "", fmt.Errorf("%s: %w", deb, err)
	}
	if werr != nil {
		return "", fmt.Errorf("dpkg-deb --fsys-tarfile %s: %w: %s", deb, werr, stderr.String())
	}
	if !found {
		return "", fmt.Errorf("%s has no ./boot/vmlinuz-*", deb)
	}
	return out, nil
}

func extractVmlinuz(r io.Reader, out string) (bool, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if !strings.HasPrefix(h.Name, "./boot/vmlinuz-") || h.Typeflag != tar.TypeReg {
			continue
		}
		tmp := out + ".tmp"
		fh, err := os.Create(tmp)
		if err != nil {
			return false, err
		}
		if _, err := io.Copy(fh, tr); err != nil {
			fh.Close()
			return false, err
		}
		if err := fh.Close(); err != nil {
			return false, err
		}
		return true, os.Rename(tmp, out)
	}
}

// cachedRoot unpacks debs into a directory named after them, once.
func cachedRoot(ctx context.Context, debs []string) (string, error) {
	var names []string
	for _, d := range debs {
		names = append(names, strings.TrimSuffix(filepath.Base(d), "_amd64.deb"))
	}
	root := filepath.Join(filepath.Dir(debs[0]), "..", "root-"+strings.Join(names, "+"))
	root = filepath.Clean(root)
	if _, err := os.Stat(filepath.Join(root, ".complete")); err == nil {
		return root, nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(root), ".root-")
	if err != nil {
		return "", err
	}
	for _, d := range debs {
		if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", d, tmp).CombinedOutput(); err != nil {
			os.RemoveAll(tmp)
			return "", fmt.Errorf("dpkg-deb -x %s: %w: %s", d, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	os.RemoveAll(root)
	if err := os.Rename(tmp, root); err != nil {
		os.RemoveAll(tmp)
		if _, serr := os.Stat(filepath.Join(root, ".complete")); serr == nil {
			return root, nil // another test run won the race
		}
		return "", err
	}
	return root, nil
}
