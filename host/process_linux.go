//go:build linux

package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Processes scans /proc for every process's AppArmor label, from
// attr/apparmor/current (Linux 5.8+, correct under LSM stacking), falling
// back to attr/current. Processes that exit during the scan are skipped.
func (h *Host) Processes() ([]Process, error) {
	procs, _, err := h.scanProcesses()
	return procs, err
}

// scanProcesses also counts the processes whose label could not be read
// (permission denied: another user's process, when not root).
func (h *Host) scanProcesses() ([]Process, int, error) {
	ents, err := os.ReadDir(h.Paths.Proc)
	if err != nil {
		return nil, 0, fmt.Errorf("scan processes: %w", err)
	}
	var out []Process
	unreadable := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		dir := filepath.Join(h.Paths.Proc, e.Name())
		label, err := readLabel(dir)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				unreadable++
				continue
			}
			// A process that exits between the directory read and the
			// label read gives ENOENT, or ESRCH once its attr file is open.
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) || errors.Is(err, errNoLabel) {
				continue // exited, or no AppArmor label
			}
			return nil, 0, fmt.Errorf("scan processes: %w", err)
		}
		name, mode, err := ParseLabel(label)
		if err != nil {
			return nil, 0, fmt.Errorf("scan processes: %s: %w", dir, err)
		}
		p := Process{PID: pid, Label: strings.TrimRight(label, "\x00\n "), Profile: name, Mode: mode}
		p.Exe, _ = os.Readlink(filepath.Join(dir, "exe"))
		if comm, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
			p.Comm = strings.TrimSpace(string(comm))
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Process) int { return a.PID - b.PID })
	return out, unreadable, nil
}

var errNoLabel = errors.New("no AppArmor label")

func readLabel(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "attr", "apparmor", "current"))
	if errors.Is(err, fs.ErrNotExist) {
		b, err = os.ReadFile(filepath.Join(dir, "attr", "current"))
	}
	if err != nil {
		// EINVAL: the active LSM is not AppArmor.
		if errors.Is(err, syscall.EINVAL) {
			return "", errNoLabel
		}
		return "", err
	}
	s := strings.TrimRight(string(b), "\x00\n ")
	if s == "" {
		return "", errNoLabel
	}
	return s, nil
}
