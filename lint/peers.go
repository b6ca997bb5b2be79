package lint

import "github.com/armorer-dev/armorer/policy"

var unconfinedPeer = &Check{
	ID: "L009", Name: "unconfined-peer", Severity: SeverityMedium,
	Doc: `ptrace and signal rules without a peer (or with peer=unconfined) reach every process,
unconfined ones included: tracing one is full control over it, and signals can stop or
kill services. Name the peer profile (peer=myapp).`,
	Run: func(p *Pass) {
		for _, ri := range rules(p.File) {
			if qualOf(ri).Deny {
				continue
			}
			var (
				kind  string
				conds []*policy.Cond
				acc   *policy.List
			)
			switch r := ri.rule.(type) {
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
				p.Reportf(ri.rule.Pos(), "%s without peer= reaches every process, unconfined ones included; add peer=PROFILE", kind)
			case peer.Value != nil && peer.Value.Has("unconfined"):
				p.Reportf(ri.rule.Pos(), "%s to peer=unconfined reaches every unconfined process", kind)
			}
		}
	},
}

var denyWithoutAudit = &Check{
	ID: "L010", Name: "deny-without-audit", Severity: SeverityLow,
	Doc: `An explicit deny rule silences the denial: the kernel neither logs nor counts it, so
armorer's metrics and events never show it. Write "audit deny" unless the denial is
known noise.`,
	Run: func(p *Pass) {
		for _, ri := range rules(p.File) {
			if q := qualOf(ri); q.Deny && !q.Audit {
				p.Reportf(ri.rule.Pos(), "deny without audit: these denials are never logged; write `audit deny` unless they are known noise")
			}
		}
	},
}
