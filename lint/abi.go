package lint

import (
	"fmt"
	"go/token"

	"github.com/armorer-dev/armorer/policy"
)

var missingABI = &Analyzer{
	ID: "L001", Name: "missing-abi", Severity: SeverityMedium,
	Doc: `A profile file without an "abi <abi/3.0>," line is compiled for the oldest ABI: the kernel then
neither mediates nor logs network access (and other newer classes), so complain mode records
nothing for them and enforce mode does not restrict them. Add an abi line.`,
	Run: func(p *Pass) {
		var first *policy.Profile
		for _, r := range p.File.Rules {
			switch r := r.(type) {
			case *policy.Abi:
				return
			case *policy.Profile:
				if first == nil {
					first = r
				}
			}
		}
		if first == nil {
			return
		}
		abi := "abi <abi/3.0>,"
		if !p.Target.Before(policy.V4_1) {
			abi = "abi <abi/4.0>,"
		}
		d := Diagnostic{Pos: first.Pos(), End: first.Name.End(),
			Message: "the file has no abi line: network and newer rule classes are not mediated; add `" + abi + "`"}
		// The abi line goes first, after the file's leading comments.
		for _, r := range p.File.Rules {
			if _, ok := r.(*policy.CommentBlock); ok {
				continue
			}
			tf := p.Fset.File(r.Pos())
			at := tf.LineStart(tf.Line(r.Pos()))
			d.SuggestedFixes = []SuggestedFix{{Message: "add `" + abi + "`", TextEdits: []policy.TextEdit{{Pos: at, End: at, NewText: []byte(abi + "\n\n")}}}}
			break
		}
		p.Report(d)
	},
}

var newerThanABI = &Analyzer{
	ID: "L011", Name: "newer-than-abi", Severity: SeverityMedium,
	Doc: `A rule the file's declared ABI cannot express (a 4.x rule under "abi <abi/3.0>") compiles
with a newer parser, but the kernel is told to use the old ABI and does not mediate it. Raise
the abi line, or drop the rule.`,
	Run: func(p *Pass) {
		declared, ok := policy.TargetOf(p.File)
		if !ok || !declared.Before(p.Target) {
			return
		}
		res := policy.Check(p.Loader, p.File, policy.CheckConfig{Target: declared})
		for _, d := range res.Diagnostics {
			if d.Category != "version" || d.Pos.Filename != p.Fset.Position(p.File.Pos()).Filename {
				continue
			}
			pos := p.Fset.File(p.File.Pos()).LineStart(d.Pos.Line) + token.Pos(max(d.Pos.Column-1, 0))
			end := token.NoPos // the end of the rule at fault
			for ri := range rules(p.File) {
				if r := ri.Rule; r.Pos() <= pos && pos < r.End() {
					end = r.End()
				}
			}
			p.Report(Diagnostic{Pos: pos, End: end, Message: fmt.Sprintf("the file declares abi %s, under which the kernel ignores this: %s", declared, d.Message)})
		}
	},
}
