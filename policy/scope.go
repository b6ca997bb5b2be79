package policy

import "iter"

// ScopedRule is a rule with what the blocks around it add: the profile it
// belongs to and its effective qualifiers.
type ScopedRule struct {
	Rule Rule
	// Profile is the innermost profile or hat holding the rule, nil at
	// the top level of a file.
	Profile *Profile
	// Qual is the rule's effective qualifiers: its own merged with those
	// of the qualifier blocks around it (`owner { … }`, `audit deny { … }`);
	// for a rule without qualifiers (an include), those of its blocks.
	Qual Qualifiers
	// Block is the innermost qualifier block holding the rule, or nil.
	Block *QualBlock
	// Conditional reports whether the rule is inside an if or else
	// branch, which apparmor_parser may leave out.
	Conditional bool
	// Depth counts the includes the rule was reached through.
	Depth int
}

// Inherit returns q, the qualifiers written on a rule, merged with outer,
// those of the blocks around it: audit, allow, deny and owner add up; a
// priority on the rule wins over the block's.
func (q Qualifiers) Inherit(outer Qualifiers) Qualifiers {
	q.Audit = q.Audit || outer.Audit
	q.Deny = q.Deny || outer.Deny
	q.Allow = q.Allow || outer.Allow
	q.Owner = q.Owner || outer.Owner
	if q.Priority == nil {
		q.Priority = outer.Priority
	}
	return q
}

// EffectiveQualifiers returns the qualifiers r has inside blocks whose
// qualifiers add up to outer.
func EffectiveQualifiers(r Rule, outer Qualifiers) Qualifiers {
	if q, ok := r.(Qualified); ok {
		return q.Qualifiers().Inherit(outer)
	}
	return outer
}

// maxScopeDepth bounds the includes Rules follows (cycles included).
const maxScopeDepth = 32

// Rules returns an iterator over the rules of body (of profile p, or nil
// at the top level of a file), depth first in source order, each with its
// profile and effective qualifiers. It goes into profiles and hats (whose
// rules belong to them), qualifier blocks and both branches of
// conditionals; the blocks themselves are not yielded, child profiles and
// hats are (before their rules). Rules marked by DropRule are skipped.
//
// include, when not nil, returns the files an include reads: their rules
// are then yielded in its place, as rules of the including profile (to 32
// levels); when nil, includes are yielded like other rules.
func Rules(body []Rule, p *Profile, include func(*Include) []*File) iter.Seq[ScopedRule] {
	return func(yield func(ScopedRule) bool) {
		w := scopeWalk{yield: yield, include: include}
		w.body(body, ScopedRule{Profile: p})
	}
}

type scopeWalk struct {
	yield   func(ScopedRule) bool
	include func(*Include) []*File
	stopped bool
}

// body walks rules inside the scope at (whose Rule is unused).
func (w *scopeWalk) body(rules []Rule, at ScopedRule) {
	for _, r := range rules {
		if w.stopped {
			return
		}
		if r == nil || r.meta().dead {
			continue
		}
		switch r := r.(type) {
		case *QualBlock:
			in := at
			in.Qual, in.Block = r.Qual.Inherit(at.Qual), r
			w.body(r.Body, in)
		case *If:
			in := at
			in.Conditional = true
			w.body(r.Body, in)
			if r.Else != nil && !r.Else.meta().dead {
				w.body([]Rule{r.Else}, in)
			}
		case *Block:
			w.body(r.Body, at)
		case *Profile:
			if !w.emit(r, at) {
				return
			}
			w.body(r.Body, ScopedRule{Profile: r, Depth: at.Depth, Conditional: at.Conditional})
		case *Include:
			if w.include == nil || at.Depth >= maxScopeDepth {
				w.emit(r, at)
				continue
			}
			in := at
			in.Depth++
			for _, f := range w.include(r) {
				w.body(f.Rules, in)
			}
		default:
			w.emit(r, at)
		}
	}
}

func (w *scopeWalk) emit(r Rule, at ScopedRule) bool {
	at.Rule, at.Qual = r, EffectiveQualifiers(r, at.Qual)
	if !w.yield(at) {
		w.stopped = true
	}
	return !w.stopped
}
