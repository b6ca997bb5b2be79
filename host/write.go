package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/internal/atomicfile"
	"github.com/armorer-dev/armorer/policy"
)

// FileWrite is new content for a file of a profile directory: a profile
// file, or a local/NAME file that profiles include.
type FileWrite struct {
	Path    string
	Content []byte
	// Profiles are the profiles whose policy the file changes: their
	// files are validated too (a local/NAME file compiles only inside
	// the profile that includes it).
	Profiles []string
	// Compare makes the write conditional: Expected is the content the
	// new one was computed from (nil: the file did not exist). If the
	// file holds something else now, another writer changed it since it
	// was read, and the whole change is refused with a *ConflictError
	// rather than overwrite that work.
	Compare  bool
	Expected []byte
}

// ConflictError is a conditional write refused because a file changed
// since the caller read it: read it again, redo the change, write again.
type ConflictError struct{ File string }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s changed while armorer was working on it (another writer?); nothing was written", e.File)
}

// Written is what WriteProfiles did to one file.
type Written struct {
	Path    string
	Backup  string // where the previous version is kept, "" for a new file
	Existed bool
}

// WriteResult is the outcome of WriteProfiles.
type WriteResult struct {
	Files []Written
	// Validated lists the profile files checked after the write.
	Validated []string
	// Reloads says, for each validated profile file, whether the kernel
	// was told (UpdateAndReload only).
	Reloads []Reload
}

// Reload is what UpdateAndReload did in the kernel for one profile file.
type Reload struct {
	File     string
	Profiles []string
	// Replaced: its profiles were loaded and now run the new version.
	// Otherwise none of them was loaded, and nothing was loaded, unless
	// Added: InstallProfiles loaded them.
	Replaced bool
	Added    bool
}

// WriteRejectedError is a write whose result does not compile: every file
// was put back as it was.
type WriteRejectedError struct {
	File        string              // the profile file that is invalid
	Diagnostics []policy.Diagnostic // its errors
}

func (e *WriteRejectedError) Error() string {
	var b strings.Builder
	for _, d := range e.Diagnostics {
		fmt.Fprintf(&b, "%s: %s\n", d.Pos, d.Message)
	}
	b.WriteString("  the previous files are restored; nothing was written")
	return b.String()
}

// WriteProfiles writes files into the profile directory dir as one change:
// each atomically, its previous version kept in the state directory's
// backups; then every profile file the change touches is checked (with
// includeDirs and dir as its include path, as apparmor_parser -I), and if
// one is invalid, every file is restored. Nothing is loaded into the
// kernel: load does that, with apparmor_parser.
//
// The change holds the profile directory's lock (LockProfileDir), and a
// file with Compare set is written only if it still holds Expected. A file
// that holds its new content already is not written again (it has no
// entry in Files) but is checked like the others.
func (h *Host) WriteProfiles(ctx context.Context, dir string, includeDirs []string, files []FileWrite) (*WriteResult, error) {
	return h.UpdateProfiles(ctx, dir, includeDirs, func() ([]FileWrite, error) { return files, nil })
}

// UpdateProfiles is WriteProfiles for a read-modify-write: change runs
// while the profile directory's lock is held, reads the files it needs
// and returns what to write. No other armorer writes the directory
// between the read and the write.
func (h *Host) UpdateProfiles(ctx context.Context, dir string, includeDirs []string, change func() ([]FileWrite, error)) (*WriteResult, error) {
	return h.update(ctx, dir, includeDirs, change, kernelUntouched)
}

// UpdateAndReload is UpdateProfiles, then, still under the lock, replaces
// in the kernel the profiles of every validated file that are loaded, as
// aa-logprof does after saving: a loaded profile never silently keeps
// running its previous version. Profiles that are not loaded stay so.
// If the kernel rejects one, every file is restored and the kernel put
// back as it was (a *RolledBackError). With NoLoad it is UpdateProfiles.
func (h *Host) UpdateAndReload(ctx context.Context, dir string, includeDirs []string, change func() ([]FileWrite, error)) (*WriteResult, error) {
	if h.NoLoad {
		return h.update(ctx, dir, includeDirs, change, kernelUntouched)
	}
	return h.update(ctx, dir, includeDirs, change, reloadLoaded)
}

// What a write does in the kernel afterwards.
type kernelStep int

const (
	kernelUntouched kernelStep = iota
	reloadLoaded               // replace the written profiles that are loaded
	loadAll                    // load or replace every written profile
)

