package learn

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// Removal is a rule of an existing profile that a rule learn adds covers
// completely, so that learn removes it (as a careful human, or
// aa-logprof's "Deleted N previous matching profile entries", would).
type Removal struct {
	Profile string // the profile (or child, hat) whose block held it
	Rule    string // the removed rule's text, without its comments
	By      string // the learned rule that covers it
}

// replaced is what replaceCovered did to a block.
type replaced struct {
	rest     []policy.Rule // the learned rules still to add (AddRules)
	removals []Removal
}

// ownRule is a rule of the block a learned rule may cover.
type ownRule struct {
	node policy.Rule
	// File rules: the rule as aare reads it, and the one path its
	// pattern names when it names one.
	rule    aare.Rule
	lit     string
	literal bool
	taken   bool
}

// replaceCovered puts each learned rule that covers rules of body in the
// place of the first of them, and drops the others: body is the block
// learn adds the rules to (a profile's, a hat's or a child's own body, or
// the top level of the local/ file learn writes), never another file. A
// file rule is covered when adding the learned rule to it would change
// nothing apparmor_parser compiles (aare's coverage: its paths, its
// permissions, owner and audit); a unix, dbus, signal, ptrace or mqueue
// rule when the learned rule of its kind allows all it does
// (othersCover). Only plain allow rules of the block itself are
// candidates: never a deny rule, an exec rule, a rule with a priority, a
// rule inside a conditional or qualifier block (its conditions are not
// the learned rule's), nor one that records a human's decision (an
// accepted finding's comment). The removed rules' comments
// move above the learned rule, in their order. learned are the learned
// rules' nodes (as nodes gives them), in order.
func replaceCovered(body []policy.Rule, learned []policy.Rule, vars aare.Vars, profile string, explain bool) replaced {
	cands := replaceable(body, vars)
	if len(cands) == 0 {
		return replaced{rest: learned}
	}
	var out replaced
	at := map[policy.Rule]int{}
	for i, x := range body {
		at[x] = i
	}
	for _, n := range learned {
		covered := coveredBy(n, cands, vars)
		if len(covered) == 0 {
			out.rest = append(out.rest, n)
			continue
		}
		by := bareText(n)
		first := covered[0]
		// A node of its own (the learned rule stays as it was) in the
		// first one's place and layout: policy.Edits rewrites that line.
		repl := withMeta(n, *first.RuleMeta())
		var doc []*policy.Comment
		var texts []string
		for _, c := range covered {
			doc = append(doc, comments(c.RuleMeta().Doc)...)
			doc = append(doc, comments(c.RuleMeta().Line)...)
			texts = append(texts, bareText(c))
			out.removals = append(out.removals, Removal{Profile: profile, Rule: bareText(c), By: by})
			if c != first {
				dropIn(body, c)
			}
		}
		doc = append(doc, comments(n.RuleMeta().Doc)...)
		if explain {
			doc = append(doc, &policy.Comment{Text: "# " + replacesNote(texts)})
		}
		m := repl.RuleMeta()
		m.Doc, m.Line = nil, nil
		if len(doc) > 0 {
			m.Doc = &policy.CommentGroup{List: doc}
		}
		body[at[first]] = repl
	}
	return out
}

// replaceByInclude drops the file rules of body that the abstraction an
// added include names covers (with the abstraction's own variables, as
// AbstractionCoverage reads it), as aa-logprof does when it adds an
// include; their comments move above the include.
func replaceByInclude(body []policy.Rule, inc *policy.Include, cov *Coverage, profile string, explain bool) []Removal {
	var out []Removal
	var doc []*policy.Comment
	var texts []string
	for _, c := range replaceable(body, cov.vars) {
		if _, ok := c.node.(*policy.FileRule); !ok || !cov.coversFile(c.rule) {
			continue
		}
		doc = append(doc, comments(c.node.RuleMeta().Doc)...)
		doc = append(doc, comments(c.node.RuleMeta().Line)...)
		texts = append(texts, bareText(c.node))
		out = append(out, Removal{Profile: profile, Rule: bareText(c.node), By: ruleText(&policy.Include{Path: inc.Path})})
		dropIn(body, c.node)
	}
	if len(out) == 0 {
		return nil
	}
	doc = append(doc, comments(inc.Doc)...)
	if explain {
		doc = append(doc, &policy.Comment{Text: "# " + replacesNote(texts)})
	}
	inc.Doc = &policy.CommentGroup{List: doc}
	return out
}

