package host

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// ProfileSet is the profiles of a profile directory, read once: the files
// the AppArmor loader loads from it, the profiles they define (names,
// attachments, `local/` overrides), an include loader over the search
// path, whether a file is disabled (disable/NAME) and whether a Debian
// package installed it. learn merges into it, simulate replays against it,
// host resolves names and reports attachments from it, check expands
// directories with its listing.
type ProfileSet struct {
	Dir    string
	Loader *policy.Loader
	Files  map[string]*policy.File // parsed profile files by path
	// Profiles are by full name; children as parent//child.
	Profiles map[string]*Profile
	// Problems are files that did not parse; their profiles are missing.
	Problems []error
	// DpkgInfo is dpkg's database of installed files (Packaged reads its
	// *.list files); empty means /var/lib/dpkg/info.
	DpkgInfo string

	vars     map[string]*policy.Vars // per file: its tunables
	packaged map[string]bool         // dpkg-listed paths under Dir, read on first use
}

// Profile is one profile a file of a ProfileSet defines.
type Profile struct {
	Name   string
	File   string // the file that defines it
	Decl   *policy.Profile
	Attach string // attachment pattern, "" for none
	// Local is the profile's `include if exists <local/...>`, or nil.
	Local *policy.Include
	// Disabled: the file is disabled through disable/ (the loader skips
	// it at boot; load and enforce re-enable it).
	Disabled bool
}

// ProfileFiles lists the files the AppArmor loader loads from dir, sorted:
// regular files (symlinks followed), without the names it skips
// (dot files, README, package manager leftovers).
func ProfileFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range ents {
		if policy.SkippedName(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			files = append(files, p)
		}
	}
	return files, nil
}

// LoadProfileSet parses the profile files of dir. searchPath is the
// include search path (-I); empty means dir itself.
func LoadProfileSet(dir string, searchPath ...string) (*ProfileSet, error) {
	s := OpenProfileSet(dir, searchPath...)
	files, err := ProfileFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("read profile directory: %w", err)
	}
	for _, file := range files {
		if err := s.AddFile(file); err != nil {
			s.Problems = append(s.Problems, err)
		}
	}
	return s, nil
}

// OpenProfileSet returns a set with no profiles loaded yet (for its
// abstractions, or to AddFile single profiles).
func OpenProfileSet(dir string, searchPath ...string) *ProfileSet {
	if len(searchPath) == 0 {
		searchPath = []string{dir}
	}
	l := policy.NewLoader(searchPath...)
	l.Base = dir
	return &ProfileSet{Loader: l, Dir: dir, Files: map[string]*policy.File{}, Profiles: map[string]*Profile{}, vars: map[string]*policy.Vars{}}
}

