package learn

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/lint"
	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// appTree is the application's own directory for a profile: the
// attachment's directory, or its parent when that is bin, sbin or
// libexec; never a system directory shared by other programs.
func appTree(attach string) string {
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
// It implements coverer.
type Coverage struct {
	set    *aare.Set
	others []policy.Rule
	all    bool // an `all,` rule
	vars   aare.Vars
	m      *matcher
	name   string // the profile's full name: @{profile_name}; "" for an abstraction
	// own are the literal file rules of the profile's own file and its
	// local/ include (fileCoverer).
	own []aare.Rule
	// ownOthers are the non-file allow rules of the profile itself and of
	// its includes other than abstractions (local/): observed network use
	// keeps a rule of its own beside an abstraction's (networkDirect), and
	// new peer names generalise with the profile's own (ownNames).
	ownOthers []policy.Rule
}

// ProfileCoverage returns what the named profile of set already allows.
func ProfileCoverage(set *host.ProfileSet, name string) (*Coverage, error) {
	e := set.Profiles[name]
	if e == nil {
		return nil, fmt.Errorf("no profile %q in %s", name, set.Dir)
	}
	return coverageOf(set, set.Vars(e.File), name, e.Decl.Body, e.Decl)
}

// AbstractionCoverage returns what an include target such as
// "abstractions/nameservice" allows.
func AbstractionCoverage(set *host.ProfileSet, name string) (*Coverage, error) {
	inc := &policy.Include{Path: policy.NewWord("<" + name + ">")}
	files, err := set.Loader.Included(inc)
	if err != nil {
		return nil, err
	}
	var body []policy.Rule
	for _, f := range files {
		body = append(body, f.Rules...)
	}
	// An abstraction alone sees the tunables every profile includes.
	return coverageOf(set, set.GlobalVars(), "", body, nil)
}

func coverageOf(ps *host.ProfileSet, v *policy.Vars, name string, body []policy.Rule, profile *policy.Profile) (*Coverage, error) {
	c := &Coverage{vars: withBuiltins(host.AareVars(v), name), name: name}
	var files []aare.Rule
	var errs []error
	collect(ps.Loader, c, &files, body, profile, &errs)
	c.ownOthers = ownRules(ps.Loader, body, profile)
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
	if profile != nil {
		c.own = ownLiterals(ps.Loader, body, profile)
	}
	return c, errors.Join(errs...)
}

// ownLiterals are the allow file rules of a profile's own text and its
// local/ include whose pattern names one path: what an earlier learn
// wrote, which generalises together with new events. Abstractions' rules
// do not: /dev/null and /dev/zero are not a hint that /dev/* is wanted.
func ownLiterals(l *policy.Loader, body []policy.Rule, profile *policy.Profile) []aare.Rule {
	local := func(r *policy.Include) []*policy.File {
		if !strings.HasPrefix(strings.Trim(r.Path.Value(), `<>"`), "local/") {
			return nil
		}
		inc, _ := l.Included(r)
		return inc
	}
	var out []aare.Rule
	for sr := range policy.Rules(body, profile, local) {
		r, ok := sr.Rule.(*policy.FileRule)
		if sr.Profile != profile || sr.Conditional || !ok || r.Path == nil || sr.Qual.Deny || r.Target != nil {
			continue
		}
		p := r.Path.Pattern()
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "*?[]{}@\\\"") {
			continue
		}
		perms, _, err := aare.ParsePerms(r.Perms.Value())
		if err != nil || perms&aare.PermExec != 0 || perms == 0 {
			continue
		}
		out = append(out, aare.Rule{Pattern: p, Perms: perms, Owner: sr.Qual.Owner})
	}
	return out
}

// ownFileRules implements fileCoverer.
func (c *Coverage) ownFileRules() []aare.Rule { return c.own }

// coversFile implements fileCoverer: the profile already allows every
// path r matches with everything r grants.
func (c *Coverage) coversFile(r aare.Rule) bool {
	if c.all {
		return true
	}
	res, err := c.set.Covers(r, c.vars)
	return err == nil && res == aare.Yes
}

