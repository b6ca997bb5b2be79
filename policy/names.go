package policy

import "strings"

// IsCapability reports whether name is a capability apparmor_parser knows
// (capabilities(7), lower case, without CAP_).
func IsCapability(name string) bool { return capabilities[name] }

// IsNetworkFamily reports whether name is a network family a network rule
// names ("inet", "unix", "netlink", …).
func IsNetworkFamily(name string) bool { return networkFamilies[name] }

// IsNetworkType reports whether name is a socket type a network rule names
// ("stream", "dgram", "raw", …).
func IsNetworkType(name string) bool { return networkTypes[name] }

// SearchInclude is `include <rel>` (`include if exists <rel>` with
// ifExists), a file searched in the include directories, or nil when rel
// is no plain relative file name: components of letters, digits and
// ._-+~ (the characters host.ProfileFileName keeps), none empty, "." or
// "..". Its path is never text that could close the <…> and start a rule.
func SearchInclude(rel string, ifExists bool) *Include {
	if rel == "" {
		return nil
	}
	for c := range strings.SplitSeq(rel, "/") {
		if c == "" || c == "." || c == ".." || strings.TrimLeft(c, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+~") != "" {
			return nil
		}
	}
	return &Include{IfExists: ifExists, Path: NewWord("<" + rel + ">")}
}
