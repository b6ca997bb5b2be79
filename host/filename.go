package host

import (
	"path"
	"strings"

	"github.com/armorer-dev/armorer/policy"
)

// ProfileFileName is the name of a new file for a profile in a profile
// directory, derived from the profile's attachment path (or its name when
// it has none) as aa-autodep does: the path without its leading slash,
// "/" replaced by "." (/usr/sbin/nscd is usr.sbin.nscd), every other
// character but ASCII letters, digits and "._-+~" by "_".
//
// The result is always a name the AppArmor loader loads: never empty,
// never starting with "." (dot files are skipped), never containing ".."
// or a "/", no control characters, not README nor ending in a package
// manager's suffix. Names from the kernel's labels are not trusted input:
// a label "..x" or "../../etc/x" must not become a file the loader skips
// or a path outside the directory. The name is also the profile's
// `include if exists <local/NAME>`: a label "x>capability,#" must not
// become `<local/x>capability,#>`, an include and a rule granting every
// capability.
func ProfileFileName(name string) string {
	if strings.HasPrefix(name, "/") {
		name = strings.TrimPrefix(path.Clean(name), "/")
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '/':
			return '.'
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._-+~", r):
			return r
		}
		return '_'
	}, name)
	for strings.Contains(name, "..") {
		name = strings.ReplaceAll(name, "..", "._")
	}
	if strings.HasPrefix(name, ".") {
		name = "_" + name[1:]
	}
	if name == "" || policy.SkippedName(name) {
		name += "_"
	}
	return name
}
