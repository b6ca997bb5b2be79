package learn

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/lint"
	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// Policy is the existing policy learn merges into and simulate replays
// against: the profiles of a profile directory, found by parsing every
// file in it (never by guessing a file's name from a profile's name).
type Policy struct {
	Loader   *policy.Loader
	Dir      string
	Files    map[string]*policy.File // profile files by path
	Profiles map[string]*Existing    // by full name; children as parent//child
	// Problems are files that did not parse; their profiles are missing.
	Problems []error

	vars map[string]*policy.Vars // per file: its tunables
}

// Existing is one profile defined in the policy.
type Existing struct {
	Name   string
	File   string // the file that defines it
	Decl   *policy.Profile
	Attach string // attachment pattern, "" for none
	// Local is the profile's `include if exists <local/...>`, or nil.
	Local *policy.Include
}

// LoadPolicy parses the profile files of dir (its regular files, skipping
// the names apparmor_parser skips). searchPath is the include search path
// (-I); empty means dir itself.
func LoadPolicy(dir string, searchPath ...string) (*Policy, error) {
	p := OpenPolicy(dir, searchPath...)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read profile directory: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || policy.SkippedName(e.Name()) {
			continue
		}
		if err := p.AddFile(filepath.Join(dir, e.Name())); err != nil {
			p.Problems = append(p.Problems, err)
		}
	}
	return p, nil
}

// OpenPolicy returns a policy with no profiles loaded yet (for its
// abstractions, or to AddFile single profiles).
func OpenPolicy(dir string, searchPath ...string) *Policy {
	if len(searchPath) == 0 {
		searchPath = []string{dir}
	}
	l := policy.NewLoader(searchPath...)
	l.Base = dir
	return &Policy{Loader: l, Dir: dir, Files: map[string]*policy.File{}, Profiles: map[string]*Existing{}, vars: map[string]*policy.Vars{}}
}

// AddFile parses one more profile file into the policy (a profile given
// on the command line rather than found in the directory).
func (p *Policy) AddFile(file string) error {
	f, err := p.Loader.Load(file, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	p.Files[file] = f
	for _, r := range f.Rules {
		if prof, ok := r.(*policy.Profile); ok {
			p.addProfile(file, "", prof)
		}
	}
	return nil
}

func (p *Policy) addProfile(file, parent string, prof *policy.Profile) {
	name := prof.Name.Value()
	if parent != "" {
		name = parent + "//" + strings.TrimPrefix(name, "^")
	}
	e := &Existing{Name: name, File: file, Decl: prof}
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
			p.addProfile(file, name, r)
		}
	}
	if _, dup := p.Profiles[name]; !dup {
		p.Profiles[name] = e
	}
}

// Vars returns the variables a profile file sees: those it defines and
// those of the files its preamble includes (tunables/global).
func (p *Policy) Vars(file string) *policy.Vars {
	if v, ok := p.vars[file]; ok {
		return v
	}
	v := policy.NewVars()
	p.vars[file] = v
	if f := p.Files[file]; f != nil {
		p.defineVars(v, f.Rules, 0)
	}
	return v
}

func (p *Policy) defineVars(v *policy.Vars, rules []policy.Rule, depth int) {
	if depth > 16 {
		return
	}
	for _, r := range rules {
		switch r := r.(type) {
		case *policy.Variable:
			_ = v.Define(r) // a bad definition shows when a rule uses it
		case *policy.Include:
			files, _ := p.Loader.Included(r)
			for _, f := range files {
				p.defineVars(v, f.Rules, depth+1)
			}
		}
	}
}

// aareVars adapts policy variables to aare.
func aareVars(v *policy.Vars) aare.Vars {
	return func(name string) ([]string, bool) {
		if !v.Defined(name) {
			return nil, false
		}
		return v.Values(name), true
	}
}

// ProfileFor returns the profile whose attachment matches an executable.
func (p *Policy) ProfileFor(executable string) (string, bool) {
	var names []string
	for _, name := range slices.Sorted(maps.Keys(p.Profiles)) {
		e := p.Profiles[name]
		if e.Attach == "" || strings.Contains(name, "//") {
			continue
		}
		pat, err := aare.Compile(e.Attach, aareVars(p.Vars(e.File)))
		if err == nil && pat.Match(executable) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "", false
	}
	return names[0], true
}

