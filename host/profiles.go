package host

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Mode is a profile's mode as the kernel reports it.
type Mode string

// The modes of AppArmor profiles ("mixed" appears for stacked labels).
const (
	Enforce    Mode = "enforce"
	Complain   Mode = "complain"
	Kill       Mode = "kill"
	Unconfined Mode = "unconfined"
	Prompt     Mode = "prompt"
	Mixed      Mode = "mixed"
)

// Modes lists the profile modes in the order status prints them.
var Modes = []Mode{Enforce, Complain, Kill, Unconfined, Prompt, Mixed}

// LoadedProfile is one profile in the kernel.
type LoadedProfile struct {
	Name string `json:"name"`
	Mode Mode   `json:"mode"`
	// Attach is the profile's attachment: what the kernel reports
	// (policy/profiles/*/attach) or, when it does not know, what the
	// profile directory's files say. Empty when neither knows.
	Attach string `json:"attach,omitempty"`
}

// ParseLabel splits a label as the kernel prints it, "NAME (MODE)", into
// its name and mode; "unconfined" has no parentheses. Stacked labels
// ("a//&b (enforce)") keep their whole name.
func ParseLabel(s string) (name string, mode Mode, err error) {
	s = strings.TrimRight(s, "\x00\n ")
	if s == "unconfined" {
		return s, Unconfined, nil
	}
	i := strings.LastIndex(s, " (")
	if i <= 0 || !strings.HasSuffix(s, ")") {
		return "", "", fmt.Errorf("label %q: want \"NAME (MODE)\"", s)
	}
	return s[:i], Mode(s[i+2 : len(s)-1]), nil
}

// LoadedProfiles reads the kernel's profile list, securityfs
// apparmor/profiles, sorted by name, with attachments where the kernel
// exposes them.
func (h *Host) LoadedProfiles() ([]LoadedProfile, error) {
	name := filepath.Join(h.Paths.apparmorfs(), "profiles")
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read loaded profiles: %w", err)
	}
	ps, err := parseProfiles(name, data)
	if err != nil {
		return nil, err
	}
	attach := h.attachments()
	var fromFiles map[string]string
	for i := range ps {
		a, ok := attach[ps[i].Name]
		if !ok && !strings.Contains(ps[i].Name, "//") {
			if fromFiles == nil {
				fromFiles = h.fileAttachments()
			}
			a = fromFiles[ps[i].Name]
		}
		ps[i].Attach = a
	}
	return ps, nil
}

func parseProfiles(file string, data []byte) ([]LoadedProfile, error) {
	var ps []LoadedProfile
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, mode, err := ParseLabel(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, n, err)
		}
		ps = append(ps, LoadedProfile{Name: name, Mode: mode})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	slices.SortFunc(ps, func(a, b LoadedProfile) int { return strings.Compare(a.Name, b.Name) })
	return ps, nil
}

// attachments reads policy/profiles/*/{name,attach}. The kernel prints the
// attachment, or the profile's name when it has none, or "<unknown>";
// only paths are kept. Kernels without the directory give an empty map.
func (h *Host) attachments() map[string]string {
	dir := filepath.Join(h.Paths.apparmorfs(), "policy", "profiles")
	ents, err := os.ReadDir(dir)
	m := map[string]string{}
	if err != nil {
		return m
	}
	for _, e := range ents {
		name, err1 := readTrimmed(filepath.Join(dir, e.Name(), "name"))
		attach, err2 := readTrimmed(filepath.Join(dir, e.Name(), "attach"))
		if err1 != nil || err2 != nil || !strings.HasPrefix(attach, "/") {
			continue
		}
		m[name] = attach
	}
	return m
}

// loadedSet is a snapshot of the kernel's profiles, compared before and
// after a load to tell whether a rejected load changed anything.
type loadedSet map[string]Mode

func (h *Host) snapshot() (loadedSet, error) {
	ps, err := h.LoadedProfiles()
	if err != nil {
		return nil, err
	}
	s := loadedSet{}
	for _, p := range ps {
		s[p.Name] = p.Mode
	}
	return s, nil
}

// removeByName writes names to securityfs .remove, for a profile whose
// file is gone; apparmor_parser -R needs the file.
func (h *Host) removeByName(name string) error {
	if h.removeHook != nil {
		return h.removeHook(name)
	}
	f, err := os.OpenFile(filepath.Join(h.Paths.apparmorfs(), ".remove"), os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return &UnavailableError{Problems: []Problem{{What: "securityfs has no apparmor/.remove", Fix: "mount securityfs"}}}
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	defer f.Close()
	if _, err := f.WriteString(name); err != nil {
		return &KernelError{&ParserError{Op: "remove", File: name, Err: err, Stderr: "the kernel refused: " + err.Error()}}
	}
	return nil
}
