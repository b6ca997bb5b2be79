package lint

import (
	"strings"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

var leavesConfinement = &Analyzer{
	ID: "L013", Name: "leaves-confinement", Severity: SeverityHigh,
	Doc: `change_profile without a target (or to unconfined, or to a glob that matches it) lets the
program switch itself to any profile, unconfined included: the profile confines nothing.
mount, remount, umount and pivot_root rules change what every path the profile names
means (a bind mount over /etc, a new root), a step in most container escapes. Name the
target profile of change_profile; keep mount rules to the exact source, type and point.`,
	Run: func(p *Pass) {
		for ri := range rules(p.File) {
			if ri.Qual.Deny {
				continue
			}
			switch r := ri.Rule.(type) {
			case *policy.ChangeProfileRule:
				switch {
				case r.Profile == nil:
					p.ReportRangef(r, "change_profile without -> PROFILE lets the program switch to any profile, unconfined included; name the target")
				case reachesUnconfined(r.Profile.Value()):
					p.ReportRangef(r, "change_profile -> %s lets the program leave confinement (unconfined); name a confining profile", r.Profile.Raw)
				}
			case *policy.MountRule, *policy.PivotRootRule:
				kind := "mount"
				if m, ok := r.(*policy.MountRule); ok && m.Keyword != nil {
					kind = m.Keyword.Value()
				} else if !ok {
					kind = "pivot_root"
				}
				why := SensitiveRuleKinds[kind]
				if why == "" {
					why = SensitiveRuleKinds["mount"]
				}
				p.ReportRangef(ri.Rule, "%s rule: %s; a step in most container escapes", kind, why)
			}
		}
	},
}

// reachesUnconfined says whether a change_profile target is unconfined or
// a pattern that matches it.
func reachesUnconfined(target string) bool {
	if target == "unconfined" {
		return true
	}
	if !strings.ContainsAny(target, "*?[{") {
		return false
	}
	pat, err := aare.Compile(target, nil)
	return err == nil && pat.Match("unconfined")
}
