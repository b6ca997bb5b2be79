package learn_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/internal/oracle"
	"github.com/armorer-dev/armorer/learn"
)

// peerLines are kernel records (the formats of auditlog/testdata and
// ../shared/bench/gen_aalog.py) whose non-file names vary in a digit run:
// a daemon binding one abstract socket per pid, numbered dbus objects,
// numbered queues, signals and ptrace to numbered child profiles.
func peerLines() []string {
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	for _, pid := range []int{1465, 2210, 30311, 4097, 51234, 688} {
		add(`apparmor="ALLOWED" operation="bind" class="net" profile="app" pid=%d comm="app" family="unix" sock_type="dgram" protocol=0 requested="bind" denied="bind" addr="@cups-%d"`, pid, pid)
	}
	// Other pids also listen: that rule covers the bind-only one.
	for _, pid := range []int{712, 8080, 9123, 10555} {
		add(`apparmor="ALLOWED" operation="bind" class="net" profile="app" pid=%d comm="app" family="unix" sock_type="dgram" protocol=0 requested="bind" denied="bind" addr="@cups-%d"`, pid, pid)
		add(`apparmor="ALLOWED" operation="listen" class="net" profile="app" pid=%d comm="app" family="unix" sock_type="dgram" protocol=0 requested="listen" denied="listen" addr="@cups-%d"`, pid, pid)
	}
	for _, job := range []int{1201, 1202, 1250, 1311, 1400} {
		add(`apparmor="ALLOWED" operation="dbus_method_call"  bus="system" path="/org/freedesktop/systemd1/job/%d" interface="org.freedesktop.systemd1.Job" member="Cancel" mask="send" name="org.freedesktop.systemd1" pid=4246 label="app" peer_pid=1 peer_label="unconfined"`, job)
	}
	for q := range 6 {
		add(`apparmor="ALLOWED" operation="open" class="posix_mqueue" profile="app" name="/app-q%d" pid=10003 comm="app" requested="open read" denied="open read" fsuid=0 ouid=0`, q)
		add(`apparmor="ALLOWED" operation="msgget" class="sysv_mqueue" profile="app" pid=1 comm="app" requested="create" denied="create" name="%d"`, 5000+q)
	}
	for w := 1; w <= 5; w++ {
		for _, sig := range []string{"term", "hup"} {
			add(`apparmor="ALLOWED" operation="signal" class="signal" profile="app" pid=8006 comm="app" requested_mask="send" denied_mask="send" signal=%s peer="app//worker-%d"`, sig, w)
		}
		add(`apparmor="ALLOWED" operation="ptrace" class="ptrace" profile="app" pid=8007 comm="app" requested_mask="read" denied_mask="read" peer="app//worker-%d"`, w)
		// Tracing other programs is sensitive: each stays a finding.
		add(`apparmor="ALLOWED" operation="ptrace" class="ptrace" profile="app" pid=8007 comm="app" requested_mask="trace" denied_mask="trace" peer="other-%d"`, w)
	}
	// Covered by the collapsed signal rule (hup is in its set).
	add(`apparmor="ALLOWED" operation="signal" class="signal" profile="app" pid=8006 comm="app" requested_mask="send" denied_mask="send" signal=hup peer="app//worker-17"`)
	// Below the threshold: stays literal.
	for h := 1; h <= 3; h++ {
		add(`apparmor="ALLOWED" operation="signal" class="signal" profile="app" pid=8006 comm="app" requested_mask="send" denied_mask="send" signal=usr1 peer="app//helper-%d"`, h)
	}
	return lines
}