// withBuiltins adds the variables apparmor_parser defines itself. 3.0.8 and
// 4.1 define only @{profile_name} (apparmor.d(5); the 4.1 binary names no
// other), set for each profile to its full name ("myapp//helper" for a
// child). An abstraction alone (profile "") has no name: rules that use it
// then match nothing rather than everything.
func withBuiltins(vars aare.Vars, profile string) aare.Vars {
	return func(name string) ([]string, bool) {
		if name == "profile_name" {
			if profile == "" {
				return nil, false
			}
			return []string{profile}, true
		}
		return vars(name)
	}
}

// Problems lists the patterns of the profile that never match because
// they do not compile (an undefined variable, bad syntax).
func (c *Coverage) Problems() []error { return c.m.problems() }

// collect gathers the rules of a profile body (and of the files it
// includes) that allow something: file rules into files, the others into
// c.others. Rules of child profiles and of conditional branches are not
// the profile's own unconditional allowances and are left out.
func collect(l *policy.Loader, c *Coverage, files *[]aare.Rule, body []policy.Rule, profile *policy.Profile, errs *[]error) {
	include := func(r *policy.Include) []*policy.File {
		inc, err := l.Included(r)
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
			*files = append(*files, aare.Rule{Pattern: r.Path.Pattern(), Perms: perms, Exec: mode, Owner: q.Owner, Deny: q.Deny, Audit: q.Audit})
		case *policy.LinkRule:
			*files = append(*files, aare.Rule{Pattern: r.Path.Pattern(), Perms: aare.PermLink, Owner: q.Owner, Deny: q.Deny})
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

// ownRules collects the non-file allow rules of a profile body and of the
// files it includes, leaving abstractions out.
func ownRules(l *policy.Loader, body []policy.Rule, profile *policy.Profile) []policy.Rule {
	include := func(r *policy.Include) []*policy.File {
		if isAbstractionInclude(r) {
			return nil
		}
		inc, _ := l.Included(r) // errors: reported by collect
		return inc
	}
	var out []policy.Rule
	for sr := range policy.Rules(body, profile, include) {
		if sr.Profile != profile || sr.Conditional || sr.Qual.Deny {
			continue
		}
		switch sr.Rule.(type) {
		case *policy.NetworkRule, *policy.UnixRule, *policy.DbusRule, *policy.SignalRule, *policy.PtraceRule, *policy.MqueueRule:
			out = append(out, sr.Rule)
		}
	}
	return out
}

// coverer answers whether policy already allows an access.
type coverer interface {
	// MissingFile returns the permissions in perms that path is not
	// allowed (0: covered). An exec is covered by any exec rule.
	MissingFile(path string, perms aare.Perm, owned bool) aare.Perm
	// coversRule reports whether a non-file rule is already allowed.
	coversRule(r rule) bool // learn's own Coverage and test fakes only
}

// MissingFile implements coverer.
func (c *Coverage) MissingFile(path string, perms aare.Perm, owned bool) aare.Perm {
	if c.all {
		return 0
	}
	d := c.set.Access(path, perms, owned)
	return d.Missing & perms
}

// Decide returns aare's full decision for a file access (simulate uses
// the nearest rule and the exec mode).
func (c *Coverage) Decide(path string, perms aare.Perm, owned bool) aare.Decision {
	if c.all {
		return aare.Decision{Allowed: true, Nearest: -1}
	}
	return c.set.Access(path, perms, owned)
}

// execFor implements execRuler: the transition the rules give an
// executable, when they allow executing it (ux is not followed).
func (c *Coverage) execFor(executable string) (aare.ExecKind, string, bool) {
	if c.all {
		return aare.ExecNone, "", false
	}
	d := c.set.Access(executable, aare.PermExec, true)
	if !d.Allowed {
		return aare.ExecNone, "", false
	}
	switch d.Exec.Kind {
	case aare.ExecInherit:
		return aare.ExecInherit, "", true
	case aare.ExecProfile, aare.ExecChild:
		return d.Exec.Kind, d.Exec.Target, true
	}
	return aare.ExecNone, "", false
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

// Allows reports whether a non-file access is allowed: the rule for
// exactly it (its permissions and signal, the peer as given) is covered.
func (c *Coverage) Allows(a *Access) bool { return c.coversRule(accessRule(a)) }

// coversRule implements coverer.
func (c *Coverage) coversRule(r rule) bool {
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
func (c *Coverage) ruleCovers(x policy.Rule, r rule) bool {
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
		if policy.FindCond(x.Conds, "peer") != nil && slices.ContainsFunc(r.Mask, localUnixPerm) {
			return false // a rule with a peer allows only what has one: not bind, listen, create…
		}
		return r.Class == ClassUnix && hasAll(x.Access, r.Mask) && c.condMatches(x.Conds, "type", r.SockType) &&
			c.condMatches(x.Conds, "addr", r.Addr) && c.nestedMatches(x.Conds, "peer", "addr", r.PeerAddr)
	case *policy.DbusRule:
		return r.Class == ClassDBus && hasAll(x.Access, r.Mask) && c.condMatches(x.Conds, "bus", r.Bus) &&
			c.condMatches(x.Conds, "path", r.DBusPath) && c.condMatches(x.Conds, "interface", r.Interface) &&
			c.condMatches(x.Conds, "member", r.Member) && c.condMatches(x.Conds, "name", r.Name) &&
			c.nestedMatches(x.Conds, "peer", "name", r.PeerName)
	case *policy.ChangeProfileRule:
		return r.Class == ClassChangeProfile && x.Exec == nil && (x.Profile == nil || c.matchName(x.Profile.Value(), r.Target))
	case *policy.UsernsRule:
		return r.Class == ClassUserns && hasAll(x.Access, r.Mask)
	case *policy.IOUringRule:
		return r.Class == ClassIOUring && hasAll(x.Access, r.Mask) && c.condMatches(x.Conds, "label", r.Peer)
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
	if c.name != "" {
		// Expanded here too, as text: aare would fold "a//b" to "a/b".
		pattern = strings.ReplaceAll(pattern, "@{profile_name}", c.name)
	}
	if pattern == val {
		return true
	}
	return hasGlob(pattern) && c.m.match(pattern, val)
}

// localUnixPerm: a unix socket permission with no peer (bind, listen,
// create, getattr…), which a rule with a peer= conditional does not give.
func localUnixPerm(p string) bool {
	switch p {
	case "connect", "send", "receive", "r", "w", "rw":
		return false
	}
	return true
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

// grants returns the first sensitive thing a coverage allows, for the
// abstraction guard: a file rule whose pattern reaches a sensitive path
// (with a sensitive access), a sensitive capability or network type.
func (c *Coverage) grants() (string, bool) {
	if c.all {
		return "all", true
	}
	for _, r := range c.set.Rules() {
		if r.Deny {
			continue
		}
		pat, err := aare.Compile(r.Pattern, c.vars)
		if err != nil {
			continue
		}
		if e, ok := lint.Reached(pat.Match, r.Perms); ok {
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

// DefaultAbstractions are the abstractions learn considers by default:
// those a service commonly needs. Compiling every abstraction of a full
// /etc/apparmor.d costs seconds; --abstractions all considers them all.
var DefaultAbstractions = []string{
	"abstractions/nameservice", "abstractions/ssl_certs", "abstractions/openssl", "abstractions/crypto",
	"abstractions/python", "abstractions/perl", "abstractions/ruby", "abstractions/php", "abstractions/bash",
	"abstractions/consoles", "abstractions/user-tmp", "abstractions/fonts", "abstractions/mysql",
}

// candidates builds the abstraction candidates for learn from names
// (DefaultAbstractions if nil; those the search path does not have are
// left out). Whether one grants something sensitive is checked when it
// would be chosen. base is never a candidate: every profile armorer
// writes includes it already.
func candidates(set *host.ProfileSet, names []string) []candidate {
	if names == nil {
		names = DefaultAbstractions
	}
	have := map[string]bool{}
	for _, n := range set.AbstractionNames() {
		have[n] = true
	}
	var cands []candidate
	for _, name := range names {
		if name == "abstractions/base" || !have[name] {
			continue
		}
		cov, err := AbstractionCoverage(set, name)
		if cov == nil {
			set.Problems = append(set.Problems, fmt.Errorf("%s: %w", name, err))
			continue
		}
		cands = append(cands, candidate{Name: name, Cov: cov, Unsafe: cov.grants})
	}
	return cands
}
