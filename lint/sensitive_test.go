package lint

import (
	"slices"
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
		{"/var/run/docker.sock", WritePerms, "container-socket-var"},
		{"/run/containerd/containerd.sock", WritePerms, "containerd-socket"},
		{"/var/run/containerd/containerd.sock", WritePerms, "containerd-socket-var"},
		{"/var/spool/cron/crontabs/root", WritePerms, "cron-spool"},
		{"/var/spool/cron/crontabs/root", ReadPerms, ""},
		{"/dev/sda", WritePerms, "block-device-sd"},
		{"/dev/sda1", WritePerms, "block-device-sd"},
		{"/dev/sda", ReadPerms, ""},
		{"/dev/nvme0n1p2", WritePerms, "block-device-nvme"},
		{"/dev/dm-0", WritePerms, "block-device-dm"},
		{"/dev/mapper/vg-root", WritePerms, "dev-mapper"},
		{"/dev/disk/by-uuid/x", WritePerms, "dev-disk-links"},
		{"/dev/null", WritePerms, ""},
		{"/dev/shm/x", WritePerms, ""},
		{"/home/alice/.profile", WritePerms, "home-startup-profile"},
		{"/home/alice/.bashrc", WritePerms, "home-startup-bashrc"},
		{"/home/alice/.zshrc", WritePerms, "home-startup-zshrc"},
		{"/home/alice/.config/fish/config.fish", WritePerms, "home-startup-config-fish-configfish"},
		{"/home/alice/.bashrc", ReadPerms, ""},
		{"/home/alice/.bashrc.bak", WritePerms, ""},
		{"/root/.profile", WritePerms, "root-home"},
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
	for _, c := range []string{"sys_admin", "sys_module", "dac_override", "sys_ptrace",
		"mknod", "setfcap", "setpcap", "setuid", "setgid", "chown", "fowner"} {
		if _, ok := Capability(c); !ok {
			t.Errorf("Capability(%q) not sensitive", c)
		}
	}
	for _, c := range []string{"net_bind_service", "kill", "ipc_lock"} {
		if _, ok := Capability(c); ok {
			t.Errorf("Capability(%q) sensitive", c)
		}
	}
	// A name no capability has is no capability: from an event, it would
	// become rule text (capname="chown, capability" is two rules, the
	// second every capability).
	for _, c := range []string{"chown, capability", "chown,", "a b", "", "SYS_ADMIN", "x\ny"} {
		if e, ok := Capability(c); !ok || e.Severity != SeverityHigh {
			t.Errorf("Capability(%q) = %+v, %v; want it sensitive (high)", c, e, ok)
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
		// Not a family or type name: rule text from an event.
		{"inet, capability", "", true},
		{"inet", "stream, capability", true},
		{"unix stream,", "stream", true},
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

// Each entry's pattern and its concrete matcher agree, on the example and
// on near misses around it.
func TestSensitivePatterns(t *testing.T) {
	for i, e := range SensitivePaths {
		p := compiled()[i]
		for _, path := range []string{e.Example, e.Example + "x", e.Example + "/x", "/x" + e.Example, "/tmp/x"} {
			if got, want := p.Match(path), e.matches(path); got != want {
				t.Errorf("%s: pattern %q matches %q = %v, concrete matcher says %v", e.ID, e.Pattern(), path, got, want)
			}
		}
	}
}

func TestReaches(t *testing.T) {
	vars := aare.VarMap(map[string][]string{"HOME": {"/home/*/", "/root/"}, "HOMEDIRS": {"/home/"}})
	for _, tt := range []struct {
		pattern, except string
		perms           aare.Perm
		id, witness     string
	}{
		{"@{HOME}/.cache/x", "", ReadPerms, "root-home", "/root/.cache/x"},
		{"/home/*/.cache/x", "", ReadPerms, "", ""},
		{"/etc/myapp/*", "", WritePerms, "etc-write", "/etc/myapp/\x01"},
		{"/etc/myapp/*", "", ReadPerms, "", ""},
		{"/root/a", "/root/a", ReadPerms, "", ""},
		{"/root/[ab]", "/root/a", ReadPerms, "root-home", "/root/b"},
	} {
		p, err := aare.Compile(tt.pattern, vars)
		if err != nil {
			t.Fatal(err)
		}
		var ex *aare.Pattern
		if tt.except != "" {
			ex = aare.MustCompile(tt.except)
		}
		tree, err := aare.Parse(tt.pattern, vars)
		if err != nil {
			t.Fatal(err)
		}
		if got := ReachesTree(tree, tt.perms, ex); got != (tt.id != "") {
			t.Errorf("ReachesTree(%q, %s) = %v, want %v", tt.pattern, Kinds(tt.perms), got, tt.id != "")
		}
		e, w, ok := Reaches(p, tt.perms, ex)
		if e.ID != tt.id || ok != (tt.id != "") || tt.id != "" && w != tt.witness {
			t.Errorf("Reaches(%q, %s) = %s, %q, %v; want %s, %q", tt.pattern, Kinds(tt.perms), e.ID, w, ok, tt.id, tt.witness)
		}
		if re, ok := ReachedTree(tree, tt.perms, ex); ok {
			if w, r := Witness(p, re, ex); r != aare.Yes || w != tt.witness {
				t.Errorf("Witness(%q, %s) = %q, %v; want %q", tt.pattern, re.ID, w, r, tt.witness)
			}
		}
	}
}

// ReachesTree decides what Reaches decides, entry by entry, for learned
// patterns of every shape (home, proc, system trees, globs, siblings), each
// permission kind, with and without the named paths as exceptions.
func TestReachesTreeAgrees(t *testing.T) {
	vars := aare.VarMap(map[string][]string{"HOME": {"@{HOMEDIRS}/*/", "/root/"}, "HOMEDIRS": {"/home/"},
		"PROC": {"/proc/"}, "pid": {"{[1-9],[1-9][0-9]*}"}})
	var patterns []string
	for _, e := range SensitivePaths {
		patterns = append(patterns, e.Pattern(), escape(e.Example), escape(e.Example)+"*", escape(e.Example)+"/**")
		if i := strings.LastIndexByte(e.Example, '/'); i > 0 {
			patterns = append(patterns, escape(e.Example[:i+1])+"*", escape(e.Example[:i+1])+"[0-9]*", escape(e.Example[:i+1])+"**")
		}
	}
	patterns = append(patterns, "@{HOME}/.cache/app042/entries/10523EA[0-9]*AF79", "@{HOMEDIRS}/*/.cache/x", "@{HOME}/.ssh/*",
		"@{HOMEDIRS}/*/.ssh/known_hosts", "@{HOME}/.bashrc", "@{HOMEDIRS}/*/.bash*", "@{HOME}/.config/fish/*.fish",
		"@{PROC}/@{pid}/{stat,mem}", "@{PROC}/@{pid}/task/@{pid}/environ", "/proc/sys/**", "/dev/sd[a-z]*", "/dev/*",
		"/etc/**", "/etc/ssh/*.pub", "/var/run/*.sock", "/run/containerd/*", "/usr/lib/x86_64-linux-gnu/*.so*", "/tmp/**")
	excepts := []string{"", "/root/.bashrc", "{/etc/shadow,/root/.cache/app042/entries/105231AF79,/home/a/.ssh/x}"}
	for _, ps := range patterns {
		p, err := aare.Compile(ps, vars)
		if err != nil {
			t.Fatalf("%q: %v", ps, err)
		}
		tree, _ := aare.Parse(ps, vars)
		for _, exs := range excepts {
			var ex *aare.Pattern
			if exs != "" {
				ex = aare.MustCompile(exs)
			}
			for _, perms := range []aare.Perm{aare.PermRead, aare.PermWrite, aare.PermMmap | aare.PermRead, aare.PermLock, aare.PermExec, aare.PermRead | aare.PermWrite | aare.PermExec} {
				e, path, want := Reaches(p, perms, ex)
				if got := ReachesTree(tree, perms, ex); got != want {
					t.Errorf("ReachesTree(%q, %s, except %q) = %v, Reaches says %v", ps, perms, exs, got, want)
				}
				if got, ok := ReachedTree(tree, perms, ex); ok != want || got.ID != e.ID {
					t.Errorf("ReachedTree(%q, %s, except %q) = %s, %v; Reaches says %s, %v", ps, perms, exs, got.ID, ok, e.ID, want)
				} else if ok {
					if w, r := Witness(p, got, ex); r == aare.No || w != path {
						t.Errorf("Witness(%q, %s, except %q) = %q, %v; Reaches says %q", ps, got.ID, exs, w, r, path)
					}
				}
				if lits, ok := literalsOf(exs); ok {
					if got, ok := ReachedTreeLiterals(tree, perms, lits); ok != want || got.ID != e.ID {
						t.Errorf("ReachedTreeLiterals(%q, %s, %q) = %s, %v; Reaches says %s, %v", ps, perms, lits, got.ID, ok, e.ID, want)
					}
				}
			}
		}
	}
}

// literalsOf returns the paths of an except pattern of the test's form
// ("", one path or an alternation of paths), sorted.
func literalsOf(ex string) ([]string, bool) {
	if ex == "" {
		return nil, true
	}
	if strings.ContainsAny(ex, "*?[]\\@") {
		return nil, false
	}
	lits := strings.Split(strings.TrimSuffix(strings.TrimPrefix(ex, "{"), "}"), ",")
	slices.Sort(lits)
	return slices.Compact(lits), true
}

// Every entry's Access is made of whole kinds: what Sensitivity promises.
func TestSensitivityKinds(t *testing.T) {
	for _, e := range SensitivePaths {
		if Sensitivity(e.Access) != e.Access {
			t.Errorf("%s: Access %s is not made of whole kinds (%s)", e.ID, e.Access, Sensitivity(e.Access))
		}
	}
	if got := Sensitivity(aare.PermLock | aare.PermRead); got != ReadPerms|WritePerms {
		t.Errorf("Sensitivity(rk) = %s", got)
	}
}

// MayReachHome says no only where the walk over the automata finds
// nothing sensitive for /home/*/rel followed by anything.
func TestMayReachHome(t *testing.T) {
	vars := aare.VarMap(map[string][]string{"HOMEDIRS": {"/home/"}})
	for _, tt := range []struct {
		rel   string
		perms aare.Perm
		may   bool
	}{
		{".cache/app/x", ReadPerms | WritePerms, false},
		{"Desktop/todo.md", ReadPerms | WritePerms | ExecPerms, false},
		{".ssh/id_rsa", ReadPerms, true},
		{".ss", ReadPerms, true},
		{".sshd", ReadPerms, true}, // conservative: .ssh is a prefix
		{".gnupg", WritePerms, true},
		{".bashrc", WritePerms, true},
		{".bashrc", ReadPerms, false},
		{".config/fish/config.fish", WritePerms, true},
		{".config/fish/other", WritePerms, false},
		{".config/", WritePerms, true},
		{"", ReadPerms, true},
	} {
		if got := MayReachHome(tt.rel, tt.perms); got != tt.may {
			t.Errorf("MayReachHome(%q, %v) = %v, want %v", tt.rel, tt.perms, got, tt.may)
		}
		tree, err := aare.Parse("@{HOMEDIRS}/*/"+escape(tt.rel)+"**", vars)
		if err != nil {
			t.Fatal(err)
		}
		if !MayReachHome(tt.rel, tt.perms) && ReachesTree(tree, tt.perms, nil) {
			t.Errorf("MayReachHome(%q, %v) = false, but /home/*/%s** reaches a sensitive path", tt.rel, tt.perms, tt.rel)
		}
	}
}