// AppTree is the application's own directory for a profile: the
// attachment's directory, or its parent when that is bin, sbin or
// libexec; never a system directory shared by other programs.
func AppTree(attach string) string {
	if attach == "" || !strings.HasPrefix(attach, "/") || strings.ContainsAny(attach, "*?[{@") {
		return ""
	}
	dir := path.Dir(path.Clean(attach))
	switch path.Base(dir) {
	case "bin", "sbin", "libexec":
		dir = path.Dir(dir)
	}
	switch dir {
	case "/", "/usr", "/usr/local", "/opt", "/usr/lib", "/usr/libexec", "/usr/share", "/var", "/srv", "/home", "/etc", "/lib", "/usr/lib64", "/lib64":
		return ""
	}
	return dir + "/"
}

// Coverage is what a profile (with everything it includes) already allows:
// file rules compiled into one aare.Set, other rules kept as AST nodes.
// It implements Coverer.
type Coverage struct {
	set    *aare.Set
	others []policy.Rule
	all    bool // an `all,` rule
	vars   aare.Vars
	m      *matcher
}

// Coverage returns what the named profile already allows.
func (p *Policy) Coverage(name string) (*Coverage, error) {
	e := p.Profiles[name]
	if e == nil {
		return nil, fmt.Errorf("no profile %q in %s", name, p.Dir)
	}
	return p.coverageOf(e.File, e.Decl.Body, e.Decl)
}

// AbstractionCoverage returns what an include target such as
// "abstractions/nameservice" allows.
func (p *Policy) AbstractionCoverage(name string) (*Coverage, error) {
	inc := &policy.Include{Path: policy.NewWord("<" + name + ">")}
	files, err := p.Loader.Included(inc)
	if err != nil {
		return nil, err
	}
	var body []policy.Rule
	for _, f := range files {
		body = append(body, f.Rules...)
	}
	return p.coverageOf("", body, nil)
}

func (p *Policy) coverageOf(file string, body []policy.Rule, profile *policy.Profile) (*Coverage, error) {
	v := p.Vars(file)
	if file == "" {
		// An abstraction alone: the tunables every profile includes.
		v = policy.NewVars()
		p.defineVars(v, []policy.Rule{&policy.Include{Path: policy.NewWord("<tunables/global>")}}, 0)
	}
	c := &Coverage{vars: aareVars(v)}
	var files []aare.Rule
	var errs []error
	p.collect(c, &files, body, profile, &errs)
	set, err := aare.NewSet(files, c.vars)
	if err != nil {
		// One bad rule must not hide the rest: compile rule by rule.
		var ok []aare.Rule
		for _, r := range files {
			if _, err := aare.NewSet([]aare.Rule{r}, c.vars); err == nil {
				ok = append(ok, r)
			} else {
				errs = append(errs, err)
			}
		}
		if set, err = aare.NewSet(ok, c.vars); err != nil {
			return nil, err
		}
	}
	c.set = set
	c.m = &matcher{vars: c.vars}
	return c, errors.Join(errs...)
}

