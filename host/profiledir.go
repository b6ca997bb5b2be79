package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/armorer-dev/armorer/internal/atomicfile"
	"github.com/armorer-dev/armorer/policy"
)

// ProfileFile is a profile file armorer acts on.
type ProfileFile struct {
	// Name is the file's name inside the profile directory ("myapp",
	// "usr.sbin.nscd"); every write goes through os.Root with it.
	Name string
	// Source is the file the user named when it lies outside the profile
	// directory: load installs its content as Name.
	Source string
	// Install allows complain and enforce to install a Source as Name,
	// replacing the installed file of that name (load always does).
	Install bool
	// Checked, when set, is what a caller checked before (enforce's
	// gate): SetMode refuses, under the directory's lock, a file whose
	// content or include closure is no longer the one checked.
	Checked *Snapshot
}

// ChangedError is SetMode refusing a file whose content, or that of a
// file it includes, changed since the caller checked it
// (ProfileFile.Checked). File is the changed one.
type ChangedError struct{ File string }

func (e *ChangedError) Error() string {
	return e.File + " changed since the simulate gate checked it: not enforced; run enforce again to check the new content"
}

// OutsideError is complain or enforce given a file outside the profile
// directory without Install: it would replace the installed profile file
// with the same base name.
type OutsideError struct {
	Source, Replaces string
	Exists           bool
}

func (e *OutsideError) Error() string {
	if e.Exists {
		return fmt.Sprintf("%s is outside the profile directory: this would replace the installed %s with it; use --install to do that, or name the installed profile", e.Source, e.Replaces)
	}
	return fmt.Sprintf("%s is outside the profile directory: this would install it as %s; use --install to do that", e.Source, e.Replaces)
}

// Path is the file's path in the profile directory.
func (h *Host) Path(f ProfileFile) string {
	return filepath.Join(h.Paths.ProfileDir, filepath.FromSlash(f.Name))
}

// NotFoundError is a profile argument that names no file.
type NotFoundError struct{ Arg, Dir string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s: no such profile file in %s and no such file; give a file name in %s, a profile file path, or a profile named after its binary (/usr/sbin/foo is usr.sbin.foo)", e.Arg, e.Dir, e.Dir)
}

// Resolve finds the profile file an argument means:
//   - a name inside the profile directory ("myapp", "usr.sbin.nscd"),
//     opened through os.Root so "../" cannot escape it;
//   - a path to a file (absolute, or relative containing '/', or an
//     existing file in the working directory): inside the profile
//     directory it is that file, outside it is a Source to install;
//   - a binary path /usr/sbin/foo: the conventional file usr.sbin.foo;
//   - a profile name defined in one of the directory's files.
func (h *Host) Resolve(arg string) (ProfileFile, error) {
	if arg == "" {
		return ProfileFile{}, &NotFoundError{Arg: arg, Dir: h.Paths.ProfileDir}
	}
	root, err := os.OpenRoot(h.Paths.ProfileDir)
	if err != nil {
		return ProfileFile{}, fmt.Errorf("open profile directory: %w", err)
	}
	defer root.Close()

	if !strings.HasPrefix(arg, "/") && !strings.HasPrefix(arg, ".") {
		if isRegular(root, arg) {
			return ProfileFile{Name: path.Clean(arg)}, nil
		}
	}
	if strings.ContainsRune(arg, '/') || fileExists(arg) {
		abs, err := filepath.Abs(arg)
		if err != nil {
			return ProfileFile{}, err
		}
		if fi, err := os.Stat(abs); err == nil && fi.Mode().IsRegular() {
			dir, err := filepath.Abs(h.Paths.ProfileDir)
			if err != nil {
				return ProfileFile{}, err
			}
			if rel, err := filepath.Rel(dir, abs); err == nil && !strings.HasPrefix(rel, "..") {
				return ProfileFile{Name: filepath.ToSlash(rel)}, nil
			}
			if isProfileText(abs) {
				base := filepath.Base(abs)
				if policy.SkippedName(base) {
					return ProfileFile{}, fmt.Errorf("%s: a file named %q is skipped by the AppArmor loader (it would be installed as %s and not loaded at boot); rename it", arg, base, filepath.Join(h.Paths.ProfileDir, base))
				}
				return ProfileFile{Name: base, Source: abs}, nil
			}
		}
		if strings.HasPrefix(arg, "/") {
			conv := strings.ReplaceAll(strings.TrimPrefix(path.Clean(arg), "/"), "/", ".")
			if isRegular(root, conv) {
				return ProfileFile{Name: conv}, nil
			}
		}
	}
	// A profile name (what Kubernetes and the kernel call it), defined in
	// a file named otherwise: "myapp" in opt.myapp.bin.myapp. Disabled
	// files count: load and enforce re-enable them.
	if set, err := h.ProfileSet(); err == nil {
		if p := set.Profiles[arg]; p != nil && !strings.Contains(arg, "//") {
			if rel, err := filepath.Rel(set.Dir, p.File); err == nil {
				return ProfileFile{Name: filepath.ToSlash(rel)}, nil
			}
		}
	}
	return ProfileFile{}, &NotFoundError{Arg: arg, Dir: h.Paths.ProfileDir}
}

