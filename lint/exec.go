package lint

import (
	"fmt"
	"strings"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

var writeExec = &Analyzer{
	ID: "L002", Name: "write-exec", Severity: SeverityHigh,
	Doc: `A path the profile lets the program both write (w, a) and map executable or execute (m, x)
lets an attacker who controls the program drop code and run it: the classic escape from a
profile. Keep code and data in different paths.`,
	Run: func(p *Pass) {
		type grant struct {
			rule *policy.FileRule
			pats []*aare.Pattern
		}
		writable := map[*policy.Profile][]grant{}
		runnable := map[*policy.Profile][]grant{}
		for ri := range rules(p.File) {
			fr, ok := ri.Rule.(*policy.FileRule)
			if !ok || fr.Path == nil || fr.Perms == nil || ri.Qual.Deny {
				continue
			}
			perm, mode, err := aare.ParsePerms(fr.Perms.Value())
			if err != nil {
				continue
			}
			// Only content writes count: l (link) and k (lock) write no code.
			var a aare.Perm
			if perm&(aare.PermWrite|aare.PermAppend) != 0 {
				a |= WritePerms
			}
			if perm&(aare.PermMmap|aare.PermExec) != 0 || mode.Kind != aare.ExecNone {
				a |= ExecPerms // mapping executable is running code
			}
			g := grant{fr, compile(p, fr.Path)}
			if a&(WritePerms|ExecPerms) == WritePerms|ExecPerms {
				p.ReportRangef(fr, "%s %s is both writable and executable (w + m/x): code written there can be run", fr.Path.Raw, fr.Perms.Raw)
				continue
			}
			// A rule completes the pair when an earlier rule's pattern
			// covers its own, or its pattern covers the earlier one's.
			var others []grant
			switch {
			case a&WritePerms != 0:
				others = runnable[ri.Profile]
				writable[ri.Profile] = append(writable[ri.Profile], g)
			case a&ExecPerms != 0:
				others = writable[ri.Profile]
				runnable[ri.Profile] = append(runnable[ri.Profile], g)
			default:
				continue
			}
			if o, path, ok := overlapping(g.pats, others, func(o grant) []*aare.Pattern { return o.pats }); ok {
				p.ReportRangef(fr, "%s %s and %s %s make the same files writable and executable (w + m/x, e.g. %s): code written there can be run",
					o.rule.Path.Raw, o.rule.Perms.Raw, fr.Path.Raw, fr.Perms.Raw, path)
			}
		}
	},
}

// overlapping returns the first of others whose patterns share a path
// with one of pats, and such a path (decided on automata; unknown counts
// as no): /srv/a* w and /srv/*.so m share /srv/a.so though neither covers
// the other.
func overlapping[T any](pats []*aare.Pattern, others []T, patsOf func(T) []*aare.Pattern) (T, string, bool) {
	for _, o := range others {
		for _, a := range patsOf(o) {
			for _, b := range pats {
				if path, r := aare.Intersect(a, b, nil); r == aare.Yes {
					return o, path, true
				}
			}
		}
	}
	var zero T
	return zero, "", false
}

var unconfinedExec = &Analyzer{
	ID: "L003", Name: "unconfined-exec", Severity: SeverityHigh,
	Doc: `ux, Ux, and the unconfined fallbacks pux, PUx, cux and CUx run the target without any
profile: everything the program starts escapes confinement. Use Px with a profile for the
target, Cx with a child profile, or ix.`,
	Run: func(p *Pass) {
		forExec(p, func(fr *policy.FileRule, mode aare.ExecMode) {
			switch {
			case mode.Kind == aare.ExecUnconfined:
				p.ReportRangef(fr, "%s %s runs %s unconfined; use Px, Cx or ix", fr.Path.Raw, fr.Perms.Raw, fr.Path.Raw)
			case mode.Fallback == aare.ExecUnconfined:
				p.ReportRangef(fr, "%s %s falls back to unconfined when no profile matches; drop the U fallback", fr.Path.Raw, fr.Perms.Raw)
			}
		})
	},
}

var execNoScrub = &Analyzer{
	ID: "L004", Name: "exec-no-scrub", Severity: SeverityMedium,
	Doc: `Lower-case px and cx (and pix, cix) change profile without scrubbing the environment: the
kernel does not set AT_SECURE, so LD_PRELOAD, LD_LIBRARY_PATH and friends reach the target
and can make it load attacker code. Use Px or Cx unless the target needs that environment.`,
	Run: func(p *Pass) {
		forExec(p, func(fr *policy.FileRule, mode aare.ExecMode) {
			if (mode.Kind == aare.ExecProfile || mode.Kind == aare.ExecChild) && !mode.Clean {
				upper := strings.NewReplacer("p", "P", "c", "C").Replace(fr.Perms.Raw)
				p.Report(Diagnostic{Pos: fr.Pos(), End: fr.End(),
					Message: fmt.Sprintf("%s %s changes profile without scrubbing the environment (LD_PRELOAD passes); use the upper-case form", fr.Path.Raw, fr.Perms.Raw),
					SuggestedFixes: []SuggestedFix{{Message: "scrub the environment: " + upper,
						TextEdits: []policy.TextEdit{{Pos: fr.Perms.Pos(), End: fr.Perms.End(), NewText: []byte(upper)}}}}})
			}
		})
	},
}

// forExec calls fn for every allow file rule with an exec permission.
func forExec(p *Pass, fn func(*policy.FileRule, aare.ExecMode)) {
	for ri := range rules(p.File) {
		fr, ok := ri.Rule.(*policy.FileRule)
		if !ok || fr.Path == nil || fr.Perms == nil || ri.Qual.Deny {
			continue
		}
		if _, mode, err := aare.ParsePerms(fr.Perms.Value()); err == nil && mode.Kind != aare.ExecNone {
			fn(fr, mode)
		}
	}
}
