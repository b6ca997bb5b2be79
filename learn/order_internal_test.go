package learn

import (
	"strings"
	"testing"
)

// otherRulesOf orders rules of different classes by ruleKeyword: each
// rule's text starts with it (then a space or the comma), and no keyword
// is a prefix of another, so that is the order of their texts.
func TestRuleKeywordStartsText(t *testing.T) {
	rules := []rule{
		{Class: ClassCapability, Capability: "chown"},
		{Class: ClassNetwork},
		{Class: ClassNetwork, Family: "inet", SockType: "stream"},
		{Class: ClassUnix},
		{Class: ClassUnix, Mask: []string{"bind"}, SockType: "dgram", Addr: "@x"},
		{Class: ClassSignal, Peer: "p"},
		{Class: ClassPtrace},
		{Class: ClassDBus, Bus: "session", PeerName: "org.x"},
		{Class: ClassMount, FSType: "tmpfs", Path: "/mnt"},
		{Class: ClassUmount, Path: "/mnt"},
		{Class: ClassPivotRoot, Path: "/new"},
		{Class: ClassChangeProfile, Target: "other"},
		{Class: ClassUserns},
		{Class: ClassIOUring, Peer: "x"},
		{Class: ClassMqueue, Path: "/q"},
	}
	var kws []string
	for _, r := range rules {
		kw := ruleKeyword(r.Class)
		text := r.String()
		if kw == "" || !strings.HasPrefix(text, kw+" ") && !strings.HasPrefix(text, kw+",") {
			t.Errorf("%s rule %q does not start with keyword %q", r.Class, text, kw)
		}
		kws = append(kws, kw)
	}
	for _, a := range kws {
		for _, b := range kws {
			if a != b && strings.HasPrefix(b, a) {
				t.Errorf("keyword %q is a prefix of %q", a, b)
			}
		}
	}
}

// otherRulesOf's order is the order of the rules' texts without their
// masks and signals.
func TestOtherRulesOfTextOrder(t *testing.T) {
	others := map[otherKey]*otherAcc{}
	for _, r := range []rule{
		{Class: ClassUnix, SockType: "stream"},
		{Class: ClassCapability, Capability: "sys_ptrace"},
		{Class: ClassCapability, Capability: "chown"},
		{Class: ClassMqueue, Path: "/q"},
		{Class: ClassMount, Path: "/m"},
		{Class: ClassDBus, Bus: "system"},
		{Class: ClassDBus, Bus: "session"},
		{Class: ClassNetwork, Family: "inet"},
		{Class: ClassNetwork},
		{Class: ClassSignal, Peer: "b"},
		{Class: ClassChangeProfile, Target: "t"},
	} {
		others[keyOf(&r)] = &otherAcc{rule: r, mask: []string{"zz"}}
	}
	got := (&Learner{}).otherRulesOf(others)
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		a.Mask, b.Mask = nil, nil
		if a.String() >= b.String() {
			t.Errorf("%q before %q", a.String(), b.String())
		}
	}
	if len(got) != len(others) || len(got[0].Mask) != 1 {
		t.Errorf("rules %v", got)
	}
}
