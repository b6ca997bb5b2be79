package lint

import (
	"fmt"
	"go/token"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// SeverityLow is for findings that weaken observability or hygiene, not
// confinement itself.
const SeverityLow Severity = 3

// Check is one lint rule: an ID that never changes, a severity, a one-line
// summary and the explanation `armorer check` prints for it.
type Check struct {
	ID       string // "L001"
	Name     string // "missing-abi"
	Severity Severity
	Doc      string // why it matters and what to do
	Run      func(*Pass)
}

// Pass is what a Check sees: the policy's LintPass and a Report that
// prefixes the check's ID and severity.
type Pass struct {
	*policy.LintPass
	check *Check
}

// Reportf reports a finding of the running check at pos.
func (p *Pass) Reportf(pos token.Pos, format string, args ...any) {
	p.ReportSeverity(pos, p.check.Severity, format, args...)
}

// ReportSeverity reports a finding whose severity comes from a table entry.
func (p *Pass) ReportSeverity(pos token.Pos, sev Severity, format string, args ...any) {
	p.LintPass.Report(pos, "%s %s: %s (%s)", p.check.ID, sev, fmt.Sprintf(format, args...), p.check.Name)
}

// Checks are all lint rules, in ID order.
var Checks = []*Check{
	missingABI, writeExec, unconfinedExec, execNoScrub, dangerousCapability,
	dangerousNetwork, broadGlob, sensitivePath, unconfinedPeer, denyWithoutAudit, newerThanABI,
}

// Lookup returns the check with the given ID or name.
func Lookup(idOrName string) (*Check, bool) {
	i := slices.IndexFunc(Checks, func(c *Check) bool { return c.ID == idOrName || c.Name == idOrName })
	if i < 0 {
		return nil, false
	}
	return Checks[i], true
}

// PolicyChecks adapts checks for policy.CheckConfig.Lint.
func PolicyChecks(checks []*Check) []policy.LintCheck {
	out := make([]policy.LintCheck, len(checks))
	for i, c := range checks {
		out[i] = policy.LintCheck{ID: c.ID, Doc: c.Doc, Run: func(lp *policy.LintPass) { c.Run(&Pass{LintPass: lp, check: c}) }}
	}
	return out
}

// ruleIn is one rule with the profile that holds it (nil at file level)
// and the qualifiers of enclosing blocks (`owner { … }`, `audit { … }`).
type ruleIn struct {
	rule    policy.Rule
	profile *policy.Profile
	qual    policy.Qualifiers
}

// rules lists the rules of f that belong to profiles, depth first, in
// source order. Rules of included files are not visited: a finding belongs
// to the file that has the rule, and abstractions are linted on their own.
func rules(f *policy.File) []ruleIn {
	var out []ruleIn
	var walk func(body []policy.Rule, p *policy.Profile, q policy.Qualifiers)
	walk = func(body []policy.Rule, p *policy.Profile, q policy.Qualifiers) {
		for _, r := range body {
			if r == nil || policy.Dropped(r) {
				continue
			}
			switch r := r.(type) {
			case *policy.Profile:
				walk(r.Body, r, policy.Qualifiers{})
			case *policy.QualBlock:
				walk(r.Body, p, mergeQual(q, r.Qual))
			case *policy.If:
				walk([]policy.Rule{&policy.Block{Body: r.Body}, r.Else}, p, q)
			case *policy.Block:
				walk(r.Body, p, q)

			default:
				out = append(out, ruleIn{r, p, q})
			}
		}
	}
	walk(f.Rules, nil, policy.Qualifiers{})
	return out
}

func mergeQual(outer, inner policy.Qualifiers) policy.Qualifiers {
	outer.Audit = outer.Audit || inner.Audit
	outer.Deny = outer.Deny || inner.Deny
	outer.Allow = outer.Allow || inner.Allow
	outer.Owner = outer.Owner || inner.Owner
	return outer
}

// qualOf returns the effective qualifiers of a rule in its block.
func qualOf(ri ruleIn) policy.Qualifiers {
	if q, ok := ri.rule.(policy.Qualified); ok {
		return mergeQual(ri.qual, *q.Qualifiers())
	}
	return ri.qual
}

// fileAccess is a file rule's permissions, with x for an exec mode
// written without it.
func fileAccess(perm aare.Perm, exec aare.ExecMode) aare.Perm {
	if exec.Kind != aare.ExecNone {
		perm |= aare.PermExec
	}
	return perm
}

// ruleAccess is fileAccess of a file rule's permissions; false when they do
// not parse (check reports that, not lint).
func ruleAccess(fr *policy.FileRule) (aare.Perm, bool) {
	perm, mode, err := aare.ParsePerms(fr.Perms.Value())
	if err != nil {
		return 0, false
	}
	return fileAccess(perm, mode), true
}

// expandPath returns the alternatives of a rule path with variables
// expanded, or the raw value when expansion fails (an undefined variable
// is check's business, not lint's).
func expandPath(p *Pass, w *policy.Word) []string {
	v := w.Value()
	if p.Vars == nil || !strings.Contains(v, "@{") {
		return []string{v}
	}
	alts, err := p.Vars.Expand(v)
	if err != nil || len(alts) == 0 {
		return []string{v}
	}
	return alts
}

// compile compiles the alternatives of a rule path; nil when it is not a
// pattern aare can read (a magic <...> word, a bad glob).
func compile(p *Pass, w *policy.Word) []*aare.Pattern {
	var out []*aare.Pattern
	for _, alt := range expandPath(p, w) {
		if !strings.HasPrefix(alt, "/") && !strings.HasPrefix(alt, "@") {
			continue
		}
		pat, err := aare.Compile(alt, nil)
		if err != nil {
			continue
		}
		out = append(out, pat)
	}
	return out
}
