package library

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/policy"
)

// InstallOptions say how Install writes a profile.
type InstallOptions struct {
	Complain bool // write it in complain mode (flags=(complain))
	// Force replaces files that exist and differ from the library's;
	// their previous versions are kept in the state directory.
	Force bool
}

// What Install did to one file.
const (
	Created   = "created"
	Replaced  = "replaced"  // it differed; --force
	Unchanged = "unchanged" // it was the library's already
	Kept      = "kept"      // local/NAME: the user's, never overwritten
)

// InstalledFile is one file Install wrote or left.
type InstalledFile struct {
	Path   string `json:"path"`
	Action string `json:"action"`
	Backup string `json:"backup,omitempty"` // where its previous version is kept
}

// InstallResult is what Install did.
type InstallResult struct {
	Profile string          `json:"profile"`
	File    string          `json:"file"` // the profile file
	Mode    host.Mode       `json:"mode"` // the mode in the file
	Files   []InstalledFile `json:"files"`
	// Kernel is "loaded" (it was not loaded before), "replaced" or ""
	// (NoLoad: nothing was loaded).
	Kernel string `json:"kernel"`
}

// ConflictError refuses to overwrite files that exist and differ from
// the library's: they may hold someone's changes (learn --write, a hand
// edit). Force replaces them, keeping their previous versions.
type ConflictError struct {
	Profile string
	Files   []string
	// ModeOnly: the profile file is the library's in another mode.
	ModeOnly bool
}

func (e *ConflictError) Error() string {
	msg := fmt.Sprintf("%s exist(s) and differ(s) from the library's %s; nothing was written. Compare with armorer library show %s, then use --force to replace (the previous versions are kept, armorer restore brings one back)",
		strings.Join(e.Files, ", "), e.Profile, e.Profile)
	if e.ModeOnly {
		msg = fmt.Sprintf("%s is the library's %s in another mode; nothing was written. armorer enforce %s or armorer complain %s changes the mode; install --complain, or --force, writes it as asked",
			e.Files[0], e.Profile, e.Profile, e.Profile)
	}
	return msg
}

// DuplicateError refuses to install a profile whose name or attachment
// another file of the directory already has: both would be loaded, and
// which one confines the service would depend on load order.
type DuplicateError struct {
	Profile, Attach string
	File            string // the other file
	Other           string // its profile
}

func (e *DuplicateError) Error() string {
	what := "profile " + e.Profile
	if e.Other != e.Profile {
		what = fmt.Sprintf("profile %s attaches to %s, as the library's %s does;", e.Other, e.Attach, e.Profile)
	} else {
		what += " is already defined"
	}
	return fmt.Sprintf("%s in %s; nothing was written. armorer disable %s first, or keep that profile", what, e.File, filepath.Base(e.File))
}

// localStub is the content of a new local/NAME: the place for a site's
// additions, which Install never overwrites.
func localStub(name string) []byte {
	return fmt.Appendf(nil, "# Site-specific additions to the library profile %s (armorer library\n# install never overwrites this file; the profile includes it last).\n", name)
}

