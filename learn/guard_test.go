package learn

import (
	"strings"
	"testing"
)

// The sensitive guard decides on the automata: a generalisation whose
// language reaches a sensitive path the events did not name is undone,
// whichever rewrite made it. @{HOME} includes /root/, so /home/alice/.profile
// must not become @{HOME}/.profile (which grants /root/.profile).
func TestGuardGeneralisations(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
		in   []*Access
		want []string // rules the output must contain
		not  []string // rules it must not contain
	}{
		{name: "home variable reaches root's home",
			in:  []*Access{file("myapp", "/home/alice/.profile", "w")},
			not: []string{"@{HOME}/"}},
		{name: "home variable elsewhere stays",
			in:   []*Access{file("myapp", "/home/alice/.cache/myapp/x", "r")},
			want: []string{"@{HOMEDIRS}/*/.cache/myapp/x r,"}},
		{name: "siblings reach a sensitive file",
			in: []*Access{file("myapp", "/etc/myapp.d/../a", "w"), file("myapp", "/var/lib/x/a", "w"),
				file("myapp", "/root/a", "w"), file("myapp", "/root/b", "w"), file("myapp", "/root/c", "w"), file("myapp", "/root/d", "w")},
			not: []string{"/root/* w"}},
		{name: "siblings that reach only named sensitive paths",
			opts: Options{AllowSensitive: true},
			in: []*Access{file("myapp", "/root/a", "w"), file("myapp", "/root/b", "w"),
				file("myapp", "/root/c", "w"), file("myapp", "/root/d", "w")},
			not: []string{"/root/* w"}},
		{name: "digits glob into a sensitive tree",
			in:   []*Access{file("myapp", "/proc/sys/kernel/12345678", "w")},
			want: []string{}, not: []string{"[0-9]*"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := learnAll(t, tt.opts, tt.in...)
			for _, w := range tt.want {
				if !strings.Contains(got, "  "+w+"\n") {
					t.Errorf("want %q in\n%s", w, got)
				}
			}
			for _, n := range tt.not {
				for _, line := range strings.Split(got, "\n") {
					if strings.Contains(line, n) && !strings.HasPrefix(strings.TrimSpace(line), "!") {
						t.Errorf("rule %q must not be learned:\n%s", line, got)
					}
				}
			}
		})
	}
}

// The sensitive table's additions reach learn: each access is held back as
// a finding, not written as a rule.
func TestSensitiveAdditions(t *testing.T) {
	got := learnAll(t, Options{},
		file("myapp", "/home/alice/.profile", "w"),
		file("myapp", "/home/bob/.bashrc", "a"),
		file("myapp", "/dev/sda1", "w"),
		file("myapp", "/dev/nvme0n1", "w"),
		file("myapp", "/run/containerd/containerd.sock", "rw"),
		file("myapp", "/var/run/docker.sock", "w"),
		file("myapp", "/var/spool/cron/crontabs/root", "w"),
		&Access{Profile: "myapp", Class: ClassCapability, Capability: "mknod"},
		&Access{Profile: "myapp", Class: ClassCapability, Capability: "setuid"},
		&Access{Profile: "myapp", Class: ClassCapability, Capability: "fowner"},
		file("myapp", "/home/alice/.cache/myapp/x", "w"),
	)
	for _, line := range strings.Split(strings.TrimSpace(got), "\n")[1:] {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "! ") && !strings.Contains(line, ".cache/myapp/x") {
			t.Errorf("learned %q; want it held back as a finding:\n%s", line, got)
		}
	}
	if n := strings.Count(got, "\n  ! "); n != 10 {
		t.Errorf("%d findings, want 10:\n%s", n, got)
	}
}

// A hard link to a sensitive file is a finding: `l` on the new name would
// reach the file's content under a harmless path.
func TestLinkToSensitive(t *testing.T) {
	log := []byte(`[    2.001731] audit: type=1400 audit(1795600175.001:101): apparmor="ALLOWED" operation="link" profile="app" name="/tmp/x" pid=114 comm="ln" requested_mask="l" denied_mask="l" fsuid=0 ouid=0 target="/etc/shadow"
[    2.001732] audit: type=1400 audit(1795600175.001:102): apparmor="ALLOWED" operation="link" profile="app" name="/tmp/y" pid=114 comm="ln" requested_mask="l" denied_mask="l" fsuid=0 ouid=0 target="/srv/app/data"
`)
	got := learnAll(t, Options{}, logAccesses(t, log)...)
	if !strings.Contains(got, "  ! /tmp/x l, [etc-shadow]\n") || strings.Contains(got, "  /tmp/x l,\n") {
		t.Errorf("link to /etc/shadow must be a finding, not a rule:\n%s", got)
	}
	if !strings.Contains(got, "/tmp/y l,\n") || strings.Contains(got, "! /tmp/y") {
		t.Errorf("link to an ordinary file must stay a rule:\n%s", got)
	}
}