// AmbiguousError is a bare name that is both a file in the profile
// directory and a different file in the working directory.
type AmbiguousError struct{ Arg, InDir, Here string }

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%s is ambiguous: both %s and %s exist and differ; write ./%s for the file here, or %s for the installed one",
		e.Arg, e.InDir, e.Here, e.Arg, e.InDir)
}

// notAmbiguous refuses a bare name that also names a different file in
// the working directory: guessing would load the wrong version.
func (h *Host) notAmbiguous(arg string) error {
	here, err := filepath.Abs(arg)
	if err != nil {
		return nil
	}
	inDir := filepath.Join(h.Paths.ProfileDir, filepath.FromSlash(arg))
	a, errA := os.Stat(here)
	b, errB := os.Stat(inDir)
	if errA != nil || errB != nil || !a.Mode().IsRegular() || os.SameFile(a, b) {
		return nil
	}
	x, err1 := os.ReadFile(here)
	y, err2 := os.ReadFile(inDir)
	if err1 == nil && err2 == nil && bytes.Equal(x, y) {
		return nil
	}
	return &AmbiguousError{Arg: arg, InDir: inDir, Here: here}
}

func isRegular(root *os.Root, name string) bool {
	fi, err := root.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// isProfileText tells a profile from a binary: profiles are text.
func isProfileText(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 512)
	n, _ := f.Read(buf)
	return !bytes.HasPrefix(buf[:n], []byte("\x7fELF")) && !bytes.HasPrefix(buf[:n], []byte("#!")) && bytes.IndexByte(buf[:n], 0) < 0
}

// ResolveLoad is Resolve for load, whose argument may be a new version in
// the working directory: a bare name that is both an installed file and
// a different file here is an *AmbiguousError rather than a guess. The
// other verbs act on installed profiles, so Resolve prefers those.
func (h *Host) ResolveLoad(arg string) (ProfileFile, error) {
	f, err := h.Resolve(arg)
	if err == nil && f.Source == "" && !strings.HasPrefix(arg, "/") && !strings.HasPrefix(arg, ".") {
		if err := h.notAmbiguous(arg); err != nil {
			return ProfileFile{}, err
		}
	}
	return f, err
}

// ActionWritten is a Result's Action when NoLoad kept the kernel out of it.
const ActionWritten = "written, not loaded"

// Result is what one operation did to one profile file.
type Result struct {
	File     string   `json:"file"`               // the profile file
	Profiles []string `json:"profiles,omitempty"` // the profiles it defines
	Mode     Mode     `json:"mode,omitempty"`     // the mode now in the file
	Action   string   `json:"action"`             // loaded, replaced, unloaded, disabled, unchanged
	Backup   string   `json:"backup,omitempty"`   // where the previous version is kept
	// Unconfined lists running processes the profile should confine but
	// does not: they started before it was loaded; restart them.
	Unconfined []UnconfinedProcess `json:"unconfined,omitempty"`
}

