package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// InstallProfiles is UpdateProfiles for files that come from elsewhere
// and are meant to run (armorer library install). Before anything is
// written, apparmor_parser compiles (-QK) each profile file of the change
// with the change laid over dir: the change's files are found first, then
// dir's own (-I overlay -I dir --base dir), so an abstraction the change
// brings is the one compiled and one it lacks is an error. A rejection is
// an *InvalidProfileError naming dir's files, and nothing is written.
// After the write, still under the lock, every profile file of the change
// is loaded or replaced (not with NoLoad), compiled with dir as its
// include path too; if the kernel rejects one, every file is restored
// and the kernel put back (a *RolledBackError). Like Load, it enables the
// profile files it writes: their disable/ and force-complain/ links go
// (and come back if the install fails).
func (h *Host) InstallProfiles(ctx context.Context, dir string, change func() ([]FileWrite, error)) (*WriteResult, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	in := *h
	p := *h.Parser
	p.Args = append(slices.Clone(h.Parser.Args), "-I", abs, "--base", abs)
	in.Parser = &p
	relink := func() {}
	validated := func() ([]FileWrite, error) {
		files, err := change()
		if err != nil {
			return nil, err
		}
		if err := h.validateOverlay(ctx, abs, files); err != nil {
			return nil, err
		}
		var names []string
		for _, f := range files {
			if p, err := filepath.Abs(f.Path); err == nil && filepath.Dir(p) == abs {
				names = append(names, filepath.Base(p))
			}
		}
		relink, err = enable(abs, names)
		return files, err
	}
	step := loadAll
	if h.NoLoad {
		step = kernelUntouched
	}
	res, err := in.update(ctx, dir, nil, validated, step)
	if err != nil {
		relink()
		return nil, err
	}
	return res, nil
}

// enable removes the disable/ and force-complain/ links of the profile
// files names in dir, and returns what puts them back.
func enable(dir string, names []string) (func(), error) {
	type link struct{ name, target string }
	var removed []link
	relink := func() {
		root, err := os.OpenRoot(dir)
		if err != nil {
			return
		}
		defer root.Close()
		for _, l := range removed {
			root.Symlink(l.target, l.name)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return func() {}, fmt.Errorf("open profile directory: %w", err)
	}
	defer root.Close()
	for _, n := range names {
		for _, sub := range []string{"disable", "force-complain"} {
			name := filepath.Join(sub, n)
			fi, err := root.Lstat(name)
			if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				continue // none, or a file that is not ours to touch
			}
			target, err := root.Readlink(name)
			if err == nil {
				err = root.Remove(name)
			}
			if err != nil {
				relink()
				return func() {}, fmt.Errorf("enable %s: %s: %w", n, filepath.Join(dir, name), err)
			}
			removed = append(removed, link{name, target})
		}
	}
	return relink, nil
}

// validateOverlay compiles each profile file of files (those directly in
// dir, an absolute path) with apparmor_parser -QK, the files laid over
// dir: a temporary directory holds them and is searched before dir (-I
// overlay -I dir --base dir, after h.Parser's own Args). Messages name dir's files, not the temporary
// ones.
func (h *Host) validateOverlay(ctx context.Context, abs string, files []FileWrite) error {
	overlay, err := os.MkdirTemp("", "armorer-install-")
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	defer os.RemoveAll(overlay)
	var profiles []string
	for _, f := range files {
		p, err := filepath.Abs(f.Path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(abs, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("%s is outside the profile directory %s", f.Path, abs)
		}
		tmp := filepath.Join(overlay, rel)
		if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
			return fmt.Errorf("validate: %w", err)
		}
		if err := os.WriteFile(tmp, f.Content, 0o644); err != nil {
			return fmt.Errorf("validate: %w", err)
		}
		if !strings.ContainsRune(rel, filepath.Separator) {
			profiles = append(profiles, rel)
		}
	}
	p := *h.Parser
	p.Args = append(slices.Clone(h.Parser.Args), "-I", overlay, "-I", abs, "--base", abs)
	for _, rel := range profiles {
		if err := p.Validate(ctx, filepath.Join(overlay, rel)); err != nil {
			var pe *ParserError
			if errors.As(err, &pe) {
				pe.File = filepath.Join(abs, rel)
				pe.Stderr = strings.ReplaceAll(pe.Stderr, overlay, abs)
			}
			return err
		}
	}
	return nil
}
