package host

import (
	"bufio"
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultSystemdDirs are where systemd looks for units and their drop-ins,
// most important first.
var DefaultSystemdDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

// Interpreted services (python3 app.py, node, java) cannot be attached by
// path without confining every program of the interpreter, so their
// profile has no attachment and systemd applies it: AppArmorProfile=NAME
// in the unit or a drop-in. status reads both.

// unitOf is the systemd service a process runs in, from /proc/PID/cgroup
// (cgroup v2 "0::/system.slice/x.service", or v1's name=systemd line).
func (h *Host) unitOf(pid string) string {
	data, err := os.ReadFile(filepath.Join(h.Paths.Proc, pid, "cgroup"))
	if err != nil {
		return ""
	}
	unit := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 || (parts[0] != "0" && parts[1] != "name=systemd") {
			continue
		}
		for elem := range strings.SplitSeq(parts[2], "/") {
			if strings.HasSuffix(elem, ".service") {
				unit = elem // the innermost service
			}
		}
	}
	return unit
}

// unitProfile is the AppArmorProfile= a unit sets: the unit file first
// found in the search path, then its drop-ins (unit.d/*.conf, sorted by
// name across all directories, the earlier directory winning for equal
// names); the last assignment wins and an empty one resets it. A leading
// "-" (ignore a missing profile) is dropped.
func (h *Host) unitProfile(unit string) string {
	dirs := h.Paths.SystemdDirs
	var files []string
	for _, d := range dirs {
		if f := filepath.Join(d, unit); isFile(f) {
			files = append(files, f)
			break
		}
	}
	dropins := map[string]string{}
	for i := len(dirs) - 1; i >= 0; i-- { // earlier directories override
		matches, _ := filepath.Glob(filepath.Join(dirs[i], unit+".d", "*.conf"))
		for _, m := range matches {
			dropins[filepath.Base(m)] = m
		}
	}
	for _, name := range slices.Sorted(maps.Keys(dropins)) {
		files = append(files, dropins[name])
	}
	profile := ""
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		section := ""
		for line := range strings.Lines(string(data)) {
			line = strings.TrimSpace(line)
			switch {
			case line == "" || line[0] == '#' || line[0] == ';':
			case line[0] == '[':
				section = line
			case section == "[Service]":
				if v, ok := strings.CutPrefix(line, "AppArmorProfile="); ok {
					profile = strings.TrimPrefix(strings.TrimSpace(v), "-")
				}
			}
		}
	}
	return profile
}

func isFile(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}
