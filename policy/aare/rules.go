package aare

import (
	"fmt"
	"slices"
	"strings"
)

// Perm is a set of file permissions.
type Perm uint16

const (
	PermRead   Perm = 1 << iota // r
	PermWrite                   // w (ParsePerms("w") also sets PermAppend, as apparmor_parser does)
	PermAppend                  // a
	PermLink                    // l
	PermLock                    // k
	PermMmap                    // m (mmap with PROT_EXEC)
	PermExec                    // x, with an ExecMode on allow rules
)

var permLetters = []struct {
	p Perm
	c byte
}{{PermRead, 'r'}, {PermWrite, 'w'}, {PermAppend, 'a'}, {PermLink, 'l'}, {PermLock, 'k'}, {PermMmap, 'm'}}

// String prints the permissions without exec ("rw", "mr" ...); `w` includes
// the append it implies.
func (p Perm) String() string {
	var b strings.Builder
	for _, l := range permLetters {
		if p&l.p == 0 || (l.p == PermAppend && p&PermWrite != 0) {
			continue
		}
		b.WriteByte(l.c)
	}
	if p&PermExec != 0 {
		b.WriteByte('x')
	}
	return b.String()
}

// ExecKind is the transition an exec rule asks for.
type ExecKind uint8

const (
	ExecNone       ExecKind = iota // a bare `x` (deny rules)
	ExecInherit                    // i: stay in the current profile
	ExecProfile                    // p: the target's own profile
	ExecChild                      // c: a child profile
	ExecUnconfined                 // u: no confinement
)

// ExecMode is the full exec permission of an allow rule: ix, px, Px, cx, Cx,
// ux, Ux, pix, Pix, cix, Cix, pux, Pux (= PUx), cux, Cux (= CUx), and an
// optional `-> target`.
//
// Comparison: apparmor_parser stores the exec mode as one value per path, not
// as a permission lattice. Two allow rules matching the same path with different
// modes are a compile error ("conflicting x modifiers"), except that a rule
// without any glob (an exact path) overrides the mode of globbed rules. So one
// exec mode covers another only when they are equal in every field (kind,
// scrubbing, fallback and target): `px` does not cover `Px`, `pix` does not
// cover `px`, `ux` does not cover `Ux`. This was checked against the compiler.
type ExecMode struct {
	Kind     ExecKind
	Clean    bool     // P, C, U: scrub the environment
	Fallback ExecKind // for p and c: ExecInherit (pix) or ExecUnconfined (pux), else ExecNone
	Target   string   // `-> target` for p and c
}

func (m ExecMode) String() string {
	var s string
	switch m.Kind {
	case ExecNone:
		return "x"
	case ExecInherit:
		return "ix"
	case ExecProfile:
		s = "p"
	case ExecChild:
		s = "c"
	case ExecUnconfined:
		s = "u"
	}
	if m.Clean {
		s = strings.ToUpper(s)
	}
	switch m.Fallback {
	case ExecInherit:
		s += "i"
	case ExecUnconfined:
		s += "u"
	}
	s += "x"
	if m.Target != "" {
		s += " -> " + m.Target
	}
	return s
}

// ParsePerms parses an AppArmor file permission string such as "rw", "mr",
// "rPx" or "pix". The target of `-> target` is not part of it.
func ParsePerms(s string) (Perm, ExecMode, error) {
	var p Perm
	var m ExecMode
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 'r':
			p |= PermRead
		case 'w':
			p |= PermWrite | PermAppend
		case 'a':
			p |= PermAppend
		case 'l':
			p |= PermLink
		case 'k':
			p |= PermLock
		case 'm':
			p |= PermMmap
		case 'x', 'i', 'p', 'P', 'c', 'C', 'u', 'U':
			j := strings.IndexByte(s[i:], 'x')
			if j < 0 {
				return 0, ExecMode{}, fmt.Errorf("permissions %q: exec modifier %q without x", s, c)
			}
			if p&PermExec != 0 {
				return 0, ExecMode{}, fmt.Errorf("permissions %q: more than one exec mode", s)
			}
			var ok bool
			if m, ok = execModes[s[i:i+j+1]]; !ok {
				return 0, ExecMode{}, fmt.Errorf("permissions %q: unknown exec mode %q", s, s[i:i+j+1])
			}
			p |= PermExec
			i += j
		default:
			return 0, ExecMode{}, fmt.Errorf("permissions %q: unknown permission %q", s, c)
		}
	}
	return p, m, nil
}

