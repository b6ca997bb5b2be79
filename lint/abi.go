package lint

import (
	"go/token"

	"github.com/armorer-dev/armorer/policy"
)

var missingABI = &Check{
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
		if first != nil {
			p.Reportf(first.Pos(), "the file has no abi line: network and newer rule classes are not mediated; add `abi <abi/3.0>,`")
		}
	},
}

var newerThanABI = &Check{
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
			p.Reportf(pos, "the file declares abi %s, under which the kernel ignores this: %s", declared, d.Message)
		}
	},
}