func (h *Host) update(ctx context.Context, dir string, includeDirs []string, change func() ([]FileWrite, error), step kernelStep) (*WriteResult, error) {
	lock, err := h.LockProfileDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	files, err := change()
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open profile directory: %w", err)
	}
	defer root.Close()
	if err := unchanged(root, dir, files); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	type done struct {
		rel    string
		backup *atomicfile.Backup
	}
	var written []done
	restore := func() error {
		var errs []error
		for _, w := range slices.Backward(written) {
			if err := w.backup.Restore(); err != nil {
				errs = append(errs, fmt.Errorf("restore %s: %w (its previous version is in %s)", filepath.Join(dir, w.rel), err, w.backup.Path))
			}
		}
		return errors.Join(errs...)
	}
	res := &WriteResult{}
	check := map[string]bool{} // profile files to validate, relative to dir
	for _, f := range files {
		p, err := filepath.Abs(f.Path)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(abs, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, errors.Join(fmt.Errorf("%s is outside the profile directory %s", f.Path, dir), restore())
		}
		if !strings.ContainsRune(rel, filepath.Separator) && policy.SkippedName(rel) {
			// A profile file the loader would never load: its profiles
			// would silently not exist.
			return nil, errors.Join(fmt.Errorf("%s: the AppArmor loader skips a file named %q; name it as host.ProfileFileName does", f.Path, rel), restore())
		}
		if d := filepath.Dir(rel); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return nil, errors.Join(fmt.Errorf("write %s: %w", f.Path, err), restore())
			}
		}
		if cur, err := root.ReadFile(rel); err == nil && bytes.Equal(cur, f.Content) {
			// Already so: no write, no backup of an identical version;
			// still validated (and loaded) as part of the change.
			if !strings.ContainsRune(rel, filepath.Separator) {
				check[rel] = true
			}
			continue
		}
		b, err := atomicfile.WriteFile(root, rel, f.Content, 0o644, h.Paths.BackupDir())
		if err != nil {
			return nil, errors.Join(err, restore())
		}
		written = append(written, done{rel, b})
		res.Files = append(res.Files, Written{Path: f.Path, Backup: b.Path, Existed: b.Existed()})
		if !strings.ContainsRune(rel, filepath.Separator) {
			check[rel] = true
		}
	}
	// The profiles a local/ file belongs to, in the directory as written.
	set, err := LoadProfileSet(dir, append(slices.Clone(includeDirs), dir)...)
	if err == nil {
		for _, f := range files {
			for _, name := range f.Profiles {
				if p := set.Profiles[name]; p != nil {
					if rel, err := filepath.Rel(abs, p.File); err == nil && !strings.HasPrefix(rel, "..") {
						check[rel] = true
					}
				}
			}
		}
	}
	// armorer's checker validates for each file's own abi: a profile for
	// abi 4.0 is valid on a machine whose apparmor_parser is 3.x; a file
	// that says abi 3.0 is checked for at least the installed parser's
	// version, which is the one that compiles it (see LanguageVersion).
	l := policy.NewLoader(append(slices.Clone(includeDirs), dir)...)
	cfg := policy.CheckConfig{MinTarget: h.Parser.LanguageVersion(ctx)}
	for _, rel := range slices.Sorted(maps.Keys(check)) {
		file := filepath.Join(dir, rel)
		src, err := root.ReadFile(rel)
		if err != nil {
			return nil, errors.Join(err, restore())
		}
		if errs := policy.CheckFile(l, file, src, cfg).Errors(); len(errs) > 0 {
			err := &WriteRejectedError{File: file, Diagnostics: errs}
			if rerr := restore(); rerr != nil {
				return nil, fmt.Errorf("%w; %v", err, rerr)
			}
			return nil, err
		}
		res.Validated = append(res.Validated, file)
	}
	if step != kernelUntouched {
		if err := h.reload(ctx, res, step == loadAll, restore); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// reload replaces the loaded profiles of res.Validated in the kernel, and
// with all loads those that are not. On a rejection it restores the files
// (restore) and the kernel: the files replaced before the rejected one
// are reloaded from their restored versions.
func (h *Host) reload(ctx context.Context, res *WriteResult, all bool, restore func() error) error {
	before, err := h.snapshot()
	if err != nil {
		return errors.Join(err, restore())
	}
	// Every file's names first: a failure here leaves the kernel untouched.
	var todo []Reload
	for _, file := range res.Validated {
		names, err := h.Parser.Names(ctx, file)
		if err != nil {
			return errors.Join(err, restore())
		}
		todo = append(todo, Reload{File: file, Profiles: names})
	}
	var replaced []Reload
	for _, r := range todo {
		if was := anyLoaded(before, r.Profiles); was || all {
			kerr := h.Parser.Replace(ctx, r.File)
			if kerr == nil {
				kerr = h.checkLoaded(r.File, r.Profiles)
			}
			replaced = append(replaced, r)
			if kerr != nil {
				// Name a file that was written: the profile's own, or the
				// local/ file it changed through.
				wf, wb := r.File, res.backupOf(r.File)
				if wb == "" && len(res.Files) > 0 {
					wf, wb = res.Files[0].Path, res.Files[0].Backup
				}
				return h.rollBackReload(ctx, kerr, wf, wb, before, replaced, restore)
			}
			r.Replaced, r.Added = was, !was
		}
		res.Reloads = append(res.Reloads, r)
	}
	return nil
}

// backupOf is where the previous version of a written file is kept ("",
// also when the file was not written: a profile changed through its
// local/ file).
func (res *WriteResult) backupOf(file string) string {
	abs, _ := filepath.Abs(file)
	for _, w := range res.Files {
		if p, _ := filepath.Abs(w.Path); p == abs {
			return w.Backup
		}
	}
	return ""
}

// rollBackReload puts the files back, then reloads the previous versions
// of those already replaced, unloads the profiles that were not loaded
// before, and says what became of the kernel. replaced ends with the file
// whose load failed; the kernel accepted the others, so they are always
// put back (the kernel lists the same names and modes whichever version
// runs), the failed one only when the kernel's list changed.
func (h *Host) rollBackReload(ctx context.Context, kerr error, file, backup string, before loadedSet, replaced []Reload, restore func() error) error {
	if rerr := restore(); rerr != nil {
		return fmt.Errorf("%w; restoring the files also failed: %v", kerr, rerr)
	}
	accepted := len(replaced) - 1
	var ke *KernelError
	if !errors.As(kerr, &ke) && accepted == 0 {
		return kerr // the parser did not run: nothing reached the kernel
	}
	rb := &RolledBackError{File: file, Backup: backup, Err: kerr, Kernel: "unchanged (the previous profiles stay loaded as they were)"}
	if h.policyLocked() {
		rb.Hint = lockedHint
	}
	now, err := h.snapshot()
	changed := err != nil || !sameSet(before, now)
	if changed || accepted > 0 {
		var errs []string
		for i, r := range slices.Backward(replaced) {
			if i == accepted && !changed {
				continue // rejected as a whole: its previous version still runs
			}
			if anyLoaded(before, r.Profiles) {
				if err := h.Parser.Replace(ctx, r.File); err != nil {
					errs = append(errs, "reloading the previous "+r.File+": "+err.Error())
				}
			}
			now, _ := h.snapshot()
			for _, n := range r.Profiles {
				if _, was := before[n]; !was && !strings.Contains(n, "//") {
					if _, is := now[n]; is {
						if err := h.removeByName(n); err != nil {
							errs = append(errs, fmt.Sprintf("removing %s: %v", n, err))
						}
					}
				}
			}
		}
		now, err := h.snapshot()
		switch {
		case err != nil:
			errs = append(errs, "reading the loaded profiles: "+err.Error())
		case !sameSet(before, now):
			errs = append(errs, "the loaded profiles still differ from before")
		}
		rb.Kernel = "restored to the previous profiles and modes"
		if len(errs) > 0 {
			rb.Kernel = "NOT fully restored: " + strings.Join(errs, "; ")
		}
	}
	return rb
}

// unchanged checks, before anything is written, that every conditional
// write's file still holds what the caller read.
func unchanged(root *os.Root, dir string, files []FileWrite) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for _, f := range files {
		if !f.Compare {
			continue
		}
		p, err := filepath.Abs(f.Path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(abs, p)
		if err != nil {
			return err
		}
		cur, err := root.ReadFile(rel)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if f.Expected != nil {
				return &ConflictError{File: f.Path}
			}
		case err != nil:
			if strings.HasPrefix(rel, "..") {
				continue // refused below, with the reason
			}
			return fmt.Errorf("read %s: %w", f.Path, err)
		case f.Expected == nil || !bytes.Equal(cur, f.Expected):
			return &ConflictError{File: f.Path}
		}
	}
	return nil
}