// collect gathers the rules of a profile body (and of the files it
// includes) that allow something: file rules into files, the others into
// c.others. Rules of child profiles and of conditional branches are not
// the profile's own unconditional allowances and are left out.
func (p *Policy) collect(c *Coverage, files *[]aare.Rule, body []policy.Rule, profile *policy.Profile, errs *[]error) {
	include := func(r *policy.Include) []*policy.File {
		inc, err := p.Loader.Included(r)
		if err != nil {
			*errs = append(*errs, err)
		}
		return inc
	}
	for sr := range policy.Rules(body, profile, include) {
		if sr.Profile != profile || sr.Conditional {
			continue
		}
		q := sr.Qual
		switch r := sr.Rule.(type) {
		case *policy.FileRule:
			if r.Path == nil { // bare `file,`
				if !q.Deny {
					*files = append(*files, aare.Rule{Pattern: "/{,**}", Perms: aare.PermRead | aare.PermWrite | aare.PermAppend | aare.PermLink | aare.PermLock | aare.PermMmap, Owner: q.Owner})
				}
				continue
			}
			perms, mode, err := aare.ParsePerms(r.Perms.Value())
			if err != nil {
				*errs = append(*errs, err)
				continue
			}
			if r.Target != nil {
				mode.Target = r.Target.Value()
			}
			*files = append(*files, aare.Rule{Pattern: r.Path.Value(), Perms: perms, Exec: mode, Owner: q.Owner, Deny: q.Deny, Audit: q.Audit})
		case *policy.LinkRule:
			*files = append(*files, aare.Rule{Pattern: r.Path.Value(), Perms: aare.PermLink, Owner: q.Owner, Deny: q.Deny})
		case *policy.AllRule:
			if !q.Deny {
				c.all = true
			}
		case *policy.Profile, *policy.Variable, *policy.Abi, *policy.CommentBlock:
		default:
			if q.Deny {
				continue
			}
			c.others = append(c.others, r)
		}
	}
}

// Coverer answers whether policy already allows an access.
type Coverer interface {
	// MissingFile returns the permissions in perms that path is not
	// allowed (0: covered). An exec is covered by any exec rule.
	MissingFile(path string, perms Perms, owned bool) Perms
	// CoversRule reports whether a non-file rule is already allowed.
	CoversRule(r Rule) bool
}

var permMap = []struct {
	l Perms
	a aare.Perm
}{{PermRead, aare.PermRead}, {PermWrite, aare.PermWrite}, {PermAppend, aare.PermAppend}, {PermLink, aare.PermLink},
	{PermLock, aare.PermLock}, {PermMap, aare.PermMmap}, {PermExec, aare.PermExec}}

func toAare(p Perms) aare.Perm {
	var out aare.Perm
	for _, m := range permMap {
		if p&m.l != 0 {
			out |= m.a
		}
	}
	return out
}

func fromAare(p aare.Perm) Perms {
	var out Perms
	for _, m := range permMap {
		if p&m.a != 0 {
			out |= m.l
		}
	}
	return out
}

// MissingFile implements Coverer.
func (c *Coverage) MissingFile(path string, perms Perms, owned bool) Perms {
	if c.all {
		return 0
	}
	d := c.set.Access(path, toAare(perms), owned)
	return fromAare(d.Missing) & perms
}

// Decide returns aare's full decision for a file access (simulate uses
// the nearest rule and the exec mode).
func (c *Coverage) Decide(path string, perms Perms, owned bool) aare.Decision {
	if c.all {
		return aare.Decision{Allowed: true, Nearest: -1}
	}
	return c.set.Access(path, toAare(perms), owned)
}

// ExecFor implements ExecRuler: the transition the rules give an
// executable, when they allow executing it (ux is not followed).
func (c *Coverage) ExecFor(executable string) (ExecMode, string, bool) {
	if c.all {
		return ExecNone, "", false
	}
	d := c.set.Access(executable, aare.PermExec, true)
	if !d.Allowed {
		return ExecNone, "", false
	}
	switch d.Exec.Kind {
	case aare.ExecInherit:
		return ExecInherit, "", true
	case aare.ExecProfile:
		return ExecProfile, d.Exec.Target, true
	case aare.ExecChild:
		return ExecChild, d.Exec.Target, true
	}
	return ExecNone, "", false
}

// FileRule returns the i-th file rule of the coverage (for messages).
func (c *Coverage) FileRule(i int) (aare.Rule, bool) {
	rs := c.set.Rules()
	if i < 0 || i >= len(rs) {
		return aare.Rule{}, false
	}
	return rs[i], true
}

// Others returns the non-file rules, for nearest-rule messages.
func (c *Coverage) Others() []policy.Rule { return c.others }

// CoversRule implements Coverer.
func (c *Coverage) CoversRule(r Rule) bool {
	if c.all {
		return true
	}
	for _, x := range c.others {
		if c.ruleCovers(x, r) {
			return true
		}
	}
	return false
}