var execModes = map[string]ExecMode{
	"x":   {Kind: ExecNone},
	"ix":  {Kind: ExecInherit},
	"px":  {Kind: ExecProfile},
	"Px":  {Kind: ExecProfile, Clean: true},
	"cx":  {Kind: ExecChild},
	"Cx":  {Kind: ExecChild, Clean: true},
	"ux":  {Kind: ExecUnconfined},
	"Ux":  {Kind: ExecUnconfined, Clean: true},
	"pix": {Kind: ExecProfile, Fallback: ExecInherit},
	"Pix": {Kind: ExecProfile, Clean: true, Fallback: ExecInherit},
	"cix": {Kind: ExecChild, Fallback: ExecInherit},
	"Cix": {Kind: ExecChild, Clean: true, Fallback: ExecInherit},
	"pux": {Kind: ExecProfile, Fallback: ExecUnconfined},
	"Pux": {Kind: ExecProfile, Clean: true, Fallback: ExecUnconfined},
	"PUx": {Kind: ExecProfile, Clean: true, Fallback: ExecUnconfined},
	"cux": {Kind: ExecChild, Fallback: ExecUnconfined},
	"Cux": {Kind: ExecChild, Clean: true, Fallback: ExecUnconfined},
	"CUx": {Kind: ExecChild, Clean: true, Fallback: ExecUnconfined},
}

// Rule is a file rule, independent of the policy AST.
type Rule struct {
	Pattern string
	Perms   Perm
	Exec    ExecMode // used when Perms has PermExec and the rule is not Deny
	Owner   bool     // applies only to files the process owns (fsuid == ouid)
	Deny    bool
	Audit   bool
}

func (r Rule) String() string {
	var b strings.Builder
	if r.Audit {
		b.WriteString("audit ")
	}
	if r.Deny {
		b.WriteString("deny ")
	}
	if r.Owner {
		b.WriteString("owner ")
	}
	b.WriteString(r.Pattern)
	b.WriteByte(' ')
	b.WriteString((r.Perms &^ PermExec).String())
	if r.Perms&PermExec != 0 {
		if r.Deny {
			b.WriteString("x")
		} else {
			b.WriteString(r.Exec.String())
		}
	}
	b.WriteByte(',')
	return b.String()
}

// access is what the compiled policy holds for one path and one class of
// file (owned by the process, or not): the same fields apparmor_parser's
// accept states hold, so that two rule lists compile to the same automaton
// exactly when every path gets equal accesses.
type access struct {
	allow, audit, deny, quiet Perm
	exec                      ExecMode
	conflict                  bool // globbed allow rules disagree on the exec mode
}

type effective struct{ owned, other access }

// compiled is what apparmor_parser keeps of e in the automaton: deny rules only
// take permissions away from allow (and set quiet); the deny set itself is
// not stored, so `audit deny` of something not allowed changes nothing.
func (e effective) compiled() effective {
	e.owned.deny, e.other.deny = 0, 0
	return e
}

// merge computes the accesses granted by the rules at idx (plus extra, if not
// nil) in the way apparmor_parser merges the permissions of overlapping rules:
// allow and deny are unions, deny removes from allow (not from audit), an
// exact (glob-free) rule's exec mode overrides the globbed ones, two
// differing globbed exec modes conflict, `ix` (also `pix`, `cix`) implies
// `m`, and a denied `x` clears the exec mode.
func merge(rules []Rule, literal []bool, idx []int32, extra *Rule, extraLiteral bool) effective {
	var e effective
	var exact [2]struct {
		allow, audit Perm
		exec         ExecMode
		conflict     bool
	}
	add := func(r *Rule, lit bool) {
		perms := r.Perms
		if !r.Deny && r.Perms&PermExec != 0 && (r.Exec.Kind == ExecInherit || r.Exec.Fallback == ExecInherit) {
			perms |= PermMmap // ix, pix, cix imply m (px, ux... do not)
		}
		for h := 0; h < 2; h++ {
			if h == 1 && r.Owner {
				continue
			}
			a := &e.owned
			if h == 1 {
				a = &e.other
			}
			switch {
			case r.Deny:
				a.deny |= perms
				if !r.Audit {
					a.quiet |= perms
				}
			case lit && perms&PermExec != 0:
				x := &exact[h]
				if x.allow&PermExec != 0 && x.exec != r.Exec {
					x.conflict = true
				}
				x.allow |= perms
				x.exec = r.Exec
				if r.Audit {
					x.audit |= perms
				}
			default:
				if perms&PermExec != 0 {
					if a.allow&PermExec != 0 && a.exec != r.Exec {
						a.conflict = true
					}
					a.exec = r.Exec
				}
				a.allow |= perms
				if r.Audit {
					a.audit |= perms
				}
			}
		}
	}
	for _, i := range idx {
		add(&rules[i], literal[i])
	}
	if extra != nil {
		add(extra, extraLiteral)
	}
	for h, a := range []*access{&e.owned, &e.other} {
		x := exact[h]
		a.allow |= x.allow
		a.audit |= x.audit
		if x.allow&PermExec != 0 {
			a.exec, a.conflict = x.exec, x.conflict
		}
		if a.deny&PermExec != 0 {
			// denying x also clears the exec mode; a conflict between allow
			// rules is still refused by the compiler.
			a.exec = ExecMode{}
		}
		a.allow &^= a.deny
	}
	return e
}