// withMeta is a copy of a learned rule with the position and layout m.
func withMeta(n policy.Rule, m policy.Meta) policy.Rule {
	switch n := n.(type) {
	case *policy.FileRule:
		return copyWithMeta(n, m)
	case *policy.UnixRule:
		return copyWithMeta(n, m)
	case *policy.DbusRule:
		return copyWithMeta(n, m)
	case *policy.SignalRule:
		return copyWithMeta(n, m)
	case *policy.PtraceRule:
		return copyWithMeta(n, m)
	case *policy.MqueueRule:
		return copyWithMeta(n, m)
	}
	panic(fmt.Sprintf("learn: withMeta of %T", n)) // coveredBy takes no other kind
}

// copyWithMeta is a shallow copy of the rule *n with its Meta set to m.
func copyWithMeta[T any, P interface {
	*T
	policy.Rule
}](n P, m policy.Meta) policy.Rule {
	c := *n
	*P(&c).RuleMeta() = m
	return P(&c)
}

// dropIn marks r, a rule of body, as removed.
func dropIn(body []policy.Rule, r policy.Rule) {
	(&policy.File{Rules: body}).DropRule(r)
}

// replacesNote is the --explain line of a learned rule that replaced
// rules of the profile.
func replacesNote(rules []string) string {
	const show = 8
	list := strings.Join(rules[:min(len(rules), show)], " ")
	if len(rules) > show {
		list += fmt.Sprintf(" … (%d rules)", len(rules))
	}
	if len(rules) == 1 {
		return "replaces the profile's rule " + list
	}
	return "replaces the profile's rules " + list
}

// comments are a comment group's comments, as new comments (their text
// only: they are printed where the rule that takes them is).
func comments(g *policy.CommentGroup) []*policy.Comment {
	if g == nil {
		return nil
	}
	out := make([]*policy.Comment, len(g.List))
	for i, c := range g.List {
		out[i] = &policy.Comment{Text: c.Text}
	}
	return out
}

// bareText is a rule's text without its comments.
func bareText(r policy.Rule) string { return ruleText(withMeta(r, policy.Meta{})) }

// replaceable are the rules of body a learned rule may replace.
func replaceable(body []policy.Rule, vars aare.Vars) []*ownRule {
	var out []*ownRule
	for _, x := range body {
		if policy.Dropped(x) || records(x) {
			continue
		}
		if p, ok := otherParts(x); ok {
			if !p.qual.Deny && p.qual.Priority == nil {
				out = append(out, &ownRule{node: x})
			}
			continue
		}
		fr, ok := x.(*policy.FileRule)
		if !ok || fr.Path == nil || fr.Target != nil || fr.Qual.Deny || fr.Qual.Priority != nil {
			continue
		}
		perms, mode, err := aare.ParsePerms(fr.Perms.Value())
		// Not an exec rule: an exact path's exec mode outranks a glob's,
		// so that it may be what settles a conflict between two globs of
		// the profile, which removing it would bring back.
		if err != nil || perms == 0 || perms&aare.PermExec != 0 {
			continue
		}
		c := &ownRule{node: fr, rule: aare.Rule{Pattern: fr.Path.Pattern(), Perms: perms, Exec: mode, Owner: fr.Qual.Owner, Audit: fr.Qual.Audit}}
		tree, err := aare.Parse(c.rule.Pattern, vars)
		if err != nil {
			continue
		}
		if tree.Op == aare.OpLiteral {
			c.lit, c.literal = tree.Lit, true
		}
		out = append(out, c)
	}
	return out
}

// records says whether a rule carries a human's recorded decision (an
// accepted finding): it stays as it was written.
func records(r policy.Rule) bool {
	m := r.RuleMeta()
	for _, g := range []*policy.CommentGroup{m.Doc, m.Line} {
		if g == nil {
			continue
		}
		for _, c := range g.List {
			if strings.Contains(c.Text, AcceptedPrefix) {
				return true
			}
		}
	}
	return false
}

