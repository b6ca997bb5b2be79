package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/internal/atomicfile"
)

// Factory carries what commands share. Fields that touch the system are
// lazy funcs, so commands such as fmt and check never read /sys.
type Factory struct {
	IO *IOStreams
	// Host is this machine's AppArmor, built on first use.
	Host func() (*host.Host, error)
	// EnforceGate is the simulate gate enforce runs first (see enforce.go):
	// simulate over the state directory's recorded events.
	EnforceGate func() (EnforceGate, error)
}

// NewFactory returns the factory for a real process.
func NewFactory() *Factory {
	io := System()
	h := sync.OnceValues(func() (*host.Host, error) {
		if err := backupRetentionFromEnv(); err != nil {
			return nil, err
		}
		return host.New(HostPathsFromEnv(), nil), nil
	})
	return &Factory{
		IO:          io,
		Host:        h,
		EnforceGate: func() (EnforceGate, error) { return NewSimulateGate(io, h), nil },
	}
}

// Environment variables that move host roots, for tests on fixture trees
// and for unusual layouts. ARMORER_ROOT prefixes the system roots
// (securityfs, the module's sysfs directory, /proc, /etc/apparmor.d,
// systemd's unit directories); each specific variable wins over it.
const (
	EnvRoot       = "ARMORER_ROOT"
	EnvSecurityFS = "ARMORER_SECURITYFS"      // default /sys/kernel/security
	EnvModule     = "ARMORER_APPARMOR_MODULE" // default /sys/module/apparmor
	EnvProc       = "ARMORER_PROCFS"          // default /proc
	EnvProfileDir = "ARMORER_PROFILE_DIR"     // default /etc/apparmor.d
	EnvStateDir   = "ARMORER_STATE_DIR"       // default /var/lib/armorer
	EnvParser     = "ARMORER_APPARMOR_PARSER" // default apparmor_parser (PATH, /usr/sbin, /sbin)

	// Backups of profile files in the state directory: how many to keep
	// per file, and the age after which they go (the newest stays).
	EnvBackupKeep   = "ARMORER_BACKUP_KEEP"    // default 10
	EnvBackupMaxAge = "ARMORER_BACKUP_MAX_AGE" // default 2160h (90 days); 0: any age
)

// backupRetentionFromEnv sets the writes' backup retention from the
// environment.
func backupRetentionFromEnv() error {
	r := atomicfile.BackupRetention
	if s := os.Getenv(EnvBackupKeep); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("%s=%q: want a number of backups, at least 1", EnvBackupKeep, s)
		}
		r.Keep = n
	}
	if s := os.Getenv(EnvBackupMaxAge); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return fmt.Errorf("%s=%q: want a duration such as 720h, or 0 for any age", EnvBackupMaxAge, s)
		}
		r.MaxAge = d
	}
	atomicfile.BackupRetention = r
	return nil
}

// HostPathsFromEnv returns host.DefaultPaths moved by the environment.
func HostPathsFromEnv() host.Paths {
	p := host.DefaultPaths()
	if root := os.Getenv(EnvRoot); root != "" {
		p.SecurityFS = filepath.Join(root, p.SecurityFS)
		p.Module = filepath.Join(root, p.Module)
		p.Proc = filepath.Join(root, p.Proc)
		p.ProfileDir = filepath.Join(root, p.ProfileDir)
		for _, d := range host.DefaultSystemdDirs {
			p.SystemdDirs = append(p.SystemdDirs, filepath.Join(root, d))
		}
	}
	for _, v := range []struct {
		env string
		dst *string
	}{
		{EnvSecurityFS, &p.SecurityFS}, {EnvModule, &p.Module}, {EnvProc, &p.Proc},
		{EnvProfileDir, &p.ProfileDir}, {EnvStateDir, &p.StateDir}, {EnvParser, &p.Parser},
	} {
		if s := os.Getenv(v.env); s != "" {
			*v.dst = s
		}
	}
	return p
}
