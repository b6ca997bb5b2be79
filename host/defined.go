package host

import (
	"go/token"
	"os"
	"path/filepath"
	"slices"

	"github.com/armorer-dev/armorer/policy"
)

// DefinedProfiles returns the names of the top-level profiles that the
// profile directory's files define and that the loader would load at boot:
// files it skips and files disabled through disable/ are left out, as are
// files that do not parse. The monitor compares them with the loaded
// profiles to catch "profile not loaded".
func (h *Host) DefinedProfiles() ([]string, error) {
	ents, err := os.ReadDir(h.Paths.ProfileDir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !e.Type().IsRegular() || loaderSkips(e.Name()) {
			continue
		}
		if _, err := os.Lstat(filepath.Join(h.Paths.ProfileDir, "disable", e.Name())); err == nil {
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
			if p, ok := r.(*policy.Profile); ok && p.Name != nil {
				names = append(names, p.Name.Value())
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
