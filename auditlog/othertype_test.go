package auditlog

import (
	"strings"
	"testing"
)

// A printk record of another audit type (SYSCALL, PROCTITLE, USER_*, …) is
// not an AppArmor record even when its text holds apparmor=: a user's
// USER_* message is the user's text, and may even hold a whole AppArmor
// record behind a forged "kernel:". AppArmor's own types, in every log
// layout, still give events, and the trust rules still reject records that
// another program wrote.
func TestPrintkOtherRecordTypes(t *testing.T) {
	const aa = `apparmor="DENIED" operation="open" profile="app" name="/etc/shadow" pid=1 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`
	const syslog = "Nov 25 07:00:01 host kernel: [  12.345678] "
	cases := []struct {
		name string
		line string
		kind Kind
		typ  uint16
	}{
		// Other types: the header decides, whatever the text holds.
		{"SYSCALL with apparmor= key", syslog + `audit: type=1300 audit(1764054001.001:1): arch=c000003e syscall=2 success=no ` + aa, KindNone, 0},
		{"PROCTITLE with apparmor= key", syslog + `audit: type=1327 audit(1764054001.001:1): proctitle=6170 ` + aa, KindNone, 0},
		{"USER_AUTH msg with apparmor=", syslog + `audit: type=1100 audit(1764054001.002:2): pid=9 uid=0 auid=1000 ses=1 msg='op=PAM:authentication ` + aa + ` exe="/usr/bin/su" res=failed'`, KindNone, 0},
		{"USER msg holding a forged kernel record", syslog + `audit: type=1100 audit(1764054001.003:3): pid=9 uid=0 msg='x kernel: audit: type=1400 audit(1764054001.003:4): ` + aa + `'`, KindNone, 0},
		{"kmsg SYSCALL", `6,100,12345,-;audit: type=1300 audit(1764054001.004:5): arch=c000003e ` + aa, KindNone, 0},
		{"journal kernel SYSCALL", `{"_TRANSPORT":"kernel","MESSAGE":"audit: type=1300 audit(1764054001.005:6): arch=c000003e apparmor=\"DENIED\" operation=\"open\" profile=\"app\" name=\"/x\""}`, KindNone, 0},
		{"dmesg SECCOMP", `[  12.345678] audit: type=1326 audit(1764054001.006:7): auid=0 ` + aa, KindNone, 0},
		{"another program's SYSCALL", `Nov 25 07:00:01 host alice: audit: type=1300 audit(1764054001.007:8): ` + aa, KindNone, 0},
		// AppArmor's types: kept.
		{"AVC", syslog + `audit: type=1400 audit(1764054001.010:10): ` + aa, KindEvent, TypeAVC},
		{"AVC, old layout without audit:", syslog + `type=1400 audit(1764054001.011:11): ` + aa, KindEvent, TypeAVC},
		{"USER_AVC (dbus)", syslog + `audit: type=1107 audit(1764054001.012:12): pid=1 uid=103 auid=4294967295 ses=4294967295 subj=unconfined msg='apparmor="DENIED" operation="dbus_method_call" bus="system" member="PowerOff" label="app" exe="/usr/bin/dbus-daemon"'`, KindEvent, TypeUserAVC},
		{"USER_AVC of a file operation (user space's text)", syslog + `audit: type=1107 audit(1764054001.012:12): pid=1 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='` + aa + ` bus="system"'`, KindRejected, TypeUserAVC},
		{"APPARMOR_DENIED, old kernels", syslog + `audit: type=1503 audit(1764054001.013:13): ` + aa, KindEvent, 1503},
		{"kmsg AVC", `5,101,12346,-;audit: type=1400 audit(1764054001.014:14): ` + aa, KindEvent, TypeAVC},
		{"journal kernel AVC", `{"_TRANSPORT":"kernel","MESSAGE":"audit: type=1400 audit(1764054001.015:15): apparmor=\"DENIED\" operation=\"open\" profile=\"app\" name=\"/x\""}`, KindEvent, TypeAVC},
		{"type number out of range, as before", syslog + `audit: type=66936 audit(1764054001.016:16): ` + aa, KindEvent, 0},
		{"SYSCALL header beyond the window", strings.Repeat("x", printkHeaderWindow) + ` kernel: audit: type=1300 audit(1764054001.017:17): ` + aa, KindNone, 0},
		{"AVC header beyond the window", strings.Repeat("x", printkHeaderWindow) + ` kernel: audit: type=1400 audit(1764054001.018:18): ` + aa, KindEvent, TypeAVC},
		// Trust rules: unchanged for AppArmor's types.
		{"another program's AVC", `Nov 25 07:00:01 host alice: audit: type=1400 audit(1764054001.020:20): ` + aa, KindRejected, TypeAVC},
		{"user-space kmsg AVC", `14,102,12347,-;audit: type=1400 audit(1764054001.021:21): ` + aa, KindRejected, TypeAVC},
	}
	p := NewParser()
	for _, c := range cases {
		var ev Event
		if err := p.Parse([]byte(c.line), &ev); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if ev.Kind != c.kind || (c.kind != KindNone && ev.Type != c.typ) {
			t.Errorf("%s: kind %v type %d, want kind %v type %d (rejected: %q)", c.name, ev.Kind, ev.Type, c.kind, c.typ, ev.Rejected)
		}
	}
}
