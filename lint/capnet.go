package lint

import (
	"strings"

	"github.com/armorer-dev/armorer/policy"
)

var dangerousCapability = &Analyzer{
	ID: "L005", Name: "dangerous-capability", Severity: SeverityHigh,
	Doc: `Some capabilities amount to root over the whole machine (sys_admin, sys_module, sys_rawio,
dac_override, …): a process holding them can leave its profile in many ways. "capability,"
grants all of them. Grant them only with a documented reason.`,
	Run: func(p *Pass) {
		for ri := range rules(p.File) {
			cr, ok := ri.Rule.(*policy.CapabilityRule)
			if !ok || ri.Qual.Deny {
				continue
			}
			if len(cr.Names) == 0 {
				p.ReportRangef(cr, "`capability,` grants every capability, sys_admin and sys_module included; list the ones needed")
				continue
			}
			for _, n := range cr.Names {
				if sc, ok := Capability(n.Value()); ok {
					reportSeverity(p, n, sc.Severity, "capability %s: %s", sc.Name, sc.Why)
				}
			}
		}
	},
}

var dangerousNetwork = &Analyzer{
	ID: "L006", Name: "dangerous-network", Severity: SeverityHigh,
	Doc: `Raw and packet sockets let a program forge and sniff traffic below TCP/UDP. "network,"
grants them along with everything else. Name the families and types the program uses
(network inet stream,).`,
	Run: func(p *Pass) {
		for ri := range rules(p.File) {
			nr, ok := ri.Rule.(*policy.NetworkRule)
			if !ok || ri.Qual.Deny {
				continue
			}
			family, typ := "", ""
			if nr.Family != nil {
				family = nr.Family.Value()
			}
			switch {
			case nr.Type != nil:
				typ = nr.Type.Value()
			case nr.Protocol != nil:
				typ = nr.Protocol.Value() // "network inet icmp," is a raw socket
			}
			if sn, ok := Network(family, typ); ok {
				what := strings.TrimSpace(strings.Join([]string{family, typ}, " "))
				if what == "" {
					what = "every family and type"
				}
				reportSeverity(p, nr, sn.Severity, "network %s includes %s %s sockets: %s", what, orAny(sn.Family), orAny(sn.Type), sn.Why)
			}
		}
	},
}

func orAny(s string) string {
	if s == "" {
		return "any"
	}
	return s
}