// ruleCovers decides whether the existing rule x allows what r asks.
// Conditions x leaves out allow anything; those it names must match.
func (c *Coverage) ruleCovers(x policy.Rule, r Rule) bool {
	switch x := x.(type) {
	case *policy.CapabilityRule:
		if r.Class != ClassCapability {
			return false
		}
		if len(x.Names) == 0 {
			return true
		}
		for _, n := range x.Names {
			if n.Value() == r.Capability {
				return true
			}
		}
	case *policy.NetworkRule:
		if r.Class != ClassNetwork {
			return false
		}
		if x.Access != nil || len(x.Conds) > 0 {
			return false // AppArmor 4 fine-grained forms: not learned here
		}
		if x.Family == nil {
			return x.Type == nil || x.Type.Value() == r.SockType
		}
		return x.Family.Value() == r.Family && (x.Type == nil || x.Type.Value() == r.SockType)
	case *policy.SignalRule:
		return r.Class == ClassSignal && hasAll(x.Access, r.Mask) &&
			c.condHas(x.Conds, "set", r.Signals) && c.condMatches(x.Conds, "peer", r.Peer)
	case *policy.PtraceRule:
		mask := r.Mask
		if x.Access.Has("trace") || x.Access.Has("readby") {
			mask = slices.DeleteFunc(slices.Clone(mask), func(s string) bool { return s == "read" && x.Access.Has("trace") })
		}
		return r.Class == ClassPtrace && hasAll(x.Access, mask) && c.condMatches(x.Conds, "peer", r.Peer)
	case *policy.UnixRule:
		return r.Class == ClassUnix && hasAll(x.Access, r.Mask) && c.condMatches(x.Conds, "type", r.SockType) &&
			c.condMatches(x.Conds, "addr", r.Addr) && c.nestedMatches(x.Conds, "peer", "addr", r.PeerAddr)
	case *policy.DbusRule:
		return r.Class == ClassDBus && hasAll(x.Access, r.Mask) && c.condMatches(x.Conds, "bus", r.Bus) &&
			c.condMatches(x.Conds, "path", r.DBusPath) && c.condMatches(x.Conds, "interface", r.Interface) &&
			c.condMatches(x.Conds, "member", r.Member) && c.nestedMatches(x.Conds, "peer", "name", r.PeerName)
	case *policy.ChangeProfileRule:
		return r.Class == ClassChangeProfile && x.Exec == nil && (x.Profile == nil || c.matchName(x.Profile.Value(), r.Target))
	case *policy.UsernsRule:
		return r.Class == ClassUserns && hasAll(x.Access, r.Mask)
	case *policy.IOUringRule:
		return r.Class == ClassIOUring && hasAll(x.Access, r.Mask)
	case *policy.MountRule:
		switch {
		case x.Kind == policy.UMOUNT && r.Class == ClassUmount:
			return len(x.Conds) == 0 && (x.MountPoint == nil || c.m.match(x.MountPoint.Value(), r.Path))
		case x.Kind == policy.MOUNT && r.Class == ClassMount:
			return len(x.Conds) == 0 && x.Source == nil && (x.MountPoint == nil || c.m.match(x.MountPoint.Value(), r.Path))
		}
	case *policy.PivotRootRule:
		return r.Class == ClassPivotRoot && len(x.Conds) == 0 && (x.NewRoot == nil || c.m.match(x.NewRoot.Value(), r.Path))
	}
	return false
}

// matchName matches a label, bus name or address against a rule's value:
// equal text, or an AppArmor glob. Labels are not paths: "a//b" must not
// lose a slash.
func (c *Coverage) matchName(pattern, val string) bool {
	if pattern == val {
		return true
	}
	return hasGlob(pattern) && c.m.match(pattern, val)
}

func hasAll(l *policy.List, want []string) bool {
	if l == nil {
		return true
	}
	for _, w := range want {
		if !l.Has(w) && !(w == "receive" && l.Has("r")) && !(w == "send" && l.Has("w")) {
			return false
		}
	}
	return true
}

