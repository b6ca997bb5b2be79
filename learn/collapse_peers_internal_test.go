package learn

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/armorer-dev/armorer/host"
)

func TestDigitRuns(t *testing.T) {
	for _, tc := range []struct {
		in, skel string
		runs     []string
	}{
		{"@cups-1465", "@cups-\x01", []string{"1465"}},
		{`@a\x0ab12`, `@a\x0ab` + "\x01", []string{"12"}},    // an escape is text
		{"/job/[0-9]*/7", "/job/[0-9]*/\x01", []string{"7"}}, // so is a bracket
		{"app//w-1-22", "app//w-\x01-\x01", []string{"1", "22"}},
		{"{a1,b2}x3", "{a1,b2}x\x01", []string{"3"}}, // an alternation is text
		{"plain", "plain", nil},
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

// TestUnixPeerRuleNoLocal: abstractions/base's `unix peer=(label=…),`
// allows talking to a peer, not binding an address: a bind it "covered"
// was reported as already allowed, and learned nothing.
func TestUnixPeerRuleNoLocal(t *testing.T) {
	d := t.TempDir()
	prof := "profile app {\n  unix peer=(label=@{profile_name}),\n}\n"
	if err := os.WriteFile(filepath.Join(d, "app"), []byte(prof), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := host.LoadProfileSet(d)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ProfileCoverage(set, "app")
	if err != nil {
		t.Fatal(err)
	}
	bind := rule{Class: ClassUnix, SockType: "dgram", Addr: "@cups-4097", Mask: []string{"bind"}}
	send := rule{Class: ClassUnix, SockType: "stream", PeerAddr: "@x", Mask: []string{"send"}}
	if c.coversRule(bind) {
		t.Errorf("%s covers %s", ruleText(c.others[0]), bind)
	}
	if !c.coversRule(send) {
		t.Errorf("%s does not cover %s", ruleText(c.others[0]), send)
	}
}
