// Package buildinfo says which armorer this is: the version, commit and
// build date stamped by `make release` (-ldflags -X), falling back to what
// the Go toolchain recorded in the binary (module version, VCS stamp).
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set at link time by `make release`:
//
//	-X github.com/armorer-dev/armorer/internal/buildinfo.version=v0.3.0
//	-X github.com/armorer-dev/armorer/internal/buildinfo.commit=0123abc…
//	-X github.com/armorer-dev/armorer/internal/buildinfo.date=2026-12-03T05:00:00Z
var version, commit, date string

// Info describes one armorer build. Its JSON form is `armorer version --json`.
type Info struct {
	Version   string `json:"version"`            // v1.2.3, or (devel) for an unstamped build
	Commit    string `json:"commit,omitempty"`   // the full git commit, when known
	Date      string `json:"date,omitempty"`     // the build (or commit) time, RFC 3339, when known
	GoVersion string `json:"go_version"`         // the toolchain that built it
	Modified  bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
}

// Get returns this binary's build information.
func Get() Info {
	return resolve(version, commit, date, debug.ReadBuildInfo)
}

func resolve(v, c, d string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: v, Commit: c, Date: d, GoVersion: runtime.Version()}
	bi, ok := read()
	if !ok {
		if info.Version == "" {
			info.Version = "(devel)"
		}
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	if info.Version == "" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if info.Commit == "" {
				info.Commit = s.Value
			}
		case "vcs.time":
			if info.Date == "" {
				info.Date = s.Value
			}
		case "vcs.modified":
			// Only meaningful for the VCS stamp: a release build says so itself.
			if c == "" {
				info.Modified = s.Value == "true"
			}
		}
	}
	return info
}
