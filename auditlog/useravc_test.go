package auditlog

import "testing"

// Any process with CAP_AUDIT_WRITE (root in a default container) writes a
// USER_AVC record with any text. User space's AppArmor mediation is dbus's
// (dbus-daemon, dbus-broker), so a USER_AVC record is evidence of a dbus
// event only; one of another class, or an AppArmor record nested in a
// USER_AVC message, is rejected.
func TestUserAVCOnlyDBus(t *testing.T) {
	const file = `apparmor="ALLOWED" operation="open" class="file" profile="myapp" name="/srv/app/secret" requested_mask="wr" denied_mask="wr" fsuid=0 ouid=0`
	const dbus = `apparmor="DENIED" operation="dbus_method_call"  bus="system" path="/org/freedesktop/login1" interface="org.freedesktop.login1.Manager" member="PowerOff" mask="send" name="org.freedesktop.login1" pid=4246 label="myapp" peer_pid=650 peer_label="unconfined"  exe="/usr/bin/dbus-daemon" sauid=101 hostname=? addr=? terminal=?`
	const hdr = `type=USER_AVC msg=audit(1795600186.001:7): pid=1 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='`
	const khdr = `Nov 25 07:00:01 host kernel: audit: type=1107 audit(1795600186.001:7): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='`
	cases := []struct {
		name string
		line string
		ok   bool // evidence: KindEvent; else KindRejected or KindNone
	}{
		{"file", hdr + file + `'`, false},
		{"file, printk", khdr + file + `'`, false},
		{"file, node=", `node=h ` + hdr + file + `'`, false},
		{"capability", hdr + `apparmor="ALLOWED" operation="capable" profile="myapp" pid=1 comm="x" capability=21 capname="sys_admin"'`, false},
		{"capability without operation", hdr + `apparmor="ALLOWED" profile="myapp" capname="sys_admin"'`, false},
		{"class dbus, file operation", hdr + `apparmor="ALLOWED" operation="open" class="dbus" profile="myapp" name="/srv/app/secret" requested_mask="wr"'`, false},
		{"dbus operation, class file", hdr + `apparmor="ALLOWED" operation="dbus_bind" class="file" profile="myapp" name="/srv/app/secret" requested_mask="wr"'`, false},
		{"dbus operation, capname", hdr + `apparmor="ALLOWED" operation="dbus_bind" profile="myapp" capname="sys_admin"'`, false},
		{"journal", `{"_TRANSPORT":"audit","_AUDIT_TYPE":"1107","_AUDIT_ID":"7","MESSAGE":"USER_AVC pid=1 uid=0 auid=4294967295 ses=4294967295 msg='apparmor=\"ALLOWED\" operation=\"open\" profile=\"myapp\" name=\"/srv/app/secret\" requested_mask=\"wr\"'"}`, false},
		// An AppArmor record inside a USER_AVC message is the writer's text.
		{"nested AVC", hdr + `x type=AVC msg=audit(1795600186.001:8): ` + file + `'`, false},
		{"nested AVC, node=", `node=h ` + hdr + `type=AVC msg=audit(1795600186.001:8): ` + file + `'`, false},
		{"nested printk AVC", khdr + `x kernel: audit: type=1400 audit(1795600186.001:8): ` + file + `'`, false},
		{"nested journal AVC", `{"_TRANSPORT":"audit","_AUDIT_TYPE":"1107","_AUDIT_ID":"7","MESSAGE":"USER_AVC pid=1 uid=0 msg='x AVC apparmor=\"ALLOWED\" operation=\"open\" profile=\"myapp\" name=\"/srv/app/secret\" requested_mask=\"wr\"'"}`, false},
		// dbus: evidence.
		{"dbus", hdr + dbus + `'`, true},
		{"dbus, printk", khdr + dbus + `'`, true},
		{"dbus, node=", `node=h ` + hdr + dbus + `'`, true},
		{"dbus class", hdr + `apparmor="DENIED" operation="dbus_signal" class="dbus" bus="session" mask="receive" label="myapp"'`, true},
		{"dbus journal", `{"_TRANSPORT":"audit","_AUDIT_TYPE":"1107","_AUDIT_ID":"7","MESSAGE":"USER_AVC pid=712 uid=101 msg='apparmor=\"DENIED\" operation=\"dbus_bind\" bus=\"session\" name=\"org.a\" mask=\"bind\" label=\"myapp\"'"}`, true},
		// The kernel's AVC: unchanged.
		{"kernel AVC", `type=AVC msg=audit(1795600186.001:8): ` + file, true},
	}
	for _, only := range [][]Key{nil, {KeyName}, {KeyProfile}} {
		p := NewParser()
		p.Only(only...)
		for _, c := range cases {
			var ev Event
			if err := p.Parse([]byte(c.line), &ev); err != nil {
				t.Errorf("%s (only %v): %v", c.name, only, err)
				continue
			}
			if (ev.Kind == KindEvent) != c.ok || (!c.ok && ev.Kind != KindRejected && ev.Kind != KindNone) {
				t.Errorf("%s (only %v): kind %v, evidence %v wanted (rejected: %q)", c.name, only, ev.Kind, c.ok, ev.Rejected)
			}
		}
	}
}
