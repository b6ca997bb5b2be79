package learn

import (
	"bytes"
	"fmt"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// MergeOptions say how learned profiles go into files.
type MergeOptions struct {
	Explain bool   // evidence comments above each learned rule
	ABI     string // for profiles created from scratch
	// Local says when additions to a profile go into its `include if
	// exists <local/NAME>` file rather than into the profile itself.
	Local Local
}

// Local says where additions to a profile with a local/NAME include go.
type Local uint8

const (
	LocalNever    Local = iota // into the profile itself
	LocalPackaged              // into local/NAME when a package installed the profile (--local auto)
	LocalAlways                // into local/NAME
)

// ParseLocal reads --local: auto, always or never.
func ParseLocal(s string) (Local, error) {
	switch s {
	case "auto":
		return LocalPackaged, nil
	case "always":
		return LocalAlways, nil
	case "never":
		return LocalNever, nil
	}
	return LocalNever, fmt.Errorf("--local %q: want auto, always or never", s)
}

func (o MergeOptions) useLocal(set *host.ProfileSet, e *host.Profile) bool {
	switch o.Local {
	case LocalAlways:
		return true
	case LocalPackaged:
		return set.Packaged(e.File)
	}
	return false
}

// Change is one file learn changes or creates.
type Change struct {
	Path     string
	Old, New []byte // Old is nil for a new file
	Profiles []string
	// Removed are the file's rules that a learned rule covers, which
	// learn removed (in file order per profile).
	Removed []Removal
}

// Merge adds the learned profiles to the policy: each rule goes next to
// the most similar rule of its profile (the policy package decides where),
// comments and order of the existing file stay. A learned rule or include
// that covers rules of the block it goes into replaces them (Change.Removed
// says which). Profiles the policy does
// not define get a new file in the policy directory. The result is sorted
// by path; files whose text would not change are left out.
func Merge(pol *host.ProfileSet, learned []*Profile, opts MergeOptions) ([]Change, error) {
	files := map[string]*fileState{}
	state := func(path string, f *policy.File) (*fileState, error) {
		if st := files[path]; st != nil {
			return st, nil
		}
		var old []byte
		if f != nil {
			var err error
			if old, err = os.ReadFile(path); err != nil {
				return nil, err
			}
		}
		st := &fileState{f: f, old: old}
		files[path] = st
		return st, nil
	}
	abs := abstractionCache(pol)
	byName := map[string]*Profile{}
	for _, p := range learned {
		byName[p.Name] = p
	}
	done := map[string]bool{}
	var fresh []*Profile // top-level profiles the policy does not define
	for _, p := range learned {
		// An empty child the policy lacks is still written: its parent's
		// Cx rule names it, and a Cx into a missing profile fails the exec.
		if len(p.Rules) == 0 && len(p.Abstractions) == 0 && (p.Parent == "" || pol.Profiles[p.Name] != nil) {
			continue
		}
		e := pol.Profiles[p.Name]
		if e == nil {
			top := strings.SplitN(p.Name, "//", 2)[0]
			if pol.Profiles[top] == nil {
				if p.Parent == "" {
					fresh = append(fresh, p)
				}
				continue
			}
			// A new child of an existing profile: built inside its parent.
			parent := pol.Profiles[p.Parent]
			if parent == nil {
				return nil, fmt.Errorf("profile %s: parent %s is not defined", p.Name, p.Parent)
			}
			st, err := state(parent.File, pol.Files[parent.File])
			if err != nil {
				return nil, err
			}
			child := newChild(p, opts)
			parent.Decl.AddRule(nil, child)
			pol.Profiles[p.Name] = &host.Profile{Name: p.Name, File: parent.File, Decl: child}
			st.profiles = append(st.profiles, p.Name)
			done[p.Name] = true
			continue
		}
		if e.Local != nil && opts.useLocal(pol, e) {
			if err := mergeLocal(pol, e, p, opts, state, abs); err != nil {
				return nil, err
			}
			done[p.Name] = true
			continue
		}
		st, err := state(e.File, pol.Files[e.File])
		if err != nil {
			return nil, err
		}
		st.removed = append(st.removed, addTo(e.Decl, p, profileVars(pol, e), opts, abs)...)
		st.profiles = append(st.profiles, p.Name)
		done[p.Name] = true
	}
	for _, p := range fresh {
		pf := ProfileFile{Name: p.Name, ABI: opts.ABI, Abstractions: p.Abstractions, Explain: opts.Explain}
		if strings.HasPrefix(p.Name, "/") {
			pf.Name, pf.Attach = filepath.Base(p.Name), p.Name
		}
		for _, r := range p.Rules {
			pf.Rules = append(pf.Rules, r.node(opts.Explain))
		}
		for _, c := range learned {
			if c.Parent == p.Name && !done[c.Name] {
				pf.Children = append(pf.Children, newChild(c, opts))
			}
		}
		name := localName(p.Name)
		if pf.Attach != "" {
			name = ProfileFileName(pf.Attach)
		}
		path := filepath.Join(pol.Dir, name)
		if files[path] != nil {
			return nil, fmt.Errorf("profiles %s and %s would both be written to %s: give one of them a file first", strings.Join(files[path].profiles, ", "), p.Name, path)
		}
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("profile %s is not defined in %s, but %s exists: fix or remove that file", p.Name, pol.Dir, path)
		}
		st, err := state(path, nil)
		if err != nil {
			return nil, err
		}
		st.f = pf.File()
		st.profiles = append(st.profiles, p.Name)
	}
	var out []Change
	for _, path := range slices.Sorted(maps.Keys(files)) {
		st := files[path]
		var b bytes.Buffer
		if edited, ok := applyEdits(pol.Loader.Fset, st.old, st.f); ok {
			b.Write(edited)
		} else if err := policy.Format(&b, pol.Loader.Fset, st.f); err != nil {
			return nil, err
		}
		if st.old != nil && bytes.Equal(st.old, b.Bytes()) {
			continue
		}
		slices.Sort(st.profiles)
		out = append(out, Change{Path: path, Old: st.old, New: b.Bytes(), Profiles: slices.Compact(st.profiles), Removed: st.removed})
	}
	return out, nil
}

