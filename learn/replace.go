package learn

import (
	"fmt"
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
	node    *policy.FileRule
	rule    aare.Rule
	lit     string // the one path the pattern names, when literal
	literal bool
	taken   bool
}

// replaceCovered puts each learned file rule that covers rules of body
// in the place of the first of them, and drops the others: body is the
// block learn adds the rules to (a profile's, a hat's or a child's own
// body, or the top level of the local/ file learn writes), never another
// file. A rule is covered when adding the learned rule to it would change
// nothing apparmor_parser compiles (aare's coverage: its paths, its
// permissions and exec mode, owner and audit). Only plain allow rules of
// the block itself are candidates: never a deny rule, a rule with an exec
// target or a priority, a rule inside a conditional or qualifier block
// (its conditions are not the learned rule's), nor one that records a
// human's decision (an accepted finding's comment). The removed rules'
// comments move above the learned rule, in their order. learned are the
// learned rules' nodes (as nodes gives them), in order.
func replaceCovered(body []policy.Rule, learned []policy.Rule, vars aare.Vars, profile string, explain bool) replaced {
	cands := replaceable(body, vars)
	if len(cands) == 0 {
		return replaced{rest: learned}
	}
	var out replaced
	at := map[*policy.FileRule]int{}
	for i, x := range body {
		if fr, ok := x.(*policy.FileRule); ok {
			at[fr] = i
		}
	}
	for _, n := range learned {
		covered := coveredBy(n, cands, vars)
		if len(covered) == 0 {
			out.rest = append(out.rest, n)
			continue
		}
		fr := n.(*policy.FileRule)
		by := bareText(fr)
		repl := *fr // a node of its own: the learned rule stays as it was
		first := covered[0]
		repl.Meta = first.Meta // its place, its layout: policy.Edits rewrites the line
		var doc []*policy.Comment
		var texts []string
		for _, c := range covered {
			doc = append(doc, comments(c.Doc)...)
			doc = append(doc, comments(c.Line)...)
			texts = append(texts, bareText(c))
			out.removals = append(out.removals, Removal{Profile: profile, Rule: bareText(c), By: by})
			if c != first {
				c.RuleMeta().Line = nil
				dropIn(body, c)
			}
		}
		doc = append(doc, comments(fr.Doc)...)
		if explain {
			doc = append(doc, &policy.Comment{Text: "# " + replacesNote(texts)})
		}
		repl.Doc, repl.Line = nil, nil
		if len(doc) > 0 {
			repl.Doc = &policy.CommentGroup{List: doc}
		}
		body[at[first]] = &repl
	}
	return out
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

// bareText is a file rule's text without its comments.
func bareText(r *policy.FileRule) string {
	c := *r
	c.Meta = policy.Meta{}
	return ruleText(&c)
}

// replaceable are the rules of body a learned rule may replace.
func replaceable(body []policy.Rule, vars aare.Vars) []*ownRule {
	var out []*ownRule
	for _, x := range body {
		fr, ok := x.(*policy.FileRule)
		if !ok || policy.Dropped(x) || fr.Path == nil || fr.Target != nil || fr.Qual.Deny || fr.Qual.Priority != nil || records(fr) {
			continue
		}
		perms, mode, err := aare.ParsePerms(fr.Perms.Value())
		if err != nil || perms == 0 {
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
func records(r *policy.FileRule) bool {
	for _, g := range []*policy.CommentGroup{r.Doc, r.Line} {
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
func coveredBy(n policy.Rule, cands []*ownRule, vars aare.Vars) []*policy.FileRule {
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
	var out []*policy.FileRule
	for _, c := range cands {
		if c.taken {
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