// RolledBackError is a kernel rejection after which armorer put the
// previous file and kernel state back. It wraps the *KernelError.
type RolledBackError struct {
	File   string
	Backup string // where the previous version is kept ("" if the file was new)
	Kernel string // what happened to the kernel state
	Hint   string // why the kernel refused, when armorer knows
	Err    error
}

func (e *RolledBackError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v\n", e.Err)
	if e.Hint != "" {
		fmt.Fprintf(&b, "  %s\n", e.Hint)
	}
	if e.Backup != "" {
		fmt.Fprintf(&b, "  restored the previous %s (a copy is kept in %s)\n", e.File, e.Backup)
	} else {
		fmt.Fprintf(&b, "  removed the new %s\n", e.File)
	}
	fmt.Fprintf(&b, "  kernel: %s", e.Kernel)
	return b.String()
}

func (e *RolledBackError) Unwrap() error { return e.Err }

// install validates content, writes it as f.Name (keeping the previous
// version), and replaces its profiles in the kernel. If the kernel rejects
// them, the previous file and kernel state are restored.
func (h *Host) install(ctx context.Context, f ProfileFile, content []byte, match AttachMatcher) (*Result, error) {
	root, err := os.OpenRoot(h.Paths.ProfileDir)
	if err != nil {
		return nil, fmt.Errorf("open profile directory: %w", err)
	}
	defer root.Close()
	target := h.Path(f)
	res := &Result{File: target}

	// Validate a dot copy beside the target, so relative includes resolve
	// as they will for the real file, and the loader never reads it.
	names, err := h.validateBeside(ctx, root, f.Name, content)
	if err != nil {
		return nil, err
	}
	res.Profiles = names
	if h.NoLoad {
		backup, err := atomicfile.WriteFile(root, f.Name, content, 0o644, h.Paths.BackupDir())
		if err != nil {
			return nil, err
		}
		res.Backup = backup.Path
		res.Action = ActionWritten
		return res, nil
	}

	before, err := h.snapshot()
	if err != nil {
		return nil, err
	}
	backup, err := atomicfile.WriteFile(root, f.Name, content, 0o644, h.Paths.BackupDir())
	if err != nil {
		return nil, err
	}
	res.Backup = backup.Path
	h.log.Debug("profile written", "file", target, "backup", backup.Path, "profiles", names)

	kerr := h.Parser.Replace(ctx, target)
	if kerr == nil {
		kerr = h.checkLoaded(target, names)
	}
	if kerr == nil {
		res.Action = "replaced"
		if !anyLoaded(before, names) {
			res.Action = "loaded"
		}
		res.Unconfined = h.unconfinedFor(names, match)
		return res, nil
	}
	var ke *KernelError
	if !errors.As(kerr, &ke) {
		// The parser did not run: nothing reached the kernel.
		if rerr := backup.Restore(); rerr != nil {
			return nil, fmt.Errorf("%w; restoring %s also failed: %v", kerr, target, rerr)
		}
		return nil, kerr
	}
	rb := &RolledBackError{File: target, Backup: backup.Path, Err: kerr}
	if h.policyLocked() {
		rb.Hint = lockedHint
	}
	if rerr := backup.Restore(); rerr != nil {
		return nil, fmt.Errorf("%w; restoring %s also failed: %v (the previous version is in %s)", kerr, target, rerr, backup.Path)
	}
	rb.Kernel = h.restoreKernel(ctx, before, names, target, backup.Existed())
	h.log.Warn("kernel rejected a profile; previous file restored", "file", target, "backup", backup.Path, "kernel", rb.Kernel, "err", kerr)
	return nil, rb
}

