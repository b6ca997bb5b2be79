package vmtest

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// File is one file placed in the VM's initramfs.
type File struct {
	Path string      // absolute path in the VM
	Src  string      // host file to copy, or
	Data []byte      // the contents
	Mode fs.FileMode // permission bits; 0 means Src's mode, or 0644 for Data
	// Symlink, when set, makes Path a symbolic link to it (Src and Data unused).
	Symlink string
}

// Image describes what a scenario needs in the VM beyond the base system
// (busybox, apparmor_parser with its configuration, /init).
type Image struct {
	Files []File
	// Dirs are created empty (e.g. /var/log/myapp).
	Dirs []string
}

// Add appends a file and returns the image, for chaining.
func (img *Image) Add(f ...File) *Image { img.Files = append(img.Files, f...); return img }

// Program returns a File that installs the host executable src at vmPath.
// Dynamically linked programs get their ELF interpreter and libraries
// copied into the image automatically.
func Program(src, vmPath string) File { return File{Path: vmPath, Src: src, Mode: 0o755} }

// Text returns a File with the given contents.
func Text(vmPath, contents string) File { return File{Path: vmPath, Data: []byte(contents)} }

// stager copies files into a staging directory that becomes the initramfs.
type stager struct {
	dir     string
	libRoot string // root searched first for shared libraries (the suite's libc)
	done    map[string]bool
	// noLibs copies programs without their libraries: a Debian userland
	// has its own (see Machine).
	noLibs bool
}

func (s *stager) target(vmPath string) (string, error) {
	if !path.IsAbs(vmPath) || path.Clean(vmPath) != vmPath || vmPath == "/" {
		return "", fmt.Errorf("vmtest: VM path %q must be absolute and clean", vmPath)
	}
	return filepath.Join(s.dir, filepath.FromSlash(vmPath)), nil
}

func (s *stager) mkdir(vmPath string) error {
	t, err := s.target(vmPath)
	if err != nil {
		return err
	}
	return os.MkdirAll(t, 0o755)
}

// replace returns the host path for vmPath with its directory made and any
// old file there removed, ready to be created anew.
func (s *stager) replace(vmPath string) (string, error) {
	t, err := s.target(vmPath)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(t), 0o755); err != nil {
		return "", err
	}
	os.Remove(t)
	return t, nil
}

func (s *stager) symlink(vmPath, to string) error {
	t, err := s.replace(vmPath)
	if err != nil {
		return err
	}
	return os.Symlink(to, t)
}

func (s *stager) write(vmPath string, data []byte, mode fs.FileMode) error {
	t, err := s.replace(vmPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(t, data, mode); err != nil {
		return err
	}
	return os.Chmod(t, mode) // WriteFile's mode is filtered by the umask
}

// copy copies a host file (following symlinks) and, for dynamic ELF
// executables and libraries, the libraries it needs.
func (s *stager) copy(src, vmPath string, mode fs.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	if mode == 0 {
		fi, err := os.Stat(src)
		if err != nil {
			return err
		}
		mode = fi.Mode().Perm()
	}
	if err := s.write(vmPath, data, mode); err != nil {
		return err
	}
	return s.libsOf(src, data)
}

func (s *stager) add(f File) error {
	switch {
	case f.Symlink != "":
		return s.symlink(f.Path, f.Symlink)
	case f.Src != "":
		return s.copy(f.Src, f.Path, f.Mode)
	default:
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		return s.write(f.Path, f.Data, mode)
	}
}

// libsOf copies the ELF interpreter and NEEDED libraries of data (a no-op
// for non-ELF and static files), recursively.
func (s *stager) libsOf(name string, data []byte) error {
	if s.noLibs {
		return nil
	}
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil // not ELF: a script or data
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return fmt.Errorf("vmtest: %s: PT_INTERP: %w", name, err)
		}
		interp := strings.TrimRight(string(b), "\x00")
		if err := s.lib(path.Base(interp)); err != nil {
			return fmt.Errorf("vmtest: %s: interpreter: %w", name, err)
		}
		if err := s.linkInterp(interp); err != nil {
			return err
		}
	}
	needed, err := ef.ImportedLibraries()
	if err != nil {
		return nil // no dynamic section
	}
	for _, n := range needed {
		if err := s.lib(n); err != nil {
			return fmt.Errorf("vmtest: %s needs %s: %w", name, n, err)
		}
	}
	return nil
}

const libDir = "/lib/x86_64-linux-gnu"

// linkInterp makes the interpreter's absolute path (e.g.
// /lib64/ld-linux-x86-64.so.2) point at the copy in libDir.
func (s *stager) linkInterp(interp string) error {
	if path.Dir(interp) == libDir {
		return nil
	}
	if s.done["interp:"+interp] {
		return nil
	}
	s.done["interp:"+interp] = true
	return s.symlink(interp, path.Join(libDir, path.Base(interp)))
}

