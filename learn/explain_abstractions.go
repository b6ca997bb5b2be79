package learn

import (
	"fmt"
	"strings"

	"github.com/armorer-dev/armorer/policy"
)

// No access is granted invisibly: an include learn chooses says, under
// --explain, which observed accesses it stands for and everything else it
// grants that is not a file rule (network, unix, dbus…), and observed
// network use keeps a rule of its own even where an abstraction grants it
// too — a reviewer sees the profile's network access in the profile.

// maxCoversListed bounds the observed accesses an include's comment names.
const maxCoversListed = 8

// doc is the include's comment: the reason, and with explain what it
// covers and what else it grants.
func (a Abstraction) doc(explain bool) *policy.CommentGroup {
	if a.Reason == "" && (!explain || len(a.Covers)+len(a.Grants) == 0) {
		return nil
	}
	g := &policy.CommentGroup{}
	add := func(s string) { g.List = append(g.List, &policy.Comment{Text: "# " + s}) }
	head := a.Name
	if a.Reason != "" {
		head += ": " + a.Reason
	}
	add(head)
	if !explain {
		return g
	}
	if len(a.Covers) > 0 {
		covers := a.Covers
		more := ""
		if len(covers) > maxCoversListed {
			more = fmt.Sprintf(" and %d more", len(covers)-maxCoversListed)
			covers = covers[:maxCoversListed]
		}
		for _, l := range wrapList("  covers: ", covers, more) {
			add(l)
		}
	}
	if len(a.Grants) > 0 {
		for _, l := range wrapList("  also grants: ", a.Grants, "") {
			add(l)
		}
	}
	return g
}

// wrapList joins items with ", " after head, in lines of about 96 bytes.
func wrapList(head string, items []string, tail string) []string {
	var lines []string
	line := head
	for i, it := range items {
		sep := ", "
		if i == len(items)-1 {
			sep = tail
		}
		if len(line) > len(head) && len(line)+len(it) > 96 {
			lines = append(lines, strings.TrimRight(line, " "))
			line = "    "
		}
		line += it + sep
	}
	return append(lines, strings.TrimRight(line, " "))
}

// abstractionGrants lists what an abstraction allows besides file rules,
// one rule a line, and how many file rules it has.
func abstractionGrants(cov coverer) []string {
	c, ok := cov.(*Coverage)
	if !ok {
		return nil
	}
	var out []string
	for _, r := range c.others {
		var words []string
		for l := range strings.Lines(ruleText(r)) {
			if l = strings.TrimSpace(l); !strings.HasPrefix(l, "#") { // its comments
				words = append(words, strings.Fields(l)...)
			}
		}
		out = append(out, strings.TrimSuffix(strings.Join(words, " "), ","))
	}
	if n := len(c.set.Rules()); n > 0 {
		out = append(out, fmt.Sprintf("%d file rules", n))
	}
	return out
}

// keepsOwnRule says whether an access stays a rule of its own although
// an include allows it: network use.
func keepsOwnRule(r rule) bool { return r.Class == ClassNetwork }

// isAbstractionInclude says whether an include names an abstraction (not
// the profile's own local/ additions).
func isAbstractionInclude(inc *policy.Include) bool {
	return strings.HasPrefix(strings.Trim(inc.Path.Value(), `<>"`), "abstractions/")
}

// networkDirect reports whether the profile's own rules, and its local/
// and other non-abstraction includes, allow a network rule.
func (c *Coverage) networkDirect(r rule) bool {
	if c.all {
		return true
	}
	for _, x := range c.ownOthers {
		if _, ok := x.(*policy.NetworkRule); ok && c.ruleCovers(x, r) {
			return true
		}
	}
	return false
}
