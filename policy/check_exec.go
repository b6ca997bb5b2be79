package policy

import (
	"go/token"
	"strings"

	"github.com/armorer-dev/armorer/policy/aare"
)

// File rules, their permissions and exec transitions, and the exec
// conflicts apparmor_parser finds on the compiled automaton: two allow
// rules that match one path with different exec modes or targets (after
// includes, conditionals and qualifier blocks, for owned files and for
// others), and change_profile rules that are both safe and unsafe for one
// target.

// execUse is one rule that takes part in the conflict check.
type execUse struct {
	rule aare.Rule
	pos  token.Pos // the rule's permissions (or its keyword)
	text string    // how the rule's mode reads in a message
}

// fileRule checks a file rule's path, permissions and exec transition.
func (c *checker) fileRule(r *FileRule, ctx *profileCtx, q Qualifiers) {
	if r.Path == nil {
		if r.Perms != nil {
			c.errorf(r.Pos(), "rule", "file rule without a path")
		}
		if q.Deny {
			c.errorf(r.Pos(), "exec", "deny file, denies exec transitions, which apparmor_parser rejects: deny specific permissions (deny /** w,)")
		}
		return
	}
	if r.Path.Value() == "" {
		c.errorf(r.Path.Pos(), "rule", "empty path")
		return
	}
	c.pathWord(r.Path, "path")
	if r.Perms == nil {
		c.errorf(r.Pos(), "permission", "file rule %s has no permissions: add r, w, … before the comma", r.Path.Raw)
		return
	}
	if r.Perms.Raw == "all" && c.target.atLeast4() {
		c.errorf(r.Perms.Pos(), "permission", "AppArmor %s reads \"all\" as the all rule, not as permissions a, l, l: write al", c.target)
		return
	}
	// The letters are read with the rule's own qualifiers: a deny { } block
	// does not make a bare x valid.
	fp, ok := c.perms(r.Perms, r.Qual, r.Target != nil)
	if !ok {
		return
	}
	if r.Target != nil {
		fp.exec.Target = r.Target.Value()
	}
	if fp.perm&aare.PermExec == 0 || ctx.dead > 0 {
		return
	}
	vals, err := c.vars.Expand(r.Path.Pattern())
	if err != nil {
		return
	}
	for _, v := range vals {
		ctx.execs = append(ctx.execs, execUse{
			rule: aare.Rule{Pattern: v, Perms: fp.perm, Exec: fp.exec, Owner: q.Owner, Deny: q.Deny, Audit: q.Audit},
			pos:  r.Perms.Pos(),
			text: r.Perms.Raw + targetText(r.Target),
		})
	}
}

func targetText(w *Word) string {
	if w == nil {
		return ""
	}
	return " -> " + w.Raw
}

// filePerms is what a permission word grants.
type filePerms struct {
	perm aare.Perm
	exec aare.ExecMode // when perm has PermExec and a transition was named
}

