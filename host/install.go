package host

import (
	"context"
	"errors"
	"fmt"
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
// and the kernel put back (a *RolledBackError).
func (h *Host) InstallProfiles(ctx context.Context, dir string, change func() ([]FileWrite, error)) (*WriteResult, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	in := *h
	p := *h.Parser
	p.Args = append(slices.Clone(h.Parser.Args), "-I", abs, "--base", abs)
	in.Parser = &p
	validated := func() ([]FileWrite, error) {
		files, err := change()
		if err != nil {
			return nil, err
		}
		return files, h.validateOverlay(ctx, abs, files)
	}
	if h.NoLoad {
		return in.update(ctx, dir, nil, validated, kernelUntouched)
	}
	return in.update(ctx, dir, nil, validated, loadAll)
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
