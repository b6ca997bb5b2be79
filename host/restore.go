package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/armorer-dev/armorer/internal/atomicfile"
)

// Backups lists the kept previous versions of f, oldest first (see
// atomicfile.Backups).
func (h *Host) Backups(f ProfileFile) ([]string, error) {
	return atomicfile.Backups(h.Paths.BackupDir(), h.Path(f))
}

// NotBackupError is a restore of a file that is not one of the profile
// file's kept versions.
type NotBackupError struct{ File, Backup string }

func (e *NotBackupError) Error() string {
	return fmt.Sprintf("%s is not a kept version of %s; armorer restore --list NAME lists them", e.Backup, e.File)
}

// Restore puts back backup, one of Backups(f), as f: under the profile
// directory's lock, validated, written atomically (the current version is
// kept in turn, so another restore undoes it), and its profiles replaced
// in the kernel when they are loaded (not with NoLoad), with the rollback
// of Load when the kernel rejects them. Profiles that are not loaded stay
// so: restoring a file does not ask for it to be loaded.
func (h *Host) Restore(ctx context.Context, f ProfileFile, backup string) (*Result, error) {
	lock, err := h.LockProfileDir(ctx, h.Paths.ProfileDir)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	all, err := h.Backups(f)
	if err != nil {
		return nil, fmt.Errorf("list the kept versions of %s: %w", h.Path(f), err)
	}
	abs, err := filepath.Abs(backup)
	if err != nil || !slices.ContainsFunc(all, func(b string) bool { a, err := filepath.Abs(b); return err == nil && a == abs }) {
		return nil, &NotBackupError{File: h.Path(f), Backup: backup}
	}
	content, err := os.ReadFile(abs)
	if err != nil {
		return nil, err
	}
	loaded := false
	if !h.NoLoad {
		if names, err := h.Parser.Names(ctx, h.Path(f)); err == nil {
			before, err := h.snapshot()
			if err != nil {
				return nil, err
			}
			loaded = anyLoaded(before, names)
		}
	}
	inst := h
	if !loaded {
		c := *h
		c.NoLoad = true
		inst = &c
	}
	res, err := inst.install(ctx, f, content, nil)
	if err != nil {
		return nil, err
	}
	res.Action = "restored " + filepath.Base(abs)
	if !loaded {
		res.Action += ", not loaded"
	}
	res.Mode = contentMode(h.Path(f), content)
	return res, nil
}