// perms parses file permission letters as apparmor_parser does: its lexer
// takes a word of r R w W a l L m M k x X, [pPcC]x, [pPcC]?[iIuU]x (upper
// case r, w, l, m, x and i read as lower case); then each exec transition
// must agree with the ones before it (pxpx is fine, ixpx is not), w and a
// exclude each other, a bare x is for deny rules (3.0 also takes it with a
// named target), and deny rules take no transition.
func (c *checker) perms(w *Word, q Qualifiers, hasTarget bool) (filePerms, bool) {
	s := w.Raw
	var fp filePerms
	var write, appnd, bareX, spec bool
	bad := func(format string, args ...any) (filePerms, bool) {
		c.errorf(w.Pos(), "permission", format, args...)
		return filePerms{}, false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		var m aare.ExecMode
		switch {
		case strings.IndexByte("rR", ch) >= 0:
			fp.perm |= aare.PermRead
			continue
		case strings.IndexByte("wW", ch) >= 0:
			if appnd && !write {
				return bad("permissions %q: w and a conflict (a is append-only write); keep one", s)
			}
			write = true
			fp.perm |= aare.PermWrite | aare.PermAppend
			continue
		case ch == 'a':
			if write {
				return bad("permissions %q: w and a conflict (a is append-only write); keep one", s)
			}
			appnd = true
			fp.perm |= aare.PermAppend
			continue
		case strings.IndexByte("lL", ch) >= 0:
			fp.perm |= aare.PermLink
			continue
		case ch == 'k':
			fp.perm |= aare.PermLock
			continue
		case strings.IndexByte("mM", ch) >= 0:
			fp.perm |= aare.PermMmap
			continue
		case strings.IndexByte("xX", ch) >= 0:
			bareX = true
			fp.perm |= aare.PermExec
			continue
		case strings.IndexByte("pPcC", ch) >= 0:
			m.Kind, m.Clean = aare.ExecProfile, ch == 'P'
			if ch == 'c' || ch == 'C' {
				m.Kind, m.Clean = aare.ExecChild, ch == 'C'
			}
			j := i + 1
			if j < len(s) && strings.IndexByte("iI", s[j]) >= 0 {
				m.Fallback = aare.ExecInherit
				j++
			} else if j < len(s) && strings.IndexByte("uU", s[j]) >= 0 {
				m.Fallback = aare.ExecUnconfined
				j++
			}
			if j >= len(s) || (s[j] != 'x' && s[j] != 'X') {
				return bad("invalid permissions %q: %q is not an exec mode (ix, px, Px, cx, Cx, ux, Ux, pix, Pix, cix, Cix, pux, PUx, cux, CUx)", s, s[i:min(j+1, len(s))])
			}
			i = j
		case strings.IndexByte("iIuU", ch) >= 0:
			if i+1 >= len(s) || (s[i+1] != 'x' && s[i+1] != 'X') {
				return bad("invalid permissions %q: %q is not an exec mode (ix, px, Px, cx, Cx, ux, Ux, pix, Pix, cix, Cix, pux, PUx, cux, CUx)", s, s[i:min(i+2, len(s))])
			}
			m.Kind = aare.ExecInherit
			if ch == 'u' || ch == 'U' {
				m.Kind, m.Clean = aare.ExecUnconfined, ch == 'U'
			}
			i++
		default:
			return bad("invalid permission %q in %q (file permissions are r w a l k m and an exec mode)", ch, s)
		}
		// An exec transition: it must agree with any before it.
		if bareX && !spec || spec && fp.exec != m {
			c.errorf(w.Pos(), "exec", "permissions %q: more than one exec mode", s)
			return filePerms{}, false
		}
		spec = true
		fp.exec = m
		fp.perm |= aare.PermExec
	}
	switch {
	case fp.perm&aare.PermExec != 0 && !spec && !q.Deny && !(hasTarget && !c.target.atLeast4()):
		c.errorf(w.Pos(), "exec", "permissions %q: a bare x needs an exec mode (ix, px, cx, ux, …); only deny rules use x alone", s)
		return filePerms{}, false
	case spec && q.Deny:
		c.errorf(w.Pos(), "exec", "permissions %q: deny rules take x, not an exec mode such as %s", s, fp.exec)
		return filePerms{}, false
	}
	if !spec && fp.perm&aare.PermExec != 0 && !q.Deny {
		fp.exec = aare.ExecMode{Kind: aare.ExecProfile} // x -> target reads as px -> target
	}
	return fp, true
}

// exactPattern says whether apparmor_parser compiles pattern as an exact
// match, whose exec mode overrides those of globbed rules: no '*' or '?'
// (alternations do not count), and for 3.0 no character class either.
func (c *checker) exactPattern(pattern string) bool {
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			i++
		case '*', '?':
			return false
		case '[':
			if !c.target.atLeast4() {
				return false
			}
		}
	}
	return true
}

