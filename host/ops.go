package host

import (
	"context"
	"fmt"
	"go/token"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/armorer-dev/armorer/policy"
)

// InUseError refuses to unload or disable a profile that still confines
// running processes: removing it would silently unconfine them.
type InUseError struct {
	Profile string
	Procs   []Process
}

func (e *InUseError) Error() string {
	var pids []string
	for _, p := range e.Procs {
		pids = append(pids, fmt.Sprintf("%d (%s)", p.PID, p.Comm))
	}
	return fmt.Sprintf("profile %s still confines %d process(es): %s; removing it would leave them unconfined: stop them first, or use --force",
		e.Profile, len(e.Procs), strings.Join(pids, ", "))
}

// Load installs f (when it comes from outside the profile directory),
// validates it, and loads or replaces its profiles in the kernel. With
// complain, the file's flags are first set to complain mode, so the mode
// survives a reboot or a reload of the apparmor service. A disabled
// profile is re-enabled: loading it is asking for it.
func (h *Host) Load(ctx context.Context, f ProfileFile, complain bool, match AttachMatcher) (*Result, error) {
	lock, err := h.LockProfileDir(ctx, h.Paths.ProfileDir)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	content, err := h.readProfile(f)
	if err != nil {
		return nil, err
	}
	if complain {
		if content, err = SetModeFlags(h.Path(f), content, Complain); err != nil {
			return nil, err
		}
	}
	return h.installEnabled(ctx, f, content, match)
}

// SetMode writes mode into the flags of every profile in f (changing
// nothing else in the file) and replaces them in the kernel. Like
// aa-enforce and aa-complain, it also re-enables a disabled profile.
func (h *Host) SetMode(ctx context.Context, f ProfileFile, mode Mode, match AttachMatcher) (*Result, error) {
	if mode != Enforce && mode != Complain {
		return nil, fmt.Errorf("set mode %s: only enforce and complain are set by armorer", mode)
	}
	// Read, edit and write under the directory's lock: a learn --write
	// in between would otherwise lose its rules to this older content.
	lock, err := h.LockProfileDir(ctx, h.Paths.ProfileDir)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	if err := h.CheckOutside(f); err != nil {
		return nil, err
	}
	content, err := h.readProfile(f)
	if err != nil {
		return nil, err
	}
	if f.Checked != nil {
		changed, err := f.Checked.Changed()
		if err != nil {
			return nil, err
		}
		if changed != "" {
			return nil, &ChangedError{File: changed}
		}
	}
	edited, err := SetModeFlags(h.Path(f), content, mode)
	if err != nil {
		return nil, err
	}
	return h.installEnabled(ctx, f, edited, match)
}

// CheckOutside refuses a file from outside the profile directory unless
// f.Install: changing its mode installs it over the directory's file of
// the same base name.
func (h *Host) CheckOutside(f ProfileFile) error {
	if f.Source == "" || f.Install {
		return nil
	}
	_, err := os.Lstat(h.Path(f))
	return &OutsideError{Source: f.Source, Replaces: h.Path(f), Exists: err == nil}
}

// installEnabled installs content as f and loads it, re-enabling a
// disabled profile: the disable/ and force-complain/ links go first, since
// apparmor_parser skipped a file disable/ links to, even named explicitly
// and exiting 0 (seen with 4.1 on Debian 13's kernel in the e2e test).
// They come back if the kernel rejects the profile.
func (h *Host) installEnabled(ctx context.Context, f ProfileFile, content []byte, match AttachMatcher) (*Result, error) {
	removed := map[string]string{}
	for _, dir := range []string{"disable", "force-complain"} {
		target, err := h.removeLink(dir, f.Name)
		if err != nil {
			h.restoreLinks(f.Name, removed)
			return nil, err
		}
		if target != "" {
			removed[dir] = target
		}
	}
	res, err := h.install(ctx, f, content, match)
	if err != nil {
		h.restoreLinks(f.Name, removed)
		return nil, err
	}
	if h.NoLoad {
		res.Mode = contentMode(h.Path(f), content)
	} else {
		res.Mode = h.kernelMode(res.Profiles)
	}
	return res, nil
}

// contentMode is the mode a profile file's text gives its first
// top-level profile ("" when it defines none).
func contentMode(file string, content []byte) Mode {
	pf, err := policy.ParseFile(token.NewFileSet(), file, content, 0)
	if err != nil {
		return ""
	}
	for _, r := range pf.Rules {
		if p, ok := r.(*policy.Profile); ok {
			return ProfileMode(p)
		}
	}
	return ""
}

func (h *Host) restoreLinks(name string, links map[string]string) {
	root, err := os.OpenRoot(h.Paths.ProfileDir)
	if err != nil {
		return
	}
	defer root.Close()
	for dir, target := range links {
		if err := root.Symlink(target, path.Join(dir, name)); err != nil {
			h.log.Warn("could not restore link", "link", path.Join(dir, name), "err", err)
		}
	}
}

