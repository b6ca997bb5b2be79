package vmtest

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/armorer-dev/armorer/internal/debfetch"
	"github.com/armorer-dev/armorer/internal/statelock"
)

// Userland is a Debian tree that a Machine boots as its root file system:
// debootstrap --variant=minbase of Suite with Packages, cached by
// internal/debfetch (keyed on suite and packages), archived once as an
// uncompressed cpio beside it (the kernel unpacks it into a tmpfs, so the VM
// needs no block device, file system module or kmod).
type Userland struct {
	Suite    string
	Packages []string
}

// Services is Debian 12 with the services of the profile library, their
// clients, and what their probes need: nginx, PostgreSQL 15 (psql,
// pgbench, SSL with the snakeoil certificate), Redis (redis-cli,
// redis-benchmark), Node.js and Python for the runtime profiles, curl,
// procps, iproute2 and AppArmor's own userland.
var Services = Userland{Suite: "bookworm", Packages: []string{
	"apparmor", "ca-certificates", "curl", "iproute2", "nginx", "nodejs", "openssl",
	"postgresql-15", "postgresql-client-15", "procps", "python3", "redis-server",
	"redis-tools", "ssl-cert",
}}

// userlandOmit are tree paths left out of the archive: documentation and
// apt's caches, which no test reads, and /dev, which devtmpfs replaces.
var userlandOmit = []string{
	"dev/", "usr/share/doc/", "usr/share/info/", "usr/share/locale/", "usr/share/man/",
	"var/cache/apt/", "var/cache/debconf/", "var/lib/apt/lists/",
}

// omitted reports whether the archive leaves out rel (a tree path).
func omitted(rel string) bool {
	if rel == "dev" {
		return false // the mount point stays
	}
	return slices.ContainsFunc(userlandOmit, func(p string) bool { return rel+"/" == p || strings.HasPrefix(rel, p) })
}

// archiveVersion names the archive format: change it when userlandOmit or
// the way the archive is made changes, so cached archives are rebuilt.
const archiveVersion = "v1"

// Ensure returns the cached tree and its cpio archive, building either when
// it is missing. It needs root and debootstrap (see debfetch.Rootfs).
func (u Userland) Ensure(ctx context.Context) (tree, archive string, err error) {
	tree, err = debfetch.Rootfs{Suite: u.Suite, Variant: "minbase", Include: u.Packages}.Ensure(ctx)
	if err != nil {
		return "", "", fmt.Errorf("vmtest: userland %s: %w", u.Suite, err)
	}
	archive = tree + "." + archiveVersion + ".cpio"
	lock, err := statelock.Acquire(ctx, archive+".lock", nil)
	if err != nil {
		return "", "", err
	}
	defer lock.Unlock()
	if _, err := os.Stat(archive); err == nil {
		return tree, archive, nil
	}
	bb, err := findBusybox()
	if err != nil {
		return "", "", err
	}
	tmp := archive + ".tmp"
	err = cpioSkip(ctx, bb, tree, tmp, omitted)
	if err == nil {
		err = os.Rename(tmp, archive)
	}
	if err != nil {
		os.Remove(tmp)
		return "", "", fmt.Errorf("vmtest: archive %s: %w", tree, err)
	}
	return tree, archive, nil
}

// inTree maps a VM path to where it lands in a merged-/usr tree (/bin,
// /sbin, /lib and /lib64 are links into /usr there): an archive entry for
// a directory /sbin would replace the link.
func inTree(tree, vmPath string) string {
	first, rest, _ := strings.Cut(strings.TrimPrefix(vmPath, "/"), "/")
	if fi, err := os.Lstat(filepath.Join(tree, first)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if to, err := os.Readlink(filepath.Join(tree, first)); err == nil && !path.IsAbs(to) {
			return path.Join("/", to, rest)
		}
	}
	return vmPath
}

// matchTreeDirs gives every staged directory the owner and mode of the
// tree's directory at the same path: the kernel applies a directory
// entry's owner and mode to the one already unpacked (/tmp must stay 1777,
// /var/lib/postgresql postgres's).
func matchTreeDirs(staged, tree string) error {
	return filepath.WalkDir(staged, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(staged, p)
		fi, err := os.Lstat(filepath.Join(tree, rel))
		if err != nil || !fi.IsDir() {
			return nil // new in the VM: root's, as staged
		}
		st := fi.Sys().(*syscall.Stat_t)
		if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		return os.Chmod(p, fi.Mode()&(fs.ModePerm|fs.ModeSticky|fs.ModeSetgid|fs.ModeSetuid))
	})
}

// parserDir is where a Machine whose kernel comes from another release
// than its userland keeps that release's apparmor_parser and libraries.
const parserDir = "/opt/vmtest/apparmor"

// releaseParser returns the files that make the kernel's own release's
// apparmor_parser (from Assets.AppArmorRoot, with its libc) the VM's
// /usr/sbin/apparmor_parser, with that release's parser.conf, features
// file, abi, tunables and abstractions: on Debian 13's kernel the parser is
// 4.1, as on Debian 13, while the services stay Debian 12's.
func releaseParser(root string) ([]File, []string, error) {
	parser := filepath.Join(root, "usr/sbin/apparmor_parser")
	if _, err := os.Stat(parser); err != nil {
		parser = filepath.Join(root, "sbin/apparmor_parser")
	}
	files := []File{Program(parser, parserDir+"/apparmor_parser")}
	libs, err := elfClosure(root, parser)
	if err != nil {
		return nil, nil, err
	}
	interp := ""
	for soname, src := range libs {
		files = append(files, File{Path: parserDir + "/lib/" + soname, Src: src, Mode: 0o755})
		if strings.HasPrefix(soname, "ld-linux") {
			interp = parserDir + "/lib/" + soname
		}
	}
	if interp == "" {
		return nil, nil, fmt.Errorf("vmtest: %s: no ELF interpreter found", parser)
	}
	// The loader runs the parser with the release's libc; the tree's libc
	// stays the userland's.
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s --library-path %s/lib %s/apparmor_parser \"$@\"\n", interp, parserDir, parserDir)
	files = append(files, File{Path: "/usr/sbin/apparmor_parser", Data: []byte(wrapper), Mode: 0o755})
	trees := []string{"etc/apparmor", "etc/apparmor.d/abi", "etc/apparmor.d/tunables", "etc/apparmor.d/abstractions", "usr/share/apparmor-features"}
	return files, trees, nil
}

// elfClosure maps the interpreter and every library prog needs
// (recursively) to their files under root.
func elfClosure(root, prog string) (map[string]string, error) {
	found := map[string]string{}
	var walk func(file string) error
	walk = func(file string) error {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		ef, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("vmtest: %s: %w", file, err)
		}
		defer ef.Close()
		var names []string
		for _, p := range ef.Progs {
			if p.Type == elf.PT_INTERP {
				b := make([]byte, p.Filesz)
				if _, err := p.ReadAt(b, 0); err != nil {
					return err
				}
				names = append(names, path.Base(strings.TrimRight(string(b), "\x00")))
			}
		}
		needed, _ := ef.ImportedLibraries()
		for _, n := range append(names, needed...) {
			if _, ok := found[n]; ok {
				continue
			}
			src, err := findLib(root, n)
			if err != nil {
				return fmt.Errorf("vmtest: %s needs %s: %w", file, n, err)
			}
			found[n] = src
			if err := walk(src); err != nil {
				return err
			}
		}
		return nil
	}
	return found, walk(prog)
}
