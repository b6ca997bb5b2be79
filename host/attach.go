package host

import (
	"go/token"
	"os"
	"path/filepath"
	"strings"

	"github.com/armorer-dev/armorer/policy"
)

// fileAttachments maps each top-level profile defined in the profile
// directory's files to its attachment: the ATTACH of "profile NAME ATTACH",
// or the name of a profile named by its path. Kernels before AppArmor 4
// print "<unknown>" in policy/profiles/*/attach (the 3.x parser sends no
// attachment string), so the files are the only source there. Files the
// loader skips, and files that do not parse, are ignored.
func (h *Host) fileAttachments() map[string]string {
	m := map[string]string{}
	ents, err := os.ReadDir(h.Paths.ProfileDir)
	if err != nil {
		return m
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || loaderSkips(e.Name()) {
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
			p, ok := r.(*policy.Profile)
			if !ok || p.Name == nil {
				continue
			}
			name := p.Name.Value()
			switch {
			case p.Attach != nil:
				m[name] = p.Attach.Value()
			case strings.HasPrefix(name, "/"):
				m[name] = name
			}
		}
	}
	return m
}

// loaderSkips reports the file names the AppArmor loader does not load:
// dot files, editor and package manager leftovers, the README.
func loaderSkips(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") || name == "README" {
		return true
	}
	for _, suffix := range []string{".dpkg-new", ".dpkg-old", ".dpkg-dist", ".dpkg-bak", ".dpkg-remove", ".pacsave", ".pacnew", ".rpmnew", ".rpmsave", ".orig", ".rej"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}
