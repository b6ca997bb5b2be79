package learn

import (
	"slices"
	"testing"
)

func TestDigitRuns(t *testing.T) {
	for _, tc := range []struct {
		in, skel string
		runs     []string
	}{
		{"@cups-1465", "@cups-\x00", []string{"1465"}},
		{`@a\x0ab12`, `@a\x0ab` + "\x00", []string{"12"}},    // an escape is text
		{"/job/[0-9]*/7", "/job/[0-9]*/\x00", []string{"7"}}, // so is a bracket
		{"app//w-1-22", "app//w-\x00-\x00", []string{"1", "22"}},
		{"plain", "", nil},
	} {
		skel, runs, ok := digitRuns(tc.in)
		if skel != tc.skel || !slices.Equal(runs, tc.runs) || ok != (tc.runs != nil) {
			t.Errorf("digitRuns(%q) = %q, %q, %v; want %q, %q", tc.in, skel, runs, ok, tc.skel, tc.runs)
		}
	}
}

func TestRuleCoversRule(t *testing.T) {
	u := func(addr string, mask ...string) rule {
		return rule{Class: ClassUnix, SockType: "dgram", Addr: addr, Mask: mask, escaped: true}
	}
	for _, tc := range []struct {
		x, r rule
		want bool
	}{
		{u("@cups-[0-9]*", "bind", "listen"), u("@cups-[0-9]*", "bind"), true},
		{u("@cups-[0-9]*", "bind"), u("@cups-[0-9]*", "bind", "listen"), false},
		{u("@cups-[0-9]*", "bind"), u("@cups-12", "bind"), true},
		{u("@cups-12", "bind"), u("@cups-[0-9]*", "bind"), false},
		{u("", "bind"), u("@x", "bind"), true},
		{u("@x", "bind"), u("", "bind"), false},
		{rule{Class: ClassSignal, Peer: "a//w-[0-9]*", Mask: []string{"send"}, Signals: []string{"hup"}, escaped: true},
			rule{Class: ClassSignal, Peer: "a/w-1", Mask: []string{"send"}, Signals: []string{"hup"}, escaped: true}, false},
	} {
		if got := ruleCoversRule(&tc.x, &tc.r); got != tc.want {
			t.Errorf("%s covers %s = %v, want %v", tc.x, tc.r, got, tc.want)
		}
	}
}