// applyEdits returns the text of an edited file as policy.Edits gives it:
// the original bytes plus the rules learn inserted, printed in canonical
// style after the nearest rule before them, and the rules a learned rule
// replaced (replaceCovered) rewritten or deleted line by line: the diff
// shows only what learn changed, never a reformatting. ok is false for a new
// file, or when the file changed on disk since it was parsed (it is then
// printed whole).
func applyEdits(fset *token.FileSet, old []byte, f *policy.File) ([]byte, bool) {
	if old == nil {
		return nil, false
	}
	edits, err := policy.Edits(fset, old, f)
	if err != nil {
		return nil, false
	}
	out, err := policy.ApplyEdits(fset, old, edits)
	return out, err == nil
}

// addTo adds a learned profile's abstractions and rules to a profile
// declaration; an include or a learned rule that covers rules of the
// declaration's own body replaces them (replaceByInclude,
// replaceCovered), which it returns.
func addTo(decl *policy.Profile, p *Profile, vars aare.Vars, opts MergeOptions, abs func(string) *Coverage) []Removal {
	var removed []Removal
	for _, a := range p.Abstractions {
		inc := includeNode(a, opts.Explain)
		if cov := abs(a.Name); cov != nil {
			removed = append(removed, replaceByInclude(decl.Body, inc, cov, p.Name, opts.Explain)...)
		}
		decl.AddRule(lastInclude(decl.Body), inc)
	}
	r := replaceCovered(decl.Body, nodes(p, opts), vars, p.Name, opts.Explain)
	decl.AddRules(r.rest)
	return append(removed, r.removals...)
}

