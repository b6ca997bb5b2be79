package host

import (
	"go/token"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/policy"
)

// fileAttachments maps each top-level profile defined in the profile
// directory's files to its attachment: the ATTACH of "profile NAME ATTACH",
// or the name of a profile named by its path. Kernels before AppArmor 4
// print "<unknown>" in policy/profiles/*/attach (the 3.x parser sends no
// attachment string), so the files are the only source there.
func (h *Host) fileAttachments() map[string]string {
	m := map[string]string{}
	for _, p := range h.dirProfiles(false) {
		name := p.Name.Value()
		switch {
		case p.Attach != nil:
			m[name] = p.Attach.Value()
		case strings.HasPrefix(name, "/"):
			m[name] = name
		}
	}
	return m
}

// DefinedProfiles returns the names of the top-level profiles that the
// profile directory's files define and that the loader would load at boot.
// The monitor compares them with the loaded profiles to catch "profile not
// loaded".
func (h *Host) DefinedProfiles() ([]string, error) {
	if _, err := os.Stat(h.Paths.ProfileDir); err != nil {
		return nil, err
	}
	var names []string
	for _, p := range h.dirProfiles(false) {
		names = append(names, p.Name.Value())
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// dirProfiles yields the named top-level profiles of the files the loader
// loads from the profile directory, with the file that defines each: files
// it skips and files that do not parse are left out, and so are files
// disabled through disable/ unless withDisabled.
func (h *Host) dirProfiles(withDisabled bool) iter.Seq2[string, *policy.Profile] {
	return func(yield func(string, *policy.Profile) bool) {
		ents, err := os.ReadDir(h.Paths.ProfileDir)
		if err != nil {
			return
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || policy.SkippedName(e.Name()) {
				continue
			}
			if _, err := os.Lstat(filepath.Join(h.Paths.ProfileDir, "disable", e.Name())); err == nil && !withDisabled {
				continue
			}
			src, err := os.ReadFile(filepath.Join(h.Paths.ProfileDir, e.Name()))
			if err != nil {
				continue
			}
			f, _ := policy.ParseFile(token.NewFileSet(), e.Name(), src, 0)
			if f == nil {
				continue
			}
			for _, r := range f.Rules {
				if p, ok := r.(*policy.Profile); ok && p.Name != nil && !yield(e.Name(), p) {
					return
				}
			}
		}
	}
}
