package host

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/armorer-dev/armorer/policy/aare"
)

// Status is the aa-status view of this host.
type Status struct {
	Support  *Support        `json:"support"`
	Profiles []LoadedProfile `json:"profiles"`
	// Processes are the confined processes, by PID.
	Processes []Process `json:"processes"`
	// Unconfined are processes whose executable matches a loaded
	// profile's attachment but run unconfined: they started before the
	// profile was loaded and stay unconfined until restarted.
	Unconfined []UnconfinedProcess `json:"unconfined"`
	// Unreadable counts processes whose label could not be read
	// (another user's, when not root): the lists above miss them.
	Unreadable int `json:"unreadable_processes"`
}

// UnconfinedProcess is a process a loaded profile should confine.
type UnconfinedProcess struct {
	Process
	ShouldBe string `json:"should_be"` // the profile whose attachment matches
	// Unit is the systemd service whose AppArmorProfile= names ShouldBe,
	// when that (not an attachment) is why.
	Unit string `json:"unit,omitempty"`
}

// ByMode groups profile names by mode.
func (s *Status) ByMode() map[Mode][]string {
	m := map[Mode][]string{}
	for _, p := range s.Profiles {
		m[p.Mode] = append(m[p.Mode], p.Name)
	}
	return m
}

// AttachMatcher decides whether an attachment pattern matches an
// executable path; decided is false when it cannot tell (a pattern it
// cannot compile). GlobMatch is the default.
type AttachMatcher func(pattern, path string) (matched, decided bool)

// ExactMatch matches attachments without glob characters only; for a
// pattern with *, ?, [, { or @ it reports decided=false.
func ExactMatch(pattern, path string) (matched, decided bool) {
	if strings.ContainsAny(pattern, "*?[{@") {
		return false, false
	}
	return pattern == path, true
}

// GlobMatch matches with AppArmor's globbing (policy/aare), as the kernel
// matches attachments. A pattern with undefined variables or bad syntax
// is undecided.
func GlobMatch(pattern, path string) (matched, decided bool) {
	if m, d := ExactMatch(pattern, path); d {
		return m, d
	}
	p, err := aare.Compile(pattern, nil)
	if err != nil {
		return false, false
	}
	return p.Match(path), true
}

// Status reads the loaded profiles and scans the processes. It needs
// securityfs: without it, it returns an *UnavailableError.
func (h *Host) Status(ctx context.Context, match AttachMatcher) (*Status, error) {
	sup, err := h.RequireSecurityFS(ctx)
	if err != nil {
		return nil, err
	}
	profiles, err := h.LoadedProfiles()
	if err != nil {
		return nil, err
	}
	procs, unreadable, err := h.scanProcesses()
	if err != nil {
		return nil, err
	}
	st := &Status{Support: sup, Profiles: profiles, Processes: []Process{}, Unconfined: []UnconfinedProcess{}, Unreadable: unreadable}
	for _, p := range procs {
		if p.Mode != Unconfined {
			st.Processes = append(st.Processes, p)
		}
	}
	st.Unconfined = h.unconfinedButShouldBe(profiles, procs, match)
	return st, nil
}

// Confining returns the processes whose label names profile (alone, as a
// child profile or hat "profile//...", or in a stack).
func Confining(procs []Process, profile string) []Process {
	var out []Process
	for _, p := range procs {
		if p.Mode == Unconfined && p.Profile == "unconfined" {
			continue
		}
		for part := range strings.SplitSeq(p.Profile, "//&") {
			part = strings.TrimPrefix(part, ":")
			if part == profile || strings.HasPrefix(part, profile+"//") {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func (h *Host) unconfinedButShouldBe(profiles []LoadedProfile, procs []Process, match AttachMatcher) []UnconfinedProcess {
	if match == nil {
		match = GlobMatch
	}
	loaded := map[string]bool{}
	for _, p := range profiles {
		loaded[p.Name] = true
	}
	unitProfiles := map[string]string{}
	out := []UnconfinedProcess{}
	for _, proc := range procs {
		if proc.Profile != "unconfined" {
			continue
		}
		if name := attachedProfile(profiles, proc, match); name != "" {
			out = append(out, UnconfinedProcess{Process: proc, ShouldBe: name})
			continue
		}
		unit := h.unitOf(strconv.Itoa(proc.PID))
		if unit == "" {
			continue
		}
		name, ok := unitProfiles[unit]
		if !ok {
			name = h.unitProfile(unit)
			unitProfiles[unit] = name
		}
		if name != "" && loaded[name] {
			out = append(out, UnconfinedProcess{Process: proc, ShouldBe: name, Unit: unit})
		}
	}
	slices.SortFunc(out, func(a, b UnconfinedProcess) int { return a.PID - b.PID })
	return out
}

// attachedProfile is the first profile whose attachment matches proc's
// executable.
func attachedProfile(profiles []LoadedProfile, proc Process, match AttachMatcher) string {
	if proc.Exe == "" {
		return ""
	}
	for _, prof := range profiles {
		pattern := prof.Attach
		if pattern == "" && strings.HasPrefix(prof.Name, "/") {
			pattern = prof.Name // profiles named by path attach to it
		}
		if pattern == "" || strings.Contains(prof.Name, "//") {
			continue
		}
		if ok, decided := match(pattern, proc.Exe); ok && decided {
			return prof.Name
		}
	}
	return ""
}
