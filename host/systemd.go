package host

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/internal/atomicfile"
	"github.com/coreos/go-systemd/v22/unit"
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

// unitProfile is the AppArmorProfile= a unit sets, with its drop-ins
// applied (the last assignment wins and an empty one resets it). A
// leading "-" (ignore a missing profile) is dropped.
func (h *Host) unitProfile(unit string) string {
	u, err := ReadUnit(h.Paths.SystemdDirs, unit)
	if err != nil {
		return ""
	}
	v, _ := u.Value("Service", "AppArmorProfile")
	return strings.TrimPrefix(v, "-")
}

// Unit is a systemd unit as systemd reads it: the unit file first found
// in the search path, then its drop-ins (UNIT.d/*.conf, sorted by name
// across all directories, the earlier directory winning for equal names).
type Unit struct {
	Name string
	// File is the unit file, "" when only drop-ins define the unit.
	File string
	// Options are the assignments of the unit file and its drop-ins, in
	// the order systemd applies them.
	Options []UnitOption
}

// UnitOption is one assignment, with where it was written.
type UnitOption struct {
	Section, Name, Value string
	File                 string
	Line                 int // 1-based
}

// Pos is FILE:LINE, for messages.
func (o UnitOption) Pos() string { return fmt.Sprintf("%s:%d", o.File, o.Line) }

// NotFoundUnitError is a unit that no systemd directory has.
type NotFoundUnitError struct {
	Unit string
	Dirs []string
}

func (e *NotFoundUnitError) Error() string {
	return fmt.Sprintf("unit %s not found in %s", e.Unit, strings.Join(e.Dirs, ", "))
}

// ReadUnit reads unit (a unit name such as "pyapp.service") from dirs,
// most important first (nil: DefaultSystemdDirs), with its drop-ins,
// parsed by go-systemd's unit parser.
func ReadUnit(dirs []string, unit string) (*Unit, error) {
	if dirs == nil {
		dirs = DefaultSystemdDirs
	}
	u := &Unit{Name: unit}
	var files []string
	for _, d := range dirs {
		if f := filepath.Join(d, unit); isFile(f) {
			u.File = f
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
	if len(files) == 0 {
		return nil, &NotFoundUnitError{Unit: unit, Dirs: dirs}
	}
	for _, f := range files {
		opts, err := readUnitFile(f)
		if err != nil {
			return nil, err
		}
		u.Options = append(u.Options, opts...)
	}
	return u, nil
}

func readUnitFile(file string) ([]UnitOption, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	opts, err := unit.DeserializeOptions(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	// The parser gives no positions; options come in file order, so each
	// is on the next line that assigns its name.
	lines := strings.Split(string(data), "\n")
	next := 0
	out := make([]UnitOption, 0, len(opts))
	for _, o := range opts {
		line := 0
		for i := next; i < len(lines); i++ {
			l := strings.TrimSpace(lines[i])
			if rest, ok := strings.CutPrefix(l, o.Name); ok && strings.HasPrefix(strings.TrimLeft(rest, " \t"), "=") {
				line, next = i+1, i+1
				break
			}
		}
		out = append(out, UnitOption{Section: o.Section, Name: o.Name, Value: o.Value, File: file, Line: line})
	}
	return out, nil
}

// Value is the effective value of a single-valued setting: the last
// assignment (an empty one resets it).
func (u *Unit) Value(section, name string) (string, bool) {
	o, ok := u.Last(section, name)
	return o.Value, ok && o.Value != ""
}

// Last is the last assignment of a setting.
func (u *Unit) Last(section, name string) (UnitOption, bool) {
	for i := len(u.Options) - 1; i >= 0; i-- {
		if o := u.Options[i]; o.Section == section && o.Name == name {
			return o, true
		}
	}
	return UnitOption{}, false
}

func isFile(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

// WriteDropIn writes a drop-in for unit into the first systemd directory
// (/etc/systemd/system/UNIT.d/NAME), atomically, keeping the previous
// version in the state directory's backups. systemd reads it after
// daemon-reload.
func (h *Host) WriteDropIn(unit, name string, content []byte) (Written, error) {
	if strings.ContainsAny(unit+name, "/\x00") || strings.HasPrefix(unit, ".") || strings.HasPrefix(name, ".") {
		return Written{}, fmt.Errorf("drop-in %s for %s: not a plain file name", name, unit)
	}
	dirs := h.Paths.SystemdDirs
	if len(dirs) == 0 {
		dirs = DefaultSystemdDirs
	}
	dir := filepath.Join(dirs[0], unit+".d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Written{}, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Written{}, err
	}
	defer root.Close()
	b, err := atomicfile.WriteFile(root, name, content, 0o644, h.Paths.BackupDir())
	if err != nil {
		return Written{}, err
	}
	return Written{Path: filepath.Join(dir, name), Backup: b.Path, Existed: b.Existed()}, nil
}
