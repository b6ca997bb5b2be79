package lint

import "github.com/armorer-dev/armorer/policy"

var unconfinedPeer = &Analyzer{
	ID: "L009", Name: "unconfined-peer", Severity: SeverityMedium,
	Doc: `ptrace and signal rules without a peer (or with peer=unconfined) reach every process,
unconfined ones included: tracing one is full control over it, and signals can stop or
kill services. Name the peer profile (peer=myapp).`,
	Run: func(p *Pass) {
		for ri := range rules(p.File) {
			if ri.Qual.Deny {
				continue
			}
			var (
				kind  string
				conds []*policy.Cond
				acc   *policy.List
			)
			switch r := ri.Rule.(type) {
			case *policy.PtraceRule:
				kind, conds, acc = "ptrace", r.Conds, r.Access
				if acc != nil && !acc.Has("trace") && !acc.Has("tracedby") && !acc.Has("read") && !acc.Has("readby") {
					continue
				}
			case *policy.SignalRule:
				kind, conds, acc = "signal", r.Conds, r.Access
				if acc != nil && !acc.Has("send") {
					continue // receiving is not a risk to others
				}
			default:
				continue
			}
			peer := policy.FindCond(conds, "peer")
			switch {
			case peer == nil:
				p.ReportRangef(ri.Rule, "%s without peer= reaches every process, unconfined ones included; add peer=PROFILE", kind)
			case peer.Value != nil && peer.Value.Has("unconfined"):
				p.ReportRangef(ri.Rule, "%s to peer=unconfined reaches every unconfined process", kind)
			}
		}
	},
}

var denyWithoutAudit = &Analyzer{
	ID: "L010", Name: "deny-without-audit", Severity: SeverityLow,
	Doc: `An explicit deny rule silences the denial: the kernel neither logs nor counts it, so
armorer's metrics and events never show it. Write "audit deny" unless the denial is
known noise.`,
	Run: func(p *Pass) {
		for ri := range rules(p.File) {
			q := ri.Qual
			if !q.Deny || q.Audit {
				continue
			}
			d := Diagnostic{Pos: ri.Rule.Pos(), End: ri.Rule.End(),
				Message: "deny without audit: these denials are never logged; write `audit deny` unless they are known noise"}
			// The deny is written on the rule, or on the block around it.
			var on policy.Qualified
			if own, ok := ri.Rule.(policy.Qualified); ok && own.Qualifiers().Deny {
				on = own
			} else if ri.Block != nil && ri.Block.Qual.Deny {
				on = ri.Block
			}
			if on != nil {
				d.SuggestedFixes = []SuggestedFix{{Message: "audit the denials", TextEdits: []policy.TextEdit{addAudit(on)}}}
			}
			p.Report(d)
		}
	},
}

// addAudit is the edit that writes "audit" on a rule or block: before
// deny, after priority=N when it has one.
func addAudit(r policy.Qualified) policy.TextEdit {
	if pr := r.Qualifiers().Priority; pr != nil {
		return policy.TextEdit{Pos: pr.End(), End: pr.End(), NewText: []byte(" audit")}
	}
	return policy.TextEdit{Pos: r.Pos(), End: r.Pos(), NewText: []byte("audit ")}
}
