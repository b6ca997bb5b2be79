package lint

import (
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/policy/aare"
)

func TestPath(t *testing.T) {
	tests := []struct {
		path   string
		access aare.Perm
		want   string // entry ID, "" for not sensitive
	}{
		{"/etc/shadow", ReadPerms, "etc-shadow"},
		{"/etc/shadow", WritePerms, "etc-shadow"},
		{"/etc/passwd", ReadPerms, ""},
		{"/etc/passwd", WritePerms, "etc-write"},
		{"/etc/myapp/app.conf", ReadPerms, ""},
		{"/etc/myapp/app.conf", WritePerms, "etc-write"},
		{"/etc/ssl/certs/ca-certificates.crt", ReadPerms, ""},
		{"/etc/ssl/private/key.pem", ReadPerms, "ssl-private"},
		{"/etc/sudoers.d/x", ReadPerms, "etc-sudoers-d"},
		{"/etc/sudoers.d", ReadPerms, "etc-sudoers-d"},
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", ReadPerms, ""},
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", WritePerms, "usr-write"},
		{"/usr/bin/helper", ExecPerms, ""},
		{"/boot/grub/grub.cfg", WritePerms, "boot-write"},
		{"/root/.bashrc", ReadPerms, "root-home"},
		{"/root", ReadPerms, "root-home"},
		{"/rootfs/x", ReadPerms, ""},
		{"/home/alice/.ssh/id_rsa", ReadPerms, "home-ssh"},
		{"/home/alice/.ssh", ReadPerms, "home-ssh"},
		{"/home/alice/.sshrc", ReadPerms, ""},
		{"/home/alice/data/file", WritePerms, ""},
		{"/home/.ssh/x", ReadPerms, ""},
		{"/proc/1234/mem", ReadPerms, "proc-mem"},
		{"/proc/self/mem", WritePerms, "proc-mem"},
		{"/proc/1234/task/1235/mem", ReadPerms, "proc-mem"},
		{"/proc/1234/maps", ReadPerms, ""},
		{"/proc/abc/mem", ReadPerms, ""},
		{"/proc/1234/environ", ReadPerms, "proc-environ"},
		{"/proc/sys/kernel/hostname", ReadPerms, ""},
		{"/proc/sys/kernel/hostname", WritePerms, "proc-sys-write"},
		{"/var/lib/myapp/data.db", WritePerms, ""},
		{"/tmp/x", WritePerms, ""},
		{"/run/docker.sock", WritePerms, "container-socket"},
	}
	for _, tt := range tests {
		e, ok := Path(tt.path, tt.access)
		got := ""
		if ok {
			got = e.ID
		}
		if got != tt.want {
			t.Errorf("Path(%q, %v) = %q, want %q", tt.path, tt.access, got, tt.want)
		}
	}
}

// Every entry matches its own example, so Reached can rely on them.
func TestExamplesMatchTheirEntry(t *testing.T) {
	ids := map[string]bool{}
	for _, e := range SensitivePaths {
		if ids[e.ID] {
			t.Errorf("duplicate ID %q", e.ID)
		}
		ids[e.ID] = true
		if !e.matches(e.Example) {
			t.Errorf("%s: example %q does not match %q", e.ID, e.Example, e.Path)
		}
		if e.Why == "" || e.Severity == 0 || e.Access == 0 {
			t.Errorf("%s: incomplete entry", e.ID)
		}
	}
}

func TestReached(t *testing.T) {
	prefix := func(p string) func(string) bool {
		return func(s string) bool { return strings.HasPrefix(s, p) }
	}
	if e, ok := Reached(prefix("/home/"), ReadPerms); !ok || e.ID != "home-ssh" {
		t.Errorf("Reached(/home/**) = %v, %v; want home-ssh", e.ID, ok)
	}
	if _, ok := Reached(prefix("/var/lib/myapp/"), ReadPerms|WritePerms); ok {
		t.Errorf("Reached(/var/lib/myapp/**) is sensitive")
	}
	if e, ok := Reached(prefix("/etc/"), WritePerms); !ok || e.ID != "etc-shadow" {
		t.Errorf("Reached(/etc/**, write) = %v; want etc-shadow", e.ID)
	}
}

func TestCapability(t *testing.T) {
	for _, c := range []string{"sys_admin", "sys_module", "dac_override", "sys_ptrace"} {
		if _, ok := Capability(c); !ok {
			t.Errorf("Capability(%q) not sensitive", c)
		}
	}
	for _, c := range []string{"net_bind_service", "setuid", "setgid", "chown", "kill"} {
		if _, ok := Capability(c); ok {
			t.Errorf("Capability(%q) sensitive", c)
		}
	}
}

func TestNetwork(t *testing.T) {
	tests := []struct {
		family, typ string
		want        bool
	}{
		{"inet", "stream", false},
		{"inet6", "dgram", false},
		{"netlink", "raw", false},
		{"unix", "stream", false},
		{"inet", "raw", true},
		{"inet6", "raw", true},
		{"packet", "dgram", true},
		{"packet", "", true},
		{"", "", true}, // a bare "network," grants packet too
		{"inet", "", true},
	}
	for _, tt := range tests {
		if _, got := Network(tt.family, tt.typ); got != tt.want {
			t.Errorf("Network(%q, %q) = %v, want %v", tt.family, tt.typ, got, tt.want)
		}
	}
}

func TestPtrace(t *testing.T) {
	if Ptrace("myapp", "myapp") || Ptrace("myapp", "myapp//helper") {
		t.Error("ptrace of itself or its children is sensitive")
	}
	if !Ptrace("myapp", "unconfined") || !Ptrace("myapp", "myapp2") {
		t.Error("ptrace of another profile is not sensitive")
	}
}
