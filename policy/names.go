package policy

// IsCapability reports whether name is a capability apparmor_parser knows
// (capabilities(7), lower case, without CAP_).
func IsCapability(name string) bool { return capabilities[name] }

// IsNetworkFamily reports whether name is a network family a network rule
// names ("inet", "unix", "netlink", …).
func IsNetworkFamily(name string) bool { return networkFamilies[name] }

// IsNetworkType reports whether name is a socket type a network rule names
// ("stream", "dgram", "raw", …).
func IsNetworkType(name string) bool { return networkTypes[name] }
