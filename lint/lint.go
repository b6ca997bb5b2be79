package lint

import (
	"cmp"
	"fmt"
	"go/token"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// Analyzer is one lint check, as golang.org/x/tools/go/analysis has one
// Analyzer per check: an ID that never changes, a name, the severity of
// its findings, the explanation `armorer check --explain` prints, and Run.
type Analyzer struct {
	ID       string // "L001"
	Name     string // "missing-abi"
	Severity Severity
	Doc      string // why it matters and what to do
	Run      func(*Pass)
}

// Pass is what an Analyzer sees: one valid file, checked by policy.Check,
// and Report to emit findings.
type Pass struct {
	Analyzer *Analyzer
	Fset     *token.FileSet
	File     *policy.File
	Target   policy.Version // the version the file was checked for
	Vars     *policy.Vars   // the file's variables, includes resolved
	Loader   *policy.Loader
	// Report emits a finding; zero Category, Name and Severity are the
	// Analyzer's.
	Report func(Diagnostic)
}

// Diagnostic is one finding, shaped like go/analysis.Diagnostic.
type Diagnostic struct {
	Pos      token.Pos
	End      token.Pos // end of the rule or word at fault, or NoPos
	Category string    // the Analyzer's ID
	Name     string    // the Analyzer's name
	Severity Severity
	Message  string
	// SuggestedFixes are edits that resolve the finding, where one is
	// clear; apply them with policy.ApplyEdits.
	SuggestedFixes []SuggestedFix
}

// SuggestedFix is a change that resolves a finding.
type SuggestedFix struct {
	Message   string
	TextEdits []policy.TextEdit
}

// Text is the finding as `armorer check` prints it:
// "L003 high: message (unconfined-exec)".
func (d Diagnostic) Text() string {
	return fmt.Sprintf("%s %s: %s (%s)", d.Category, d.Severity, d.Message, d.Name)
}

// Reportf reports a finding of the running analyzer at pos.
func (p *Pass) Reportf(pos token.Pos, format string, args ...any) {
	p.Report(Diagnostic{Pos: pos, Message: fmt.Sprintf(format, args...)})
}

// ReportRangef reports a finding that spans node n (a rule or a word).
func (p *Pass) ReportRangef(n policy.Node, format string, args ...any) {
	p.Report(Diagnostic{Pos: n.Pos(), End: n.End(), Message: fmt.Sprintf(format, args...)})
}

// Analyzers are all lint checks, in ID order.
var Analyzers = []*Analyzer{
	missingABI, writeExec, unconfinedExec, execNoScrub, dangerousCapability,
	dangerousNetwork, broadGlob, sensitivePath, unconfinedPeer, denyWithoutAudit, newerThanABI, relativePath,
	leavesConfinement,
}

// Lookup returns the analyzer with the given ID or name.
func Lookup(idOrName string) (*Analyzer, bool) {
	i := slices.IndexFunc(Analyzers, func(a *Analyzer) bool { return a.ID == idOrName || a.Name == idOrName })
	if i < 0 {
		return nil, false
	}
	return Analyzers[i], true
}

// Run runs the analyzers on a file that policy.Check (or CheckFile) found
// valid, res being its result, and returns their findings sorted by
// position (in analyzer order at one position). Findings need a valid
// file: on a result with errors Run returns nil.
func Run(l *policy.Loader, res *policy.CheckResult, analyzers []*Analyzer) []Diagnostic {
	if !res.Valid() || res.File == nil {
		return nil
	}
	var out []Diagnostic
	seen := map[string]bool{}
	for _, a := range analyzers {
		pass := &Pass{Analyzer: a, Fset: l.Fset, File: res.File, Target: res.Target, Vars: res.Vars, Loader: l}
		pass.Report = func(d Diagnostic) {
			d.Category = cmp.Or(d.Category, a.ID)
			d.Name = cmp.Or(d.Name, a.Name)
			d.Severity = cmp.Or(d.Severity, a.Severity)
			key := fmt.Sprintf("%d %s %s", d.Pos, d.Category, d.Message)
			if !seen[key] {
				seen[key] = true
				out = append(out, d)
			}
		}
		a.Run(pass)
	}
	slices.SortStableFunc(out, func(a, b Diagnostic) int { return cmp.Compare(a.Pos, b.Pos) })
	return out
}

// rules are the rules of f, with the profile that holds them (nil at
// file level) and their effective qualifiers. Rules of included files are
// not visited: a finding belongs to the file that has the rule, and
// abstractions are linted on their own.
func rules(f *policy.File) func(func(policy.ScopedRule) bool) {
	return policy.Rules(f.Rules, nil, nil)
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

// reportSeverity reports a finding on n whose severity comes from the
// sensitive table rather than from the analyzer.
func reportSeverity(p *Pass, n policy.Node, sev Severity, format string, args ...any) {
	p.Report(Diagnostic{Pos: n.Pos(), End: n.End(), Severity: sev, Message: fmt.Sprintf(format, args...)})
}