// execConflicts reports the exec conflicts of one profile body.
func (c *checker) execConflicts(ctx *profileCtx) {
	c.conflicts(ctx.execs, "exec", func(a, b execUse, path string) string {
		return "conflicting exec modes for " + path + ": " + a.text + " at " + c.fset.Position(a.pos).String() +
			" and " + b.text + " here; apparmor_parser refuses two transitions for one path: make them the same, or make the paths disjoint"
	})
	// change_profile: safe and unsafe for one target conflict the same way,
	// on the automaton of the exec paths; each target is its own automaton.
	byTarget := map[string][]execUse{}
	var order []string
	for _, u := range ctx.changes {
		t := u.rule.Exec.Target
		if _, ok := byTarget[t]; !ok {
			order = append(order, t)
		}
		byTarget[t] = append(byTarget[t], u)
	}
	for _, t := range order {
		c.conflicts(byTarget[t], "exec", func(a, b execUse, path string) string {
			return "change_profile to " + t + " is " + a.text + " at " + c.fset.Position(a.pos).String() + " and " + b.text +
				" here for " + path + ": one exec path cannot be both safe and unsafe"
		})
	}
}

func (c *checker) conflicts(uses []execUse, cat string, msg func(a, b execUse, path string) string) {
	if len(uses) < 2 || distinctLiterals(uses) {
		return
	}
	rules := make([]aare.Rule, len(uses))
	for i, u := range uses {
		rules[i] = u.rule
	}
	found, _, err := aare.ExecConflicts(rules, nil, c.exactPattern)
	if err != nil {
		return // a pattern error is reported on its rule
	}
	for _, f := range found {
		a, b := uses[f.A], uses[f.B]
		c.errorf(b.pos, cat, "%s", msg(a, b, f.Path))
	}
}

// changeProfile records a change_profile rule for the safe/unsafe check.
func (c *checker) changeProfile(r *ChangeProfileRule, ctx *profileCtx, q Qualifiers) {
	if p := r.Profile; p != nil {
		v := p.Value()
		switch {
		case strings.HasPrefix(v, "&"):
			c.errorf(p.Pos(), "rule", "change_profile -> %s: apparmor_parser does not support stacking (&) in change_profile targets without kernel support", p.Raw)
		case strings.HasPrefix(v, ":") && strings.HasSuffix(v, ":") && strings.Count(v, ":") == 2:
			c.errorf(p.Pos(), "rule", "change_profile -> %s: empty profile name after the namespace", p.Raw)
		}
	}
	if q.Deny || ctx.dead > 0 {
		return
	}
	target := ""
	if r.Profile != nil {
		target = r.Profile.Value()
	}
	unsafe := r.ExecMode != nil && r.ExecMode.Raw == "unsafe"
	mode := "safe"
	if unsafe {
		mode = "unsafe"
	}
	paths := []string{"/**"}
	exact := false
	if r.Exec != nil {
		vals, err := c.vars.Expand(r.Exec.Value())
		if err != nil {
			return
		}
		paths, exact = vals, true
	}
	pos := r.Pos()
	if r.ExecMode != nil {
		pos = r.ExecMode.Pos()
	}
	for _, p := range paths {
		if !exact {
			p = "/**"
		}
		ctx.changes = append(ctx.changes, execUse{
			rule: aare.Rule{Pattern: p, Perms: aare.PermExec, Exec: aare.ExecMode{Kind: aare.ExecProfile, Clean: !unsafe, Target: target}},
			pos:  pos,
			text: mode,
		})
	}
}

// distinctLiterals says whether the uses' patterns are literal paths
// (letters, digits and /._-+:@~% only, no "//" that matching folds),
// each different: then no path matches two of them, and they cannot
// conflict. (The usual profile: a few programs run by name.) It spares
// building the automaton of all of them.
func distinctLiterals(uses []execUse) bool {
	seen := make(map[string]bool, len(uses))
	for _, u := range uses {
		p := u.rule.Pattern
		if p == "" || seen[p] || strings.Contains(p, "//") {
			return false
		}
		for i := 0; i < len(p); i++ {
			switch c := p[i]; {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			case strings.IndexByte("/._-+:@~%", c) >= 0:
			default:
				return false
			}
		}
		seen[p] = true
	}
	return true
}
