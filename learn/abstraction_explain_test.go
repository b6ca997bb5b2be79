package learn_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/learn"
)

// nameserviceLines: a program resolving names (the files
// abstractions/nameservice allows) and connecting over TCP.
var nameserviceLines = []string{
	`apparmor="ALLOWED" operation="open" profile="app" name="/etc/hosts" pid=1 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
	`apparmor="ALLOWED" operation="open" profile="app" name="/etc/host.conf" pid=1 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
	`apparmor="ALLOWED" operation="open" profile="app" name="/etc/nsswitch.conf" pid=1 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
	`apparmor="ALLOWED" operation="open" profile="app" name="/etc/resolv.conf" pid=1 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
	`apparmor="ALLOWED" operation="connect" profile="app" pid=1 comm="app" family="inet" sock_type="stream" protocol=6 requested_mask="send receive connect" denied_mask="send receive connect"`,
}

// TestAbstractionExplained: no access is granted invisibly (issue 14 §3).
// An included abstraction says under --explain which observed accesses it
// covers and what else it grants; observed network use stays an explicit
// rule though the abstraction grants it too.
func TestAbstractionExplained(t *testing.T) {
	res, dir := sessionWith(t, "3.0", func(o *learn.SessionOptions) { o.Merge.Explain = true }, nameserviceLines...)
	accounted(t, res)
	validProfiles(t, res, dir, "3.0", true)
	text := changeText(res)
	for _, want := range []string{
		"include <abstractions/nameservice>",
		"/etc/hosts r", // among the accesses it covers
		"also grants: ",
		"network inet6 dgram", // granted, never observed
		"\n  network inet stream,\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("want %q in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\n  /etc/hosts r,") {
		t.Errorf("a rule for what the include covers:\n%s", text)
	}
}

// TestNetworkKeptBesideInclude: a profile that already includes
// nameservice still gets an explicit rule for the network use observed.
func TestNetworkKeptBesideInclude(t *testing.T) {
	prof := "abi <abi/3.0>,\n\ninclude <tunables/global>\n\nprofile app {\n  include <abstractions/base>\n  include <abstractions/nameservice>\n}\n"
	res, _ := sessionWith(t, "3.0", func(o *learn.SessionOptions) {
		if err := os.WriteFile(filepath.Join(o.Dir, "app"), []byte(prof), 0o644); err != nil {
			t.Fatal(err)
		}
	}, nameserviceLines...)
	accounted(t, res)
	text := changeText(res)
	if !strings.Contains(text, "network inet stream,") {
		t.Errorf("observed network use left to the include:\n%s\n%s", text, res.Accounting)
	}
	if strings.Contains(text, "/etc/hosts") {
		t.Errorf("a file rule the include already allows:\n%s", text)
	}
}