// Set is a compiled list of file rules, as one automaton.
type Set struct {
	rules   []Rule
	pats    []*Pattern
	literal []bool
	d       *dfa        // nil when the combined automaton exceeded MaxDFAStates
	eff     []effective // per tag list of d
	targets map[execTarget]bool
}

// execTarget is a named exec transition (`px -> name`, `cx -> name`): the
// compiled profile lists each in a table, so a new name changes the policy.
type execTarget struct {
	child bool
	name  string
}

func targetOf(r *Rule) (execTarget, bool) {
	if r.Deny || r.Perms&PermExec == 0 || r.Exec.Target == "" {
		return execTarget{}, false
	}
	return execTarget{r.Exec.Kind == ExecChild, r.Exec.Target}, true
}

// NewSet compiles rules. vars expands variables in their patterns.
func NewSet(rules []Rule, vars Vars) (*Set, error) {
	s := &Set{rules: slices.Clone(rules), targets: map[execTarget]bool{}}
	for i, r := range rules {
		p, err := Compile(r.Pattern, vars)
		if err != nil {
			return nil, fmt.Errorf("rule %d (%s): %w", i, r, err)
		}
		s.pats = append(s.pats, p)
		s.literal = append(s.literal, p.literal)
		if t, ok := targetOf(&r); ok {
			s.targets[t] = true
		}
	}
	_ = s.compile() // when too complex, Access falls back to one pattern at a time
	return s, nil
}

// compile builds the combined automaton of the set's patterns.
func (s *Set) compile() error {
	trees := make([]*Node, len(s.pats))
	for i, p := range s.pats {
		trees[i] = p.tree
	}
	d, err := compileTrees(trees, MaxDFAStates)
	if err != nil {
		return err
	}
	s.d = d
	for _, tags := range d.tags {
		s.eff = append(s.eff, merge(s.rules, s.literal, tags, nil, false))
	}
	return nil
}

// Rules returns the rules of the set; callers must not modify them.
func (s *Set) Rules() []Rule { return s.rules }

func (s *Set) effectiveAt(path string) effective {
	if s.d != nil {
		st := s.d.run(path)
		if st == 0 || s.d.accept[st] < 0 {
			return effective{}
		}
		return s.eff[s.d.accept[st]]
	}
	var idx []int32
	for i, p := range s.pats {
		if p.Match(path) {
			idx = append(idx, int32(i))
		}
	}
	return merge(s.rules, s.literal, idx, nil, false)
}

// Decision is the set's answer for one access.
type Decision struct {
	Allowed bool
	Missing Perm     // requested permissions not allowed
	Denied  Perm     // requested permissions refused by a deny rule
	Audited Perm     // requested permissions that are logged when allowed
	Exec    ExecMode // the exec transition, when PermExec was requested and allowed
	// Conflict: allow rules that match path disagree on the exec mode
	// (apparmor_parser refuses such a profile).
	Conflict bool
	// Nearest is the index of the rule closest to a refused access (for a
	// "nearest rule" report), or -1.
	Nearest int
}

// Access decides whether a process may access path with the requested
// permissions. owned says whether the process owns the file (fsuid == ouid),
// which makes `owner` rules apply. Deny rules take precedence over allow rules.
// For an allowed access it does not allocate when the set compiled to one
// automaton.
func (s *Set) Access(path string, req Perm, owned bool) Decision {
	e := s.effectiveAt(path)
	a := e.other
	if owned {
		a = e.owned
	}
	d := Decision{Nearest: -1}
	d.Missing = req &^ a.allow
	d.Denied = req & a.deny
	if req&PermExec != 0 && a.conflict {
		d.Conflict = true
		d.Missing |= PermExec
	}
	d.Allowed = d.Missing == 0
	d.Audited = req & a.audit &^ d.Missing
	if d.Allowed && req&PermExec != 0 {
		d.Exec = a.exec
	}
	if !d.Allowed {
		d.Nearest = s.nearest(path, req, owned)
	}
	return d
}