// coveredBy takes the candidates the learned rule n covers, in order.
func coveredBy(n policy.Rule, cands []*ownRule, vars aare.Vars) []policy.Rule {
	if _, ok := otherParts(n); ok {
		var out []policy.Rule
		for _, c := range cands {
			if !c.taken && othersCover(n, c.node, vars) {
				c.taken = true
				out = append(out, c.node)
			}
		}
		return out
	}
	fr, ok := n.(*policy.FileRule)
	if !ok || fr.Path == nil || fr.Target != nil || fr.Qual.Deny || fr.Qual.Priority != nil {
		return nil
	}
	perms, mode, err := aare.ParsePerms(fr.Perms.Value())
	if err != nil {
		return nil
	}
	r := aare.Rule{Pattern: fr.Path.Pattern(), Perms: perms, Exec: mode, Owner: fr.Qual.Owner, Audit: fr.Qual.Audit}
	tree, err := aare.Parse(r.Pattern, vars)
	if err != nil {
		return nil
	}
	var set *aare.Set // for candidates that are globs, built once
	var out []policy.Rule
	for _, c := range cands {
		if _, ok := c.node.(*policy.FileRule); c.taken || !ok {
			continue
		}
		var res aare.Result
		switch {
		case c.literal:
			if !aare.MatchTree(tree, c.lit) {
				continue
			}
			res, _, err = aare.CoversLiteral([]aare.Rule{r}, c.rule, vars)
		case tree.Op == aare.OpLiteral:
			continue // one path never covers a glob
		default:
			if set == nil {
				if set, err = aare.NewSet([]aare.Rule{r}, vars); err != nil {
					return out
				}
			}
			res, err = set.Covers(c.rule, vars)
		}
		if err == nil && res == aare.Yes {
			c.taken = true
			out = append(out, c.node)
		}
	}
	return out
}

// otherRule is a unix, dbus, signal, ptrace or mqueue rule's parts.
type otherRule struct {
	qual   policy.Qualifiers
	access *policy.List
	conds  []*policy.Cond
	name   *policy.Word // mqueue's queue name
}

func otherParts(r policy.Rule) (otherRule, bool) {
	switch r := r.(type) {
	case *policy.UnixRule:
		return otherRule{r.Qual, r.Access, r.Conds, nil}, true
	case *policy.DbusRule:
		return otherRule{r.Qual, r.Access, r.Conds, nil}, true
	case *policy.SignalRule:
		return otherRule{r.Qual, r.Access, r.Conds, nil}, true
	case *policy.PtraceRule:
		return otherRule{r.Qual, r.Access, r.Conds, nil}, true
	case *policy.MqueueRule:
		return otherRule{r.Qual, r.Access, r.Conds, r.Name}, true
	}
	return otherRule{}, false
}

// othersCover says whether the learned rule n allows everything the
// rule x does, read from their text alone: the same kind and audit, n's
// permissions (all, without a list) a superset of x's, and each
// condition n names also in x, with each of x's values matched by one of
// n's (the same text, or n's pattern matching x's literal name); a
// condition n leaves out allows anything. Anything else (a value x gives
// as a pattern or variable, a label with //) is not covered.
func othersCover(n, x policy.Rule, vars aare.Vars) bool {
	if reflect.TypeOf(n) != reflect.TypeOf(x) {
		return false
	}
	pn, _ := otherParts(n)
	px, _ := otherParts(x)
	if pn.qual.Deny || px.qual.Deny || pn.qual.Priority != nil || px.qual.Priority != nil || pn.qual.Audit != px.qual.Audit {
		return false
	}
	if pn.access != nil {
		if px.access == nil {
			return false
		}
		for _, w := range px.access.Words {
			if !slices.ContainsFunc(pn.access.Words, func(v *policy.Word) bool { return v.Value() == w.Value() }) {
				return false
			}
		}
	}
	if pn.name != nil && (px.name == nil || !wordCovers(pn.name, px.name, vars)) {
		return false
	}
	return condsCover(pn.conds, px.conds, vars)
}

func condsCover(n, x []*policy.Cond, vars aare.Vars) bool {
	for _, nc := range n {
		xc := policy.FindCond(x, nc.KeyName())
		if xc == nil || xc.In != nc.In || (nc.Value == nil) != (xc.Value == nil) || (nc.Conds == nil) != (xc.Conds == nil) {
			return false
		}
		if nc.Value != nil {
			for _, xw := range xc.Value.Words {
				if !slices.ContainsFunc(nc.Value.Words, func(nw *policy.Word) bool { return wordCovers(nw, xw, vars) }) {
					return false
				}
			}
		}
		if !condsCover(nc.Conds, xc.Conds, vars) {
			return false
		}
	}
	return true
}

// wordCovers says whether the name pattern n matches all x does: the same
// pattern, or x a plain literal name that n's AppArmor glob matches.
func wordCovers(n, x *policy.Word, vars aare.Vars) bool {
	if n.Pattern() == x.Pattern() {
		return true
	}
	xv := x.Pattern()
	if x.Quoted() || strings.ContainsAny(xv, "*?[]{}\\\"#") || strings.Contains(xv, "//") || strings.Contains(n.Pattern(), "//") {
		return false
	}
	tree, err := aare.Parse(n.Pattern(), vars)
	return err == nil && aare.MatchTree(tree, xv)
}