// lib copies the shared library soname into libDir, found in libRoot first,
// then on the host.
func (s *stager) lib(soname string) error {
	if s.done[soname] {
		return nil
	}
	s.done[soname] = true
	src, err := findLib(s.libRoot, soname)
	if err != nil {
		src, err = findLib("/", soname)
	}
	if err != nil {
		return err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := s.write(path.Join(libDir, soname), data, 0o755); err != nil {
		return err
	}
	return s.libsOf(src, data)
}

var libSearch = []string{"usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib64", "lib64", "usr/lib", "lib"}

// findLib finds soname under root, resolving symlinks inside root (an
// absolute link target is taken relative to root, as in a chroot).
func findLib(root, soname string) (string, error) {
	if root == "" {
		return "", errors.New("no library root")
	}
	for _, d := range libSearch {
		p := path.Join("/", d, soname)
		for range 16 {
			fi, err := os.Lstat(filepath.Join(root, p))
			if err != nil {
				break
			}
			if fi.Mode()&fs.ModeSymlink == 0 {
				return filepath.Join(root, p), nil
			}
			to, err := os.Readlink(filepath.Join(root, p))
			if err != nil {
				break
			}
			if !path.IsAbs(to) {
				to = path.Join(path.Dir(p), to)
			}
			p = path.Clean(to)
		}
	}
	return "", fmt.Errorf("shared library %s not found under %s", soname, root)
}

// busyboxApplets installs busybox at /bin/busybox and a symlink per applet.
func (s *stager) busybox(bb string) error {
	if err := s.copy(bb, "/bin/busybox", 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("vmtest: %s --list-full: %w", bb, err)
	}
	for _, l := range strings.Fields(string(out)) {
		p := "/" + l
		if p == "/bin/busybox" {
			continue
		}
		if err := s.symlink(p, "/bin/busybox"); err != nil {
			return err
		}
	}
	return nil
}

// apparmor installs the suite's apparmor_parser with the configuration it
// was released with: parser.conf, the features file parser.conf names, and
// the abi, tunables and abstractions of /etc/apparmor.d.
func (s *stager) apparmor(root string) error {
	parser := filepath.Join(root, "usr/sbin/apparmor_parser")
	if _, err := os.Stat(parser); err != nil {
		parser = filepath.Join(root, "sbin/apparmor_parser") // bookworm: not usr-merged
	}
	if err := s.copy(parser, "/sbin/apparmor_parser", 0o755); err != nil {
		return err
	}
	if err := s.symlink("/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"); err != nil {
		return err
	}
	for _, d := range []string{"etc/apparmor", "etc/apparmor.d/abi", "etc/apparmor.d/tunables", "etc/apparmor.d/abstractions", "usr/share/apparmor-features"} {
		if err := s.tree(filepath.Join(root, d), "/"+d); err != nil {
			return err
		}
	}
	for _, d := range []string{"/etc/apparmor.d/local", "/etc/apparmor.d/disable", "/var/cache/apparmor"} {
		if err := s.mkdir(d); err != nil {
			return err
		}
	}
	return nil
}

// tree copies a host directory tree (files and symlinks) to vmDir.
func (s *stager) tree(hostDir, vmDir string) error {
	return filepath.WalkDir(hostDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(hostDir, p)
		vp := path.Join(vmDir, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			return s.mkdir(vp)
		case d.Type()&fs.ModeSymlink != 0:
			to, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return s.symlink(vp, to)
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return s.write(vp, data, fi.Mode().Perm())
		}
	})
}

// cpio archives the staging directory in the newc format the kernel
// unpacks, with busybox's cpio (a fresh machine has no cpio of its own).
func cpio(ctx context.Context, busybox, dir, out string) error {
	return cpioSkip(ctx, busybox, dir, out, nil)
}

// cpioSkip is cpio leaving out what skip (given a path relative to dir)
// says: a skipped directory is left out with all it holds.
func cpioSkip(ctx context.Context, busybox, dir, out string, skip func(rel string) bool) error {
	var list []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if skip != nil && skip(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		list = append(list, rel)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(list) // parents before children
	fh, err := os.Create(out)
	if err != nil {
		return err
	}
	defer fh.Close()
	cmd := exec.CommandContext(ctx, busybox, "cpio", "-o", "-H", "newc")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(strings.Join(list, "\n") + "\n")
	cmd.Stdout = fh
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("vmtest: busybox cpio: %w: %s", err, stderr.String())
	}
	return fh.Close()
}