// nearest picks the allow rule closest to a refused access: a rule matching
// the path (it lacks a permission, or is an owner rule and the file is not
// owned) before one that does not; then the rule whose pattern reads the
// longest prefix of path; then the one sharing the most requested permissions;
// then the earliest.
func (s *Set) nearest(path string, req Perm, owned bool) int {
	best, bestKey := -1, [3]int{-1, -1, -1}
	for i, r := range s.rules {
		if r.Deny {
			continue
		}
		p := s.pats[i]
		k := [3]int{0, p.MatchPrefix(path), bitCount(r.Perms & req)}
		if p.Match(path) {
			k[0] = 1
		}
		if slices.Compare(k[:], bestKey[:]) > 0 {
			best, bestKey = i, k
		}
	}
	return best
}

func bitCount(p Perm) int {
	n := 0
	for ; p != 0; p &= p - 1 {
		n++
	}
	return n
}

// Matching returns the indexes of the rules whose pattern matches path.
func (s *Set) Matching(path string) []int {
	var out []int
	for i, p := range s.pats {
		if p.Match(path) {
			out = append(out, i)
		}
	}
	return out
}

// Covers reports whether adding r to the set would change nothing: for every
// path r's pattern matches, the set already grants (or denies, audits, quiets)
// everything r would, with the same exec mode. This is exactly when
// apparmor_parser compiles the set with and without r to the same automaton.
// An owner rule is covered by a rule without owner; the reverse is not true.
// A rule whose exec mode would conflict with the set's is not covered, nor
// one naming an exec target (`px -> name`) that no rule of the set names. An
// `audit deny` rule for something the set does not allow is covered (the
// compiler stores nothing for it: the access is refused and logged anyway);
// a plain `deny` rule is not (it makes the refusal quiet).
func (s *Set) Covers(r Rule, vars Vars) (Result, error) {
	p, err := Compile(r.Pattern, vars)
	if err != nil {
		return Unknown, err
	}
	if t, ok := targetOf(&r); ok && !s.targets[t] {
		return No, nil // a new named transition
	}
	if s.d == nil {
		// Too big as one automaton: only the rules that share a path with r
		// matter, so try again with those.
		sub := &Set{targets: s.targets}
		for i, q := range s.pats {
			if product(q.d, p.d, MaxProductStates, func(sx, sy int32) bool {
				return sx != 0 && q.d.accept[sx] >= 0 && p.d.accept[sy] >= 0
			}, nil) != Yes {
				sub.rules = append(sub.rules, s.rules[i])
				sub.pats = append(sub.pats, q)
				sub.literal = append(sub.literal, s.literal[i])
			}
		}
		if len(sub.rules) == len(s.rules) || sub.compile() != nil {
			return Unknown, nil
		}
		return sub.Covers(r, vars)
	}
	memo := map[int32]bool{}
	res := product(s.d, p.d, MaxProductStates, func(sx, sy int32) bool {
		if p.d.accept[sy] < 0 {
			return false
		}
		t := int32(-1)
		if sx != 0 {
			t = s.d.accept[sx]
		}
		if bad, ok := memo[t]; ok {
			return bad
		}
		var tags []int32
		var cur effective
		if t >= 0 {
			tags, cur = s.d.tags[t], s.eff[t]
		}
		bad := merge(s.rules, s.literal, tags, &r, p.literal).compiled() != cur.compiled()
		memo[t] = bad
		return bad
	}, nil)
	return res, nil
}

// CoversLiteral is NewSet(rules).Covers(r) for an r whose pattern is one
// literal path: decided on that path alone, matching each rule's tree
// (MatchTree), without building an automaton. ok is false when r's pattern
// is not literal; the caller then builds the set. (A set too complex for
// one automaton gets an answer here where Covers may say Unknown.)
func CoversLiteral(rules []Rule, r Rule, vars Vars) (res Result, ok bool, err error) {
	tree, err := Parse(r.Pattern, vars)
	if err != nil {
		return Unknown, true, err
	}
	if tree.Op != OpLiteral {
		return Unknown, false, nil
	}
	path := tree.Lit
	targets := map[execTarget]bool{}
	literal := make([]bool, len(rules))
	var tags []int32
	for i, q := range rules {
		qt, err := Parse(q.Pattern, vars)
		if err != nil {
			return Unknown, true, fmt.Errorf("rule %d (%s): %w", i, q, err)
		}
		literal[i] = isLiteralText(q.Pattern, vars)
		if t, ok := targetOf(&q); ok {
			targets[t] = true
		}
		if MatchTree(qt, path) {
			tags = append(tags, int32(i))
		}
	}
	if t, ok := targetOf(&r); ok && !targets[t] {
		return No, true, nil // a new named transition
	}
	var cur effective
	if len(tags) > 0 {
		cur = merge(rules, literal, tags, nil, false)
	}
	if merge(rules, literal, tags, &r, isLiteralText(r.Pattern, vars)).compiled() != cur.compiled() {
		return No, true, nil
	}
	return Yes, true, nil
}