// TestCollapsePeers: names that vary in a digit run collapse to [0-9]*
// once --siblings of them vary, for unix addresses, dbus object paths,
// mqueue names, signal and ptrace peers (issue 14 §3); what another
// learned rule covers is dropped; sensitive ones stay apart; and every
// learned profile passes policy.Check and both real parsers.
func TestCollapsePeers(t *testing.T) {
	v41, _ := oracle.Find(context.Background(), "4.1")
	siblings := func(o *learn.SessionOptions) {
		o.Options.Siblings = 0 // the default, 4
		o.Merge.Explain = true
	}
	for _, abi := range []string{"3.0", "4.0"} {
		t.Run(abi, func(t *testing.T) {
			res, dir := sessionWith(t, abi, siblings, peerLines()...)
			accounted(t, res)
			validProfiles(t, res, dir, abi, abi == "3.0" || v41 != nil)
			text := changeText(res)
			want := []string{
				"unix (bind, listen) type=dgram addr=@cups-[0-9]*,",
				"dbus send bus=system path=/org/freedesktop/systemd1/job/[0-9]* interface=org.freedesktop.systemd1.Job member=Cancel peer=(name=org.freedesktop.systemd1),",
				"signal send set=(hup, term) peer=app//worker-[0-9]*,",
				"ptrace read peer=app//worker-[0-9]*,",
				"signal send set=(usr1) peer=app//helper-1,",
			}
			if abi == "4.0" {
				want = append(want, "mqueue (open, read) /app-q[0-9]*,", "mqueue create type=sysv,")
			}
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("want %q in:\n%s", w, text)
				}
			}
			// --explain says which names a pattern replaced.
			for _, w := range []string{"# glob (digit run) replaces @cups-10555, @cups-1465, @cups-2210,", "# glob (digit run) replaces app//worker-1, app//worker-17,"} {
				if !strings.Contains(text, w) {
					t.Errorf("want %q in:\n%s", w, text)
				}
			}
			if abi == "4.0" && !strings.Contains(text, "# glob (any System V key) replaces 5000, 5001,") {
				t.Errorf("the sysv rule does not say which keys it replaced:\n%s", text)
			}
			var ruleLines strings.Builder // without the --explain comments
			for l := range strings.Lines(text) {
				if !strings.HasPrefix(strings.TrimSpace(l), "#") {
					ruleLines.WriteString(l)
				}
			}
			for _, bad := range []string{"@cups-1465", "job/1201", "worker-3", "worker-17", "other-[0-9]*", "/app-q3", "sysv 5001"} {
				if strings.Contains(ruleLines.String(), bad) {
					t.Errorf("%q was not collapsed (or dropped):\n%s", bad, text)
				}
			}
			if n := strings.Count(text, "\n  unix "); n != 1 {
				t.Errorf("%d unix rules, want 1:\n%s", n, text)
			}
			traces := 0
			for _, f := range res.Findings {
				if f.ID == "ptrace" {
					traces++
				}
				if abi == "3.0" && f.ID == "abi" && strings.Contains(f.String(), "/app-q3") {
					t.Errorf("mqueue names not collapsed in the abi finding: %s", f)
				}
			}
			if traces != 5 {
				t.Errorf("%d ptrace findings, want one per traced program (5): %v", traces, res.Findings)
			}
		})
	}
}

// TestCollapsePeersOff: --siblings 0 (Siblings < 0) keeps every name.
func TestCollapsePeersOff(t *testing.T) {
	res, _ := sessionOver(t, "3.0", peerLines()...)
	text := changeText(res)
	if strings.Contains(text, "[0-9]*") {
		t.Errorf("collapsed with siblings off:\n%s", text)
	}
	if n := strings.Count(text, "\n  unix "); n != 10 {
		t.Errorf("%d unix rules, want one per address (10):\n%s", n, text)
	}
}

// TestCollapsePeersProperty: numbered names of every byte value, in
// groups above the threshold, collapse into rules policy.Check and both
// real parsers accept, and every event is accounted for.
func TestCollapsePeersProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 3))
	word := func() string {
		var b []byte
		for range 1 + rng.IntN(5) {
			c := byte(rng.IntN(256))
			if c == '/' || c == 0 {
				c = 'x'
			}
			b = append(b, c)
		}
		return string(b)
	}
	hex := func(s string) string { return fmt.Sprintf("%X", s) }
	families := []func(stem string, n int) string{
		func(stem string, n int) string {
			return `apparmor="ALLOWED" operation="bind" class="net" profile="app" pid=1 comm="app" family="unix" sock_type="dgram" protocol=0 requested="bind" denied="bind" addr=` + hex(fmt.Sprintf("@%s%d", stem, n))
		},
		func(stem string, n int) string {
			// dbus-daemon quotes its values, never hex: an object path
			// has only [A-Za-z0-9_/].
			path := strings.Map(func(r rune) rune {
				if r < 'A' || r > 'z' || r > 'Z' && r < 'a' {
					return '_'
				}
				return r
			}, stem)
			return `apparmor="ALLOWED" operation="dbus_method_call" bus="system" path="/org/x/` + fmt.Sprintf("%s%d", path, n) + `" interface="org.x.Y" member="M" mask="send" name="org.x" pid=1 label="app" peer_label="unconfined"`
		},
		func(stem string, n int) string {
			return `apparmor="ALLOWED" operation="signal" profile="app" pid=1 comm="app" requested_mask="send" denied_mask="send" signal=hup peer=` + hex(fmt.Sprintf("app//%s%d", stem, n))
		},
		func(stem string, n int) string {
			return `apparmor="ALLOWED" operation="open" class="posix_mqueue" profile="app" name=` + hex(fmt.Sprintf("/%s%d", stem, n)) + ` pid=1 comm="app" requested="open read" denied="open read"`
		},
	}
	v41, _ := oracle.Find(context.Background(), "4.1")
	for i := range 8 {
		abi := []string{"3.0", "4.0"}[i%2]
		var lines []string
		for range 3 {
			fam, stem := families[rng.IntN(len(families))], word()
			for range 4 + rng.IntN(3) {
				lines = append(lines, fam(stem, rng.IntN(100000)))
			}
		}
		t.Run(fmt.Sprint(i, "/", abi), func(t *testing.T) {
			res, dir := sessionWith(t, abi, func(o *learn.SessionOptions) { o.Options.Siblings = 0 }, lines...)
			accounted(t, res)
			validProfiles(t, res, dir, abi, abi == "3.0" || v41 != nil)
			for _, f := range res.Findings {
				if f.ID == "invalid-rule" {
					t.Errorf("learn built a rule its checker rejects: %s", f)
				}
			}
			all := changeText(res)
			for _, f := range res.Findings {
				all += f.String() + "\n" // mqueue at abi 3.0: a finding
			}
			if !strings.Contains(all, "[0-9]*") {
				t.Errorf("nothing collapsed:\n%s", changeText(res))
			}
			if t.Failed() {
				t.Logf("events:\n%s", strings.Join(lines, "\n"))
			}
		})
	}
}

