package host

import (
	"os"
	"slices"
)

// fileAttachments maps each top-level profile defined in the profile
// directory's files to its attachment: the ATTACH of "profile NAME ATTACH",
// or the name of a profile named by its path. Kernels before AppArmor 4
// print "<unknown>" in policy/profiles/*/attach (the 3.x parser sends no
// attachment string), so the files are the only source there.
func (h *Host) fileAttachments() map[string]string {
	m := map[string]string{}
	set, err := h.ProfileSet()
	if err != nil {
		return m
	}
	for _, p := range set.TopLevel(false) {
		if p.Attach != "" {
			m[p.Name] = p.Attach
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
	set, err := h.ProfileSet()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range set.TopLevel(false) {
		names = append(names, p.Name)
	}
	return slices.Compact(names), nil
}