// checkLoaded turns a load the parser reported as done, yet the kernel
// does not list, into a *KernelError: never claim a profile is loaded
// without the kernel saying so.
func (h *Host) checkLoaded(file string, names []string) error {
	now, err := h.snapshot()
	if err != nil {
		return err
	}
	var missing []string
	for _, n := range names {
		if _, ok := now[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &KernelError{&ParserError{Op: "replace", File: file, Err: errors.New("profiles missing after load"),
		Stderr: "apparmor_parser succeeded, but the kernel does not list " + strings.Join(missing, ", ")}}
}

func (h *Host) validateBeside(ctx context.Context, root *os.Root, name string, content []byte) ([]string, error) {
	dir, base := path.Split(name)
	tmp := atomicfile.TempName(dir, base, "check-")
	if err := root.WriteFile(tmp, content, 0o600); err != nil {
		return nil, fmt.Errorf("validate %s: %w", h.Path(ProfileFile{Name: name}), err)
	}
	defer root.Remove(tmp)
	tmpPath := h.Path(ProfileFile{Name: tmp})
	if err := h.Parser.Validate(ctx, tmpPath); err != nil {
		return nil, renameInError(err, tmpPath, h.Path(ProfileFile{Name: name}))
	}
	names, err := h.Parser.Names(ctx, tmpPath)
	return names, renameInError(err, tmpPath, h.Path(ProfileFile{Name: name}))
}

// renameInError makes parser messages name the real file, not the
// temporary copy it compiled.
func renameInError(err error, tmp, real string) error {
	var pe *ParserError
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	pe.File = real
	pe.Stderr = strings.ReplaceAll(pe.Stderr, tmp, real)
	return err
}

func anyLoaded(s loadedSet, names []string) bool {
	for _, n := range names {
		if _, ok := s[n]; ok {
			return true
		}
	}
	return false
}

// restoreKernel puts the kernel back as it was before a rejected load and
// says what it did. When the kernel state did not change (the usual case:
// the kernel rejects a load as a whole), there is nothing to do.
func (h *Host) restoreKernel(ctx context.Context, before loadedSet, names []string, target string, oldExisted bool) string {
	after, err := h.snapshot()
	if err != nil {
		return fmt.Sprintf("could not read the loaded profiles to check the kernel state: %v", err)
	}
	if sameSet(before, after) {
		return "unchanged (the previous profiles stay loaded as they were)"
	}
	var errs []string
	if oldExisted && anyLoaded(before, names) {
		if err := h.Parser.Replace(ctx, target); err != nil {
			errs = append(errs, "reloading the previous file: "+err.Error())
		}
	}
	for _, n := range names {
		if _, was := before[n]; !was {
			if _, now := after[n]; now && !strings.Contains(n, "//") {
				if err := h.removeByName(n); err != nil {
					errs = append(errs, fmt.Sprintf("removing %s: %v", n, err))
				}
			}
		}
	}
	final, err := h.snapshot()
	switch {
	case err != nil:
		errs = append(errs, "reading the loaded profiles: "+err.Error())
	case !sameSet(before, final):
		errs = append(errs, "the loaded profiles still differ from before")
	}
	if len(errs) > 0 {
		return "NOT fully restored: " + strings.Join(errs, "; ")
	}
	return "restored to the previous profiles and modes"
}

func sameSet(a, b loadedSet) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// unconfinedFor lists running processes that profiles names should
// confine but do not.
func (h *Host) unconfinedFor(names []string, match AttachMatcher) []UnconfinedProcess {
	profiles, err := h.LoadedProfiles()
	if err != nil {
		return nil
	}
	procs, err := h.Processes()
	if err != nil {
		return nil
	}
	var mine []LoadedProfile
	for _, p := range profiles {
		for _, n := range names {
			if p.Name == n {
				mine = append(mine, p)
			}
		}
	}
	return h.unconfinedButShouldBe(mine, procs, match)
}

// readProfile reads f's current content: the installed file, or the
// Source being installed.
func (h *Host) readProfile(f ProfileFile) ([]byte, error) {
	if f.Source != "" {
		return os.ReadFile(f.Source)
	}
	root, err := os.OpenRoot(h.Paths.ProfileDir)
	if err != nil {
		return nil, fmt.Errorf("open profile directory: %w", err)
	}
	defer root.Close()
	b, err := root.ReadFile(f.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NotFoundError{Arg: f.Name, Dir: h.Paths.ProfileDir}
	}
	return b, err
}