// AddFile parses one more profile file into the set (a profile given on
// the command line rather than found in the directory).
func (s *ProfileSet) AddFile(file string) error {
	f, err := s.Loader.Load(file, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	s.Files[file] = f
	_, lerr := os.Lstat(filepath.Join(filepath.Dir(file), "disable", filepath.Base(file)))
	disabled := lerr == nil && filepath.Dir(file) == filepath.Clean(s.Dir)
	for _, r := range f.Rules {
		if prof, ok := r.(*policy.Profile); ok {
			s.addProfile(file, "", prof, disabled)
		}
	}
	return nil
}

func (s *ProfileSet) addProfile(file, parent string, prof *policy.Profile, disabled bool) {
	if prof.Name == nil {
		return
	}
	name := prof.Name.Value()
	if parent != "" {
		name = parent + "//" + strings.TrimPrefix(name, "^")
	}
	e := &Profile{Name: name, File: file, Decl: prof, Disabled: disabled}
	if prof.Attach != nil {
		e.Attach = prof.Attach.Value()
	} else if parent == "" && strings.HasPrefix(name, "/") {
		e.Attach = name
	}
	for _, r := range prof.Body {
		switch r := r.(type) {
		case *policy.Include:
			if r.IfExists && r.Path != nil && strings.HasPrefix(r.Path.Value(), "local/") {
				e.Local = r
			}
		case *policy.Profile:
			s.addProfile(file, name, r, disabled)
		}
	}
	if _, dup := s.Profiles[name]; !dup {
		s.Profiles[name] = e
	}
}

// TopLevel returns the top-level profiles, sorted by name; disabled files'
// profiles only withDisabled.
func (s *ProfileSet) TopLevel(withDisabled bool) []*Profile {
	var out []*Profile
	for _, name := range slices.Sorted(maps.Keys(s.Profiles)) {
		p := s.Profiles[name]
		if strings.Contains(name, "//") || p.Disabled && !withDisabled {
			continue
		}
		out = append(out, p)
	}
	return out
}

// Vars returns the variables a profile file sees: those it defines and
// those of the files its preamble includes (tunables/global).
func (s *ProfileSet) Vars(file string) *policy.Vars {
	if v, ok := s.vars[file]; ok {
		return v
	}
	v := policy.NewVars()
	s.vars[file] = v
	if f := s.Files[file]; f != nil {
		s.defineVars(v, f.Rules, 0)
	}
	return v
}

// GlobalVars returns the variables of tunables/global, which every profile
// includes: those an abstraction alone sees.
func (s *ProfileSet) GlobalVars() *policy.Vars {
	const key = "\x00tunables/global"
	if v, ok := s.vars[key]; ok {
		return v
	}
	v := policy.NewVars()
	s.vars[key] = v
	s.defineVars(v, []policy.Rule{&policy.Include{Path: policy.NewWord("<tunables/global>")}}, 0)
	return v
}

func (s *ProfileSet) defineVars(v *policy.Vars, rules []policy.Rule, depth int) {
	if depth > 16 {
		return
	}
	for _, r := range rules {
		switch r := r.(type) {
		case *policy.Variable:
			_ = v.Define(r) // a bad definition shows when a rule uses it
		case *policy.Include:
			files, _ := s.Loader.Included(r)
			for _, f := range files {
				s.defineVars(v, f.Rules, depth+1)
			}
		}
	}
}

// AareVars adapts policy variables to aare.
func AareVars(v *policy.Vars) aare.Vars {
	return func(name string) ([]string, bool) {
		if !v.Defined(name) {
			return nil, false
		}
		return v.Values(name), true
	}
}

// ProfileFor returns the top-level profile whose attachment matches an
// executable, as the kernel attaches: an exact attachment before any
// glob, else the first glob by name; never a disabled file's profile,
// which is not loaded at boot.
func (s *ProfileSet) ProfileFor(executable string) (string, bool) {
	glob := ""
	for _, name := range slices.Sorted(maps.Keys(s.Profiles)) {
		e := s.Profiles[name]
		if e.Attach == "" || e.Disabled || strings.Contains(name, "//") {
			continue
		}
		if !strings.ContainsAny(e.Attach, "*?[{@\\") {
			if e.Attach == executable {
				return name, true
			}
			continue
		}
		if glob != "" {
			continue
		}
		pat, err := aare.Compile(e.Attach, AareVars(s.Vars(e.File)))
		if err == nil && pat.Match(executable) {
			glob = name
		}
	}
	return glob, glob != ""
}

// AbstractionNames lists the abstractions in the search path's
// abstractions/ directories (regular files only), sorted.
func (s *ProfileSet) AbstractionNames() []string {
	seen := map[string]bool{}
	for _, dir := range s.Loader.SearchPath {
		entries, err := os.ReadDir(filepath.Join(dir, "abstractions"))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.Type().IsRegular() && !policy.SkippedName(e.Name()) {
				seen["abstractions/"+e.Name()] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// Packaged reports whether a Debian package installed file (dpkg's file
// lists name it). The lists are read once, for the files under Dir.
func (s *ProfileSet) Packaged(file string) bool {
	if abs, err := filepath.Abs(file); err == nil {
		file = abs
	}
	if s.packaged == nil {
		s.packaged = map[string]bool{}
		dir, err := filepath.Abs(s.Dir)
		if err != nil {
			dir = s.Dir
		}
		info := s.DpkgInfo
		if info == "" {
			info = "/var/lib/dpkg/info"
		}
		lists, _ := filepath.Glob(filepath.Join(info, "*.list"))
		for _, l := range lists {
			readDpkgList(l, dir+"/", s.packaged)
		}
	}
	return s.packaged[file]
}

// readDpkgList adds the paths of one dpkg file list that lie below prefix.
func readDpkgList(list, prefix string, into map[string]bool) {
	f, err := os.Open(list)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, prefix) {
			into[line] = true
		}
	}
}

// ProfileSet reads the profile directory's profile set.
func (h *Host) ProfileSet() (*ProfileSet, error) {
	return LoadProfileSet(h.Paths.ProfileDir)
}