// Unload removes f's profiles from the kernel; the file stays. It refuses
// while they confine processes, unless force. It holds the profile
// directory's lock, as every operation on its files does: the profiles it
// names are the file's while no one rewrites it.
func (h *Host) Unload(ctx context.Context, f ProfileFile, force bool) (*Result, error) {
	lock, err := h.LockProfileDir(ctx, h.Paths.ProfileDir)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	return h.unload(ctx, f, force)
}

// unload is Unload, under the lock.
func (h *Host) unload(ctx context.Context, f ProfileFile, force bool) (*Result, error) {
	target := h.Path(f)
	if f.Source != "" {
		target = f.Source // a file outside the profile directory names the profiles
	}
	names, err := h.Parser.Names(ctx, target)
	if err != nil {
		return nil, err
	}
	res := &Result{File: target, Profiles: names}
	loaded, err := h.snapshot()
	if err != nil {
		return nil, err
	}
	if !anyLoaded(loaded, names) {
		res.Action = "not loaded"
		return res, nil
	}
	if err := h.refuseInUse(names, force); err != nil {
		return nil, err
	}
	if err := h.Parser.Remove(ctx, target); err != nil {
		return nil, err
	}
	res.Action = "unloaded"
	return res, nil
}

// UnloadName removes a loaded profile that has no file any more.
func (h *Host) UnloadName(ctx context.Context, name string, force bool) (*Result, error) {
	lock, err := h.LockProfileDir(ctx, h.Paths.ProfileDir)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	loaded, err := h.snapshot()
	if err != nil {
		return nil, err
	}
	if _, ok := loaded[name]; !ok {
		return nil, &NotFoundError{Arg: name, Dir: h.Paths.ProfileDir}
	}
	if err := h.refuseInUse([]string{name}, force); err != nil {
		return nil, err
	}
	if err := h.removeByName(name); err != nil {
		return nil, err
	}
	return &Result{Profiles: []string{name}, Action: "unloaded"}, nil
}

// Disable works like aa-disable: unload f's profiles and link the file
// from disable/, so neither boot nor a reload of the apparmor service
// loads it again. It refuses while they confine processes, unless force.
func (h *Host) Disable(ctx context.Context, f ProfileFile, force bool) (*Result, error) {
	if f.Source != "" {
		return nil, fmt.Errorf("disable %s: not a file in %s", f.Source, h.Paths.ProfileDir)
	}
	lock, err := h.LockProfileDir(ctx, h.Paths.ProfileDir)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	var res *Result
	if h.NoLoad {
		names, nerr := h.Parser.Names(ctx, h.Path(f))
		res, err = &Result{File: h.Path(f), Profiles: names}, nerr
	} else {
		res, err = h.unload(ctx, f, force)
	}
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(h.Paths.ProfileDir)
	if err != nil {
		return nil, fmt.Errorf("open profile directory: %w", err)
	}
	defer root.Close()
	link := path.Join("disable", f.Name)
	if err := root.MkdirAll(path.Dir(link), 0o755); err != nil {
		return nil, fmt.Errorf("disable %s: %w", f.Name, err)
	}
	rel := strings.Repeat("../", strings.Count(link, "/")) + f.Name
	res.Action = "disabled"
	if h.NoLoad {
		res.Action = "disabled, not unloaded"
	}
	if cur, err := root.Readlink(link); err == nil && cur == rel {
		return res, nil
	}
	root.Remove(link)
	if err := root.Symlink(rel, link); err != nil {
		return nil, fmt.Errorf("disable %s: %w", f.Name, err)
	}
	return res, nil
}

func (h *Host) refuseInUse(names []string, force bool) error {
	if force {
		return nil
	}
	procs, err := h.Processes()
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.Contains(n, "//") {
			continue // children go with their parent
		}
		if in := Confining(procs, n); len(in) > 0 {
			return &InUseError{Profile: n, Procs: in}
		}
	}
	return nil
}

// removeLink removes the symlink dir/name and returns what it pointed
// to; "" when there was none. A regular file there is not ours to touch.
func (h *Host) removeLink(dir, name string) (string, error) {
	root, err := os.OpenRoot(h.Paths.ProfileDir)
	if err != nil {
		return "", fmt.Errorf("open profile directory: %w", err)
	}
	defer root.Close()
	link := path.Join(dir, name)
	fi, err := root.Lstat(link)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return "", nil
	}
	target, err := root.Readlink(link)
	if err != nil {
		return "", fmt.Errorf("read %s/%s: %w", dir, name, err)
	}
	if err := root.Remove(link); err != nil {
		return "", fmt.Errorf("remove %s/%s: %w", dir, name, err)
	}
	return target, nil
}

// kernelMode is the mode the kernel reports for the first top-level
// profile of names.
func (h *Host) kernelMode(names []string) Mode {
	loaded, err := h.snapshot()
	if err != nil {
		return ""
	}
	for _, n := range names {
		if m, ok := loaded[n]; ok && !strings.Contains(n, "//") {
			return m
		}
	}
	return ""
}