func (c *Coverage) condHas(cs []*policy.Cond, key string, want []string) bool {
	k := policy.FindCond(cs, key)
	if k == nil || k.Value == nil {
		return k == nil
	}
	return hasAll(k.Value, want)
}

func (c *Coverage) condMatches(cs []*policy.Cond, key, val string) bool {
	k := policy.FindCond(cs, key)
	if k == nil {
		return true
	}
	if k.Value == nil || val == "" {
		return false
	}
	for _, w := range k.Value.Words {
		if c.matchName(w.Value(), val) {
			return true
		}
	}
	return false
}

func (c *Coverage) nestedMatches(cs []*policy.Cond, key, sub, val string) bool {
	k := policy.FindCond(cs, key)
	if k == nil {
		return true
	}
	if k.Value != nil { // peer=label
		return val == "" || sub != "label"
	}
	return c.condMatches(k.Conds, sub, val)
}

// Grants returns the first sensitive thing a coverage allows, for the
// abstraction guard: a file rule whose pattern reaches a sensitive path
// (with a sensitive access), a sensitive capability or network type.
func (c *Coverage) Grants() (string, bool) {
	if c.all {
		return "all", true
	}
	for _, r := range c.set.Rules() {
		if r.Deny {
			continue
		}
		a := fileAccess(fromAare(r.Perms))
		pat, err := aare.Compile(r.Pattern, c.vars)
		if err != nil {
			continue
		}
		if e, ok := lint.Reached(pat.Match, a); ok {
			return fmt.Sprintf("%s (%s: %s)", r, e.ID, e.Why), true
		}
	}
	for _, x := range c.others {
		switch x := x.(type) {
		case *policy.CapabilityRule:
			if len(x.Names) == 0 {
				return "capability,", true
			}
			for _, n := range x.Names {
				if s, ok := lint.Capability(n.Value()); ok {
					return "capability " + s.Name, true
				}
			}
		case *policy.NetworkRule:
			var fam, typ string
			if x.Family != nil {
				fam = x.Family.Value()
			}
			if x.Type != nil {
				typ = x.Type.Value()
			}
			if _, ok := lint.Network(fam, typ); ok {
				return strings.TrimSpace("network " + fam + " " + typ), true
			}
		case *policy.PtraceRule, *policy.MountRule, *policy.PivotRootRule:
			return "a " + fmt.Sprintf("%T", x)[len("*policy."):] + " rule", true
		}
	}
	return "", false
}

// AbstractionNames lists the abstractions in the search path's
// abstractions/ directories (regular files only), sorted.
func (p *Policy) AbstractionNames() []string {
	seen := map[string]bool{}
	for _, dir := range p.Loader.SearchPath {
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

// DefaultAbstractions are the abstractions learn considers by default:
// those a service commonly needs. Compiling every abstraction of a full
// /etc/apparmor.d costs seconds; --abstractions all considers them all.
var DefaultAbstractions = []string{
	"abstractions/nameservice", "abstractions/ssl_certs", "abstractions/openssl", "abstractions/crypto",
	"abstractions/python", "abstractions/perl", "abstractions/ruby", "abstractions/php", "abstractions/bash",
	"abstractions/consoles", "abstractions/user-tmp", "abstractions/fonts", "abstractions/mysql",
}

// Candidates builds the abstraction candidates for learn from names
// (DefaultAbstractions if nil; those the search path does not have are
// left out). Whether one grants something sensitive is checked when it
// would be chosen. base is never a candidate: every profile armorer
// writes includes it already.
func (p *Policy) Candidates(names []string) []Candidate {
	if names == nil {
		names = DefaultAbstractions
	}
	have := map[string]bool{}
	for _, n := range p.AbstractionNames() {
		have[n] = true
	}
	var cands []Candidate
	for _, name := range names {
		if name == "abstractions/base" || !have[name] {
			continue
		}
		cov, err := p.AbstractionCoverage(name)
		if cov == nil {
			p.Problems = append(p.Problems, fmt.Errorf("%s: %w", name, err))
			continue
		}
		cands = append(cands, Candidate{Name: name, Cov: cov, Unsafe: cov.Grants})
	}
	return cands
}
