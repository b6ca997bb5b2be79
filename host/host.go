// Package host is this machine's AppArmor: whether it is enabled, the
// kernel's features, the loaded profiles and their modes (securityfs), the
// processes they confine (/proc), apparmor_parser (validate, load, replace,
// remove), and the profile directory (atomic writes with backup and
// rollback; complain, enforce, disable).
//
// Every filesystem root is a field of Paths, so tests run on fixture trees,
// the way node_exporter takes --path.procfs and --path.sysfs.
package host

import (
	"log/slog"
	"path/filepath"
	"slices"
)

// Paths are the roots host reads and writes. DefaultPaths gives the real
// ones; tests point them into fixture trees.
type Paths struct {
	SecurityFS string // securityfs mount point: /sys/kernel/security
	Module     string // the module's sysfs directory: /sys/module/apparmor
	Proc       string // procfs: /proc
	ProfileDir string // profile directory: /etc/apparmor.d
	StateDir   string // armorer's state: /var/lib/armorer (backups in StateDir/backup)
	// SystemdDirs are systemd's unit directories, for AppArmorProfile=;
	// nil means DefaultSystemdDirs.
	SystemdDirs []string
	// Parser is the apparmor_parser program: a path, or a name looked up in
	// PATH and then in /usr/sbin and /sbin. Empty means "apparmor_parser".
	Parser string
	// ParserArgs go before every other argument (e.g. --config-file, -I,
	// --base), so tests and unusual layouts can steer the parser.
	ParserArgs []string
}

// Default roots.
const (
	DefaultSecurityFS = "/sys/kernel/security"
	DefaultModule     = "/sys/module/apparmor"
	DefaultProc       = "/proc"
	DefaultProfileDir = "/etc/apparmor.d"
	DefaultStateDir   = "/var/lib/armorer"
)

// DefaultPaths returns the real system's roots.
func DefaultPaths() Paths {
	return Paths{
		SecurityFS: DefaultSecurityFS,
		Module:     DefaultModule,
		Proc:       DefaultProc,
		ProfileDir: DefaultProfileDir,
		StateDir:   DefaultStateDir,
	}
}

// apparmorfs is AppArmor's directory inside securityfs.
func (p Paths) apparmorfs() string { return filepath.Join(p.SecurityFS, "apparmor") }

// BackupDir is where previous versions of profile files are kept.
func (p Paths) BackupDir() string { return filepath.Join(p.StateDir, "backup") }

// Host is one machine's AppArmor, seen through Paths.
type Host struct {
	Paths  Paths
	Parser *Parser
	// NoLoad edits the profile directory without telling the kernel, like
	// aa-complain --no-reload: files are validated (apparmor_parser -QK,
	// which needs no kernel), written with backups and linked as usual,
	// but nothing is loaded, replaced or removed.
	NoLoad bool
	log    *slog.Logger

	// removeHook replaces the write to securityfs .remove in tests, where
	// the fixture's file is not the kernel's.
	removeHook func(name string) error
}

// New returns a Host for paths; empty fields take their defaults. A nil
// logger logs nothing.
func New(paths Paths, logger *slog.Logger) *Host {
	d := DefaultPaths()
	for _, f := range []struct {
		dst *string
		def string
	}{
		{&paths.SecurityFS, d.SecurityFS}, {&paths.Module, d.Module}, {&paths.Proc, d.Proc},
		{&paths.ProfileDir, d.ProfileDir}, {&paths.StateDir, d.StateDir},
	} {
		if *f.dst == "" {
			*f.dst = f.def
		}
	}
	if paths.SystemdDirs == nil {
		paths.SystemdDirs = slices.Clone(DefaultSystemdDirs)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Host{Paths: paths, log: logger}
	h.Parser = &Parser{Program: paths.Parser, Args: paths.ParserArgs}
	if paths.SecurityFS != DefaultSecurityFS {
		// Tell the parser where the (injected) AppArmor filesystem is,
		// instead of letting it search /proc/mounts.
		h.Parser.KernelArgs = []string{"--subdomainfs", paths.apparmorfs()}
	}
	return h
}

// WithDirs returns a copy of h on another profile directory and state
// directory; "" keeps h's.
func (h *Host) WithDirs(profileDir, stateDir string) *Host {
	c := *h
	if profileDir != "" {
		c.Paths.ProfileDir = profileDir
	}
	if stateDir != "" {
		c.Paths.StateDir = stateDir
	}
	return &c
}