// TestCollapsePeersAcrossTypes: the threshold counts the names, whatever
// the socket type: six pids of one daemon over three types are one
// pattern, written once per type.
func TestCollapsePeersAcrossTypes(t *testing.T) {
	var lines []string
	for i, st := range []string{"stream", "dgram", "seqpacket", "stream", "dgram", "seqpacket"} {
		lines = append(lines, fmt.Sprintf(`apparmor="ALLOWED" operation="bind" profile="docker-default" pid=%d comm="dockerd" family="unix" sock_type="%s" protocol=0 requested_mask="bind" denied_mask="bind" addr="@docker-%d"`, 100+i, st, 12849+i*7))
	}
	res, dir := sessionWith(t, "3.0", func(o *learn.SessionOptions) { o.Options.Siblings = 0 }, lines...)
	accounted(t, res)
	validProfiles(t, res, dir, "3.0", true)
	text := changeText(res)
	for _, st := range []string{"stream", "dgram", "seqpacket"} {
		if want := "unix bind type=" + st + " addr=@docker-[0-9]*,"; !strings.Contains(text, want) {
			t.Errorf("want %q in:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "\n  unix "); n != 3 {
		t.Errorf("%d unix rules, want 3:\n%s", n, text)
	}
}

// TestCollapsePeersWithExisting: new names are generalised together with
// the profile's own literal rules (issue 14 §3): three addresses already
// in the profile and two new ones are five siblings, and learn adds one
// pattern rather than two more literals, which replaces the three.
// Abstractions do not count.
func TestCollapsePeersWithExisting(t *testing.T) {
	prof := "abi <abi/3.0>,\n\ninclude <tunables/global>\n\nprofile app {\n  include <abstractions/base>\n" +
		"  unix bind type=dgram addr=@cups-1465,\n  unix bind type=dgram addr=@cups-2210,\n  unix bind type=dgram addr=@cups-30311,\n" +
		"  signal send set=(term) peer=app//worker-1,\n}\n"
	var lines []string
	for _, pid := range []int{4097, 51234} {
		lines = append(lines, fmt.Sprintf(`apparmor="ALLOWED" operation="bind" class="net" profile="app" pid=%d comm="app" family="unix" sock_type="dgram" protocol=0 requested="bind" denied="bind" addr="@cups-%d"`, pid, pid))
	}
	// One existing worker and two new ones: three, below the threshold.
	for w := 2; w <= 3; w++ {
		lines = append(lines, fmt.Sprintf(`apparmor="ALLOWED" operation="signal" class="signal" profile="app" pid=8006 comm="app" requested_mask="send" denied_mask="send" signal=term peer="app//worker-%d"`, w))
	}
	res, dir := sessionWith(t, "3.0", func(o *learn.SessionOptions) {
		o.Options.Siblings = 0
		if err := os.WriteFile(filepath.Join(o.Dir, "app"), []byte(prof), 0o644); err != nil {
			t.Fatal(err)
		}
	}, lines...)
	accounted(t, res)
	validProfiles(t, res, dir, "3.0", true)
	text := changeText(res)
	if !strings.Contains(text, "+  unix bind type=dgram addr=@cups-[0-9]*,") && !strings.Contains(text, "\n  unix bind type=dgram addr=@cups-[0-9]*,") {
		t.Errorf("new addresses not generalised with the profile's own:\n%s\n%s", text, res.Accounting)
	}
	for _, bad := range []string{"@cups-4097", "@cups-51234", "worker-[0-9]*"} {
		if strings.Contains(text, bad) {
			t.Errorf("%q in:\n%s", bad, text)
		}
	}
	// The pattern replaces the profile's literal rules it covers; the
	// signal rule it does not cover stays.
	for _, gone := range []string{"@cups-1465", "@cups-2210", "@cups-30311"} {
		if strings.Contains(text, gone) {
			t.Errorf("%q stays beside the pattern that covers it:\n%s", gone, text)
		}
	}
	if !strings.Contains(text, "\n  signal send set=(term) peer=app//worker-1,\n") {
		t.Errorf("the signal rule is gone:\n%s", text)
	}
	if n := len(res.Changes[0].Removed); n != 3 || res.Accounting.Removed != 3 {
		t.Errorf("%d removals, accounting %d, want 3: %v", n, res.Accounting.Removed, res.Changes[0].Removed)
	}
}
