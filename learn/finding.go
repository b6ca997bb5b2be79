package learn

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/armorer-dev/armorer/policy"
)

// A finding's Key is its stable ID: the same profile and the same
// proposed rule give the same key in every run, whatever the order or the
// number of the events behind it, so a human can decide each finding by
// its key (learn --accept KEY) and a script can track it. When more
// events widen the rule (r becomes rw), the key changes with it: the
// decision was about the narrower rule.

// KeyLen is the length of a finding key in hex digits.
const KeyLen = 8

// FindingKey is the stable ID of the finding that proposes rule (in its
// canonical text, as RuleText prints it) for profile.
func FindingKey(profile, rule string) string {
	h := sha256.Sum256([]byte(profile + "\x00" + rule))
	return hex.EncodeToString(h[:KeyLen/2])
}

// Key is the finding's stable ID (see FindingKey).
func (f Finding) Key() string { return FindingKey(f.Profile, f.RuleText()) }

// RuleText is the exact rule the finding would add, in canonical form.
func (f Finding) RuleText() string {
	if f.textOf != nil && f.textOf == f.Rule {
		return f.text
	}
	return ruleText(f.Rule)
}

// RuleText is a learned rule in canonical form, without its comments.
func (l Learned) RuleText() string { return ruleText(l.Node) }

// Acceptable says whether a human may grant the finding with --accept:
// only accesses held back as sensitive. A rule the target ABI cannot
// express, or one the checker rejects, cannot be granted by a decision.
func (f Finding) Acceptable() bool {
	switch f.ID {
	case "abi", "invalid-rule", "unreadable-name", "disconnected-path", "unconfined":
		return false
	}
	return f.Rule != nil
}

// AcceptedPrefix starts the comment an accepted rule carries in the
// profile, so that a reader (and a reviewer's grep) sees that a human
// granted it and which finding it was.
const AcceptedPrefix = "armorer: accepted "

// Accept is a human's decision to grant findings: each entry is a
// finding key, or a rule's text ("capability setuid", with or without
// the comma) which grants that rule in every profile that asks for it.
type Accept struct {
	Keys   []string
	Reason string // written into the profile next to each accepted rule
}

// matches says whether entry names the finding.
func acceptMatches(entry string, f Finding) bool {
	entry = strings.TrimSpace(entry)
	if IsFindingKey(entry) {
		return entry == f.Key()
	}
	return normRule(entry) == normRule(f.RuleText())
}

// IsFindingKey says whether s has the form of a finding key (no rule
// text can: every rule has a keyword or a path).
func IsFindingKey(s string) bool {
	if len(s) != KeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789abcdef", rune(s[i])) {
			return false
		}
	}
	return true
}

func normRule(s string) string {
	return strings.TrimSuffix(strings.Join(strings.Fields(s), " "), ",")
}

// AcceptResult says what an Accept did in one session.
type AcceptResult struct {
	Accepted []Finding // granted: now rules of their profiles
	// Unmatched entries named no finding of this run (already granted
	// by an earlier run, or not observed this time).
	Unmatched []string
	// Refused are findings named but not acceptable (see Acceptable).
	Refused []Finding
}

// apply turns the accepted findings of profiles into rules, each with a
// comment naming the finding, and removes them from the findings.
func (acc Accept) apply(profiles []*Profile) AcceptResult {
	var res AcceptResult
	used := make([]bool, len(acc.Keys))
	for _, p := range profiles {
		kept := p.Findings[:0]
		for _, f := range p.Findings {
			named := false
			for i, k := range acc.Keys {
				if acceptMatches(k, f) {
					used[i], named = true, true
				}
			}
			switch {
			case !named:
				kept = append(kept, f)
			case !f.Acceptable():
				res.Refused = append(res.Refused, f)
				kept = append(kept, f)
			default:
				res.Accepted = append(res.Accepted, f)
				if !p.hasRule(f.RuleText()) { // --allow-sensitive added it already
					p.Rules = append(p.Rules, Learned{Node: acc.node(f), Evidence: f.Evidence})
				}
			}
		}
		p.Findings = kept
	}
	for i, k := range acc.Keys {
		if !used[i] {
			res.Unmatched = append(res.Unmatched, k)
		}
	}
	return res
}

func (p *Profile) hasRule(text string) bool {
	for _, r := range p.Rules {
		if r.RuleText() == text {
			return true
		}
	}
	return false
}

// node is the finding's rule with the comment that records the decision.
func (acc Accept) node(f Finding) policy.Rule {
	text := fmt.Sprintf("# %s%s [%s]", AcceptedPrefix, f.Key(), f.ID)
	if r := strings.Join(strings.Fields(acc.Reason), " "); r != "" {
		text += ": " + r
	}
	n := f.r.node() // a node of its own: f.Rule stays without the comment
	n.RuleMeta().Line = &policy.CommentGroup{List: []*policy.Comment{{Text: text}}}
	return n
}