// abstractionCache returns what each abstraction allows, compiled once
// per Merge (nil when it cannot be read).
func abstractionCache(pol *host.ProfileSet) func(string) *Coverage {
	m := map[string]*Coverage{}
	return func(name string) *Coverage {
		if c, ok := m[name]; ok {
			return c
		}
		c, _ := AbstractionCoverage(pol, name) // a partial coverage covers less: never too much
		m[name] = c
		return c
	}
}

// profileVars are the variables a profile's rules see (its file's, and
// @{profile_name}).
func profileVars(pol *host.ProfileSet, e *host.Profile) aare.Vars {
	return withBuiltins(host.AareVars(pol.Vars(e.File)), e.Name)
}

// nodes are the learned rules' AST nodes.
func nodes(p *Profile, opts MergeOptions) []policy.Rule {
	out := make([]policy.Rule, len(p.Rules))
	for i, r := range p.Rules {
		out[i] = r.node(opts.Explain)
	}
	return out
}

// lastInclude is the last plain include of a body: new includes go after
// it (and never after a trailing `include if exists`).
func lastInclude(body []policy.Rule) policy.Rule {
	var last policy.Rule
	for _, r := range body {
		if inc, ok := r.(*policy.Include); ok && !inc.IfExists && !policy.Dropped(r) {
			last = r
		}
	}
	return last
}

func includeNode(a Abstraction, explain bool) *policy.Include {
	inc := &policy.Include{Path: policy.NewWord("<" + a.Name + ">")}
	inc.Doc = a.doc(explain)
	return inc
}

// newChild builds a child profile (for a Cx transition) from what was
// learned for it.
func newChild(p *Profile, opts MergeOptions) *policy.Profile {
	name := p.Name[strings.LastIndex(p.Name, "//")+2:]
	c := &policy.Profile{Keyword: policy.PROFILE, Name: word(name)}
	c.Body = append(c.Body, &policy.Include{Path: policy.NewWord("<abstractions/base>")})
	for _, a := range p.Abstractions {
		c.Body = append(c.Body, includeNode(a, opts.Explain))
	}
	for i, r := range p.Rules {
		n := r.node(opts.Explain)
		if i == 0 {
			n.RuleMeta().Hint = policy.NewSection
		}
		c.Body = append(c.Body, n)
	}
	return c
}

type fileState struct {
	f        *policy.File
	old      []byte
	profiles []string
	removed  []Removal
}

// mergeLocal puts additions into the profile's local/NAME file (top-level
// rules, as apparmor_parser reads it inside the profile), creating it
// when it does not exist.
func mergeLocal(pol *host.ProfileSet, e *host.Profile, p *Profile, opts MergeOptions, state func(string, *policy.File) (*fileState, error), abs func(string) *Coverage) error {
	paths, err := pol.Loader.Resolve(e.Local)
	if err != nil {
		return err
	}
	var path string
	var f *policy.File
	if len(paths) > 0 {
		path = paths[0]
		if f, err = pol.Loader.Load(path, nil); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	} else {
		path = filepath.Join(pol.Dir, filepath.FromSlash(e.Local.Path.Value()))
	}
	st, err := state(path, f)
	if err != nil {
		return err
	}
	if st.f == nil {
		st.f = &policy.File{}
	}
	// Only local/NAME's own rules are replaced: the packaged profile is
	// the package's, and learn does not write it here.
	for _, a := range p.Abstractions {
		inc := includeNode(a, opts.Explain)
		if cov := abs(a.Name); cov != nil {
			st.removed = append(st.removed, replaceByInclude(st.f.Rules, inc, cov, p.Name, opts.Explain)...)
		}
		st.f.AddRule(lastInclude(st.f.Rules), inc)
	}
	r := replaceCovered(st.f.Rules, nodes(p, opts), profileVars(pol, e), p.Name, opts.Explain)
	st.f.AddRules(r.rest)
	st.removed = append(st.removed, r.removals...)
	st.profiles = append(st.profiles, p.Name)
	return nil
}