// Install writes the library's profile name into h's profile directory,
// with the library's abstractions it includes and an empty local/NAME
// when there is none, and loads it (not with h.NoLoad): as one change,
// under the directory's lock, compiled by the host's apparmor_parser
// against the directory's abstractions before anything is written, each
// file written atomically with its previous version kept, and all put
// back if the kernel rejects the profile (host.InstallProfiles). Files
// that exist and differ are a *ConflictError unless o.Force.
func Install(ctx context.Context, h *host.Host, name string, o InstallOptions) (*InstallResult, error) {
	p, src, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	dir := h.Paths.ProfileDir
	content, mode := src, host.Enforce
	if o.Complain {
		if content, err = host.SetModeFlags(name, src, host.Complain); err != nil {
			return nil, err
		}
		mode = host.Complain
	}
	res := &InstallResult{Profile: name, File: filepath.Join(dir, name), Mode: mode}
	var planned []InstalledFile
	wr, err := h.InstallProfiles(ctx, dir, func() ([]host.FileWrite, error) {
		planned = nil
		if err := noDuplicate(h, p); err != nil {
			return nil, err
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, fmt.Errorf("open profile directory: %w", err)
		}
		defer root.Close()
		type want struct {
			rel     string
			content []byte
			always  bool // written even when unchanged: it is loaded
		}
		var wants []want
		for _, a := range p.Own {
			text, err := abstractionText(a)
			if err != nil {
				return nil, err
			}
			wants = append(wants, want{rel: a, content: text})
		}
		wants = append(wants, want{rel: name, content: content, always: true})
		conflict := &ConflictError{Profile: name}
		var files []host.FileWrite
		for _, w := range wants {
			cur, err := root.ReadFile(w.rel)
			f := InstalledFile{Path: filepath.Join(dir, filepath.FromSlash(w.rel)), Action: Created}
			switch {
			case errors.Is(err, fs.ErrNotExist):
			case err != nil:
				return nil, fmt.Errorf("read %s: %w", f.Path, err)
			case bytes.Equal(cur, w.content):
				f.Action = Unchanged
			default:
				f.Action = Replaced
				conflict.Files = append(conflict.Files, f.Path)
				if w.rel == name && sameButMode(cur, src) {
					conflict.ModeOnly = true
				}
			}
			planned = append(planned, f)
			if f.Action != Unchanged || w.always {
				files = append(files, host.FileWrite{Path: f.Path, Content: w.content})
			}
		}
		if len(conflict.Files) > 0 && !o.Force {
			conflict.ModeOnly = conflict.ModeOnly && len(conflict.Files) == 1
			return nil, conflict
		}
		local := path.Join("local", name)
		f := InstalledFile{Path: filepath.Join(dir, "local", name), Action: Kept}
		if _, err := root.Lstat(local); errors.Is(err, fs.ErrNotExist) {
			f.Action = Created
			// Compare with no Expected: written only if still absent.
			files = append(files, host.FileWrite{Path: f.Path, Content: localStub(name), Profiles: []string{name}, Compare: true})
		} else if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Path, err)
		}
		planned = append(planned, f)
		return files, nil
	})
	if err != nil {
		return nil, err
	}
	for _, f := range planned {
		for _, w := range wr.Files {
			if w.Path == f.Path {
				f.Backup = w.Backup
			}
		}
		res.Files = append(res.Files, f)
	}
	for _, r := range wr.Reloads {
		switch {
		case r.File != res.File:
		case r.Added:
			res.Kernel = "loaded"
		case r.Replaced:
			res.Kernel = "replaced"
		}
	}
	return res, nil
}

// sameButMode says whether cur is the library's src with other mode
// flags.
func sameButMode(cur, src []byte) bool {
	for _, m := range []host.Mode{host.Enforce, host.Complain} {
		if c, err := host.SetModeFlags("", cur, m); err == nil {
			if s, err := host.SetModeFlags("", src, m); err == nil && bytes.Equal(c, s) {
				return true
			}
		}
	}
	return false
}

// noDuplicate refuses p when another file of the directory defines a
// top-level profile of its name or with its attachment. A file that does
// not parse is not armorer's to judge here: the parser loads it or not.
func noDuplicate(h *host.Host, p Profile) error {
	files, err := host.ProfileFiles(h.Paths.ProfileDir)
	if err != nil {
		return nil // an unreadable directory fails the write, with its reason
	}
	own := filepath.Join(h.Paths.ProfileDir, p.Name)
	for _, file := range files {
		if _, err := os.Lstat(filepath.Join(h.Paths.ProfileDir, "disable", filepath.Base(file))); file == own || err == nil {
			continue // its own file, or one the loader skips
		}
		src, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		f, err := policy.ParseFile(token.NewFileSet(), file, src, 0)
		if err != nil {
			continue
		}
		for _, r := range f.Rules {
			q, ok := r.(*policy.Profile)
			if !ok || q.Name == nil {
				continue
			}
			name, attach := q.Name.Value(), ""
			if q.Attach != nil {
				attach = q.Attach.Value()
			} else if strings.HasPrefix(name, "/") {
				attach = name
			}
			if name == p.Name || p.Attach != "" && attach == p.Attach {
				return &DuplicateError{Profile: p.Name, Attach: p.Attach, File: file, Other: name}
			}
		}
	}
	return nil
}
