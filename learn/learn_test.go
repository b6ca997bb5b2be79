package learn

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/policy/aare"
)

func file(profile, path, mask string) *Access {
	return &Access{Profile: profile, Class: ClassFile, Path: path, Perms: kernelPerms(mask)}
}

func owned(a *Access) *Access { a.Owner = true; return a }

func execAt(profile, path, target string) *Access {
	return &Access{Profile: profile, Class: ClassFile, Operation: "exec", Path: path, Perms: aare.PermExec, Target: target}
}

// render lists a result compactly: one line per rule, "! " before findings.
func render(ps []*Profile) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("profile " + p.Name + "\n")
		for _, r := range p.Rules {
			b.WriteString("  " + ruleText(r.Node) + "\n")
		}
		for _, f := range p.Findings {
			b.WriteString("  ! " + ruleText(f.Rule) + " [" + f.ID + "]\n")
		}
	}
	return b.String()
}

func learnAll(t *testing.T, opts Options, accs ...*Access) string {
	t.Helper()
	l := New(opts)
	for _, a := range accs {
		l.Add(a)
	}
	ps, err := l.Result()
	if err != nil {
		t.Fatal(err)
	}
	return render(ps)
}

func TestLearn(t *testing.T) {
	tree := func(string) string { return "/opt/myapp/" }
	tests := []struct {
		name string
		opts Options
		in   []*Access
		want string
	}{
		{
			name: "file perms merge per path",
			in: []*Access{
				file("app", "/etc/myapp/app.conf", "r"),
				file("app", "/var/lib/myapp/db", "r"),
				file("app", "/var/lib/myapp/db", "wc"),
				file("app", "/var/lib/myapp/db", "k"),
				file("app", "/var/log/myapp/app.log", "a"),
				file("app", "/var/log/myapp/err.log", "w"),
				file("app", "/var/log/myapp/err.log", "a"),
			},
			want: `profile app
  /etc/myapp/app.conf r,
  /var/lib/myapp/db rwk,
  /var/log/myapp/app.log a,
  /var/log/myapp/err.log w,
`,
		},
		{
			name: "proc and home, owner only when every event owned",
			in: []*Access{
				file("app", "/proc/100/stat", "r"),
				file("app", "/proc/200/stat", "r"),
				owned(file("app", "/home/alice/.config/app/a.json", "r")),
				owned(file("app", "/home/bob/.config/app/a.json", "r")),
				owned(file("app", "/home/alice/.cache/app/x", "w")),
				file("app", "/home/bob/.cache/app/x", "w"),
			},
			want: `profile app
  @{HOMEDIRS}/*/.cache/app/x w,
  owner @{HOMEDIRS}/*/.config/app/a.json r,
  @{PROC}/@{pid}/stat r,
`,
		},
		{
			name: "glob none keeps paths",
			opts: Options{Glob: GlobNone},
			in: []*Access{
				file("app", "/proc/100/stat", "r"),
				owned(file("app", "/home/alice/x", "r")),
			},
			want: `profile app
  /home/alice/x r,
  /proc/100/stat r,
`,
		},
		{
			name: "siblings: four names become dir/*, with the union of their perms",
			in: []*Access{
				file("app", "/srv/www/a.html", "r"),
				file("app", "/srv/www/b.html", "r"),
				file("app", "/srv/www/c.css", "r"),
				file("app", "/srv/www/d.js", "r"),
				file("app", "/srv/www/upload", "rw"),
				file("app", "/srv/other/a", "r"),
				file("app", "/srv/other/b", "r"),
				file("app", "/srv/other/c", "r"),
			},
			want: `profile app
  /srv/other/a r,
  /srv/other/b r,
  /srv/other/c r,
  /srv/www/* rw,
`,
		},
		{
			name: "siblings with different perms stay apart without the union",
			opts: Options{NoPermUnion: true},
			in: []*Access{
				file("app", "/srv/www/a.html", "r"),
				file("app", "/srv/www/b.html", "r"),
				file("app", "/srv/www/c.css", "r"),
				file("app", "/srv/www/d.js", "r"),
				file("app", "/srv/www/upload", "rw"),
			},
			want: `profile app
  /srv/www/* r,
  /srv/www/upload rw,
`,
		},
		{
			name: "siblings threshold is a flag",
			opts: Options{Siblings: 3},
			in: []*Access{
				file("app", "/srv/other/a", "r"),
				file("app", "/srv/other/b", "r"),
				file("app", "/srv/other/c", "r"),
			},
			want: `profile app
  /srv/other/* r,
`,
		},
		{
			name: "siblings never glob into sensitive paths",
			in: []*Access{
				file("app", "/etc/hosts", "r"),
				file("app", "/etc/passwd", "r"),
				file("app", "/etc/group", "r"),
				file("app", "/etc/resolv.conf", "r"),
				file("app", "/etc/nsswitch.conf", "r"),
			},
			want: `profile app
  /etc/group r,
  /etc/hosts r,
  /etc/nsswitch.conf r,
  /etc/passwd r,
  /etc/resolv.conf r,
`,
		},
		{
			name: "aggressive: subtree over two subdirectories",
			opts: Options{Glob: GlobAggressive},
			in: []*Access{
				file("app", "/srv/www/css/a.css", "r"),
				file("app", "/srv/www/css/b.css", "r"),
				file("app", "/srv/www/js/a.js", "r"),
				file("app", "/srv/www/index.html", "r"),
			},
			want: `profile app
  /srv/www/** r,
`,
		},
		{
			name: "aggressive never writes /** or @{HOME}/**",
			opts: Options{Glob: GlobAggressive, Siblings: 2},
			in: []*Access{
				file("app", "/a/x", "r"),
				file("app", "/b/y", "r"),
				owned(file("app", "/home/u/a/x", "r")),
				owned(file("app", "/home/u/b/y", "r")),
			},
			want: `profile app
  /a/x r,
  /b/y r,
  owner @{HOMEDIRS}/*/a/x r,
  owner @{HOMEDIRS}/*/b/y r,
`,
		},
		{
			name: "sensitive accesses become findings",
			in: []*Access{
				file("app", "/etc/shadow", "r"),
				file("app", "/etc/myapp/app.conf", "rw"),
				file("app", "/proc/77/mem", "r"),
				file("app", "/home/u/.ssh/id_rsa", "r"),
				{Profile: "app", Class: ClassCapability, Capability: "sys_admin"},
				{Profile: "app", Class: ClassCapability, Capability: "net_bind_service"},
				{Profile: "app", Class: ClassNetwork, Family: "inet", SockType: "raw"},
				{Profile: "app", Class: ClassNetwork, Family: "inet", SockType: "stream"},
				{Profile: "app", Class: ClassPtrace, Mask: []string{"read"}, Peer: "unconfined"},
				{Profile: "app", Class: ClassMount, FSType: "tmpfs", Source: "tmpfs", Path: "/mnt/"},
			},
			want: `profile app
  capability net_bind_service,
  network inet stream,
  /etc/myapp/app.conf r,
  ! capability sys_admin, [capability]
  ! network inet raw, [network]
  ! ptrace read peer=unconfined, [ptrace]
  ! mount fstype=tmpfs tmpfs -> /mnt/, [mount]
  ! /etc/myapp/app.conf w, [etc-write]
  ! /etc/shadow r, [etc-shadow]
  ! /home/u/.ssh/id_rsa r, [home-ssh]
  ! /proc/77/mem r, [proc-mem]
`,
		},
		{
			name: "allow-sensitive writes them, still reported",
			opts: Options{AllowSensitive: true},
			in: []*Access{
				{Profile: "app", Class: ClassCapability, Capability: "dac_override"},
			},
			want: `profile app
  capability dac_override,
  ! capability dac_override, [capability]
`,
		},
		{
			name: "generalisation that would reach a sensitive path is undone",
			in: []*Access{
				file("app", "/proc/12/stat", "r"),
				file("app", "/proc/12/status", "r"),
				file("app", "/proc/12/cmdline", "r"),
				file("app", "/proc/12/maps", "r"),
			},
			want: `profile app
  @{PROC}/@{pid}/cmdline r,
  @{PROC}/@{pid}/maps r,
  @{PROC}/@{pid}/stat r,
  @{PROC}/@{pid}/status r,
`,
		},
		{
			name: "digit and hex thresholds are flags",
			opts: Options{MinDigits: 4, MinHex: 4},
			in: []*Access{
				file("app", "/var/log/app/app-2026.log", "w"),
				file("app", "/var/cache/app/ab12", "r"),
			},
			want: `profile app
  /var/cache/app/[0-9a-f]* r,
  /var/log/app/app-[0-9]*.log w,
`,
		},
		{
			name: "a stack's access goes to each of its profiles",
			in: []*Access{
				file("app//&container", "/srv/x", "r"),
			},
			want: `profile app
  /srv/x r,
profile container
  /srv/x r,
`,
		},
		{
			name: "userns needs abi 4.0",
			in: []*Access{
				{Profile: "app", Class: ClassUserns, Mask: []string{"create"}},
			},
			want: `profile app
  ! userns create, [abi]
`,
		},
		{
			name: "userns with abi 4.0",
			opts: Options{ABI: "4.0"},
			in: []*Access{
				{Profile: "app", Class: ClassUserns, Mask: []string{"create"}},
			},
			want: `profile app
  userns create,
`,
		},
		{
			name: "signals, ptrace, unix, dbus, change_profile merged by key",
			in: []*Access{
				{Profile: "app", Class: ClassSignal, Mask: []string{"send"}, Signal: "term", Peer: "app"},
				{Profile: "app", Class: ClassSignal, Mask: []string{"send"}, Signal: "kill", Peer: "app"},
				{Profile: "app", Class: ClassSignal, Mask: []string{"receive"}, Signal: "term", Peer: "unconfined"},
				{Profile: "app", Class: ClassPtrace, Mask: []string{"read"}, Peer: "app"},
				{Profile: "app", Class: ClassPtrace, Mask: []string{"trace"}, Peer: "app"},
				{Profile: "app", Class: ClassUnix, Mask: []string{"connect"}, SockType: "stream", PeerAddr: "@/run/x", Addr: "none"},
				{Profile: "app", Class: ClassUnix, Mask: []string{"send", "receive"}, SockType: "stream", PeerAddr: "@/run/x", Addr: "none"},
				{Profile: "app", Class: ClassDBus, Mask: []string{"send"}, Bus: "system", DBusPath: "/org/freedesktop/DBus", Interface: "org.freedesktop.DBus", Member: "Hello", PeerName: "org.freedesktop.DBus"},
				{Profile: "app", Class: ClassChangeProfile, Target: "app//worker"},
			},
			want: `profile app
  unix (connect, receive, send) type=stream peer=(addr=@/run/x),
  signal receive set=(term) peer=unconfined,
  signal send set=(kill, term) peer=app,
  ptrace (read, trace) peer=app,
  dbus send bus=system path=/org/freedesktop/DBus interface=org.freedesktop.DBus member=Hello peer=(name=org.freedesktop.DBus),
  change_profile -> app//worker,
`,
		},
		{
			name: "exec: ix inside the app tree folds the null child into the parent",
			opts: Options{AppTree: tree},
			in: []*Access{
				execAt("myapp", "/opt/myapp/bin/helper", "myapp//null-/opt/myapp/bin/helper"),
				file("myapp//null-/opt/myapp/bin/helper", "/opt/myapp/bin/helper", "r"),
				file("myapp//null-/opt/myapp/bin/helper", "/var/lib/myapp/x", "w"),
			},
			want: `profile myapp
  /opt/myapp/bin/helper rix,
  /var/lib/myapp/x w,
`,
		},
		{
			name: "exec: Cx outside the tree folds into a child profile",
			opts: Options{AppTree: tree},
			in: []*Access{
				execAt("myapp", "/usr/bin/gzip", "myapp//null-/usr/bin/gzip"),
				file("myapp//null-/usr/bin/gzip", "/var/lib/myapp/x.gz", "w"),
				{Profile: "myapp//null-/usr/bin/gzip", Class: ClassSignal, Mask: []string{"send"}, Signal: "term", Peer: "myapp//null-/usr/bin/gzip"},
			},
			want: `profile myapp
  /usr/bin/gzip Cx -> gzip,
profile myapp//gzip
  signal send set=(term) peer=myapp//gzip,
  /var/lib/myapp/x.gz w,
`,
		},
		{
			name: "exec: Px when a profile exists; nested null children",
			opts: Options{ProfileFor: func(p string) (string, bool) { return "helperd", p == "/usr/sbin/helperd" }, DefaultExec: aare.ExecInherit},
			in: []*Access{
				execAt("myapp", "/usr/sbin/helperd", "myapp//null-/usr/sbin/helperd"),
				file("myapp//null-/usr/sbin/helperd", "/run/helperd.pid", "w"),
				execAt("myapp", "/bin/sh", "myapp//null-/bin/sh"),
				execAt("myapp//null-/bin/sh", "/bin/cat", "myapp//null-/bin/sh//null-/bin/cat"),
				file("myapp//null-/bin/sh//null-/bin/cat", "/srv/f", "r"),
			},
			want: `profile helperd
  /run/helperd.pid w,
profile myapp
  /bin/cat ix,
  /bin/sh ix,
  /srv/f r,
  /usr/sbin/helperd Px -> helperd,
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := learnAll(t, tt.opts, tt.in...)
			if got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestExecConflict(t *testing.T) {
	l := New(Options{})
	l.Add(execAt("app", "/usr/bin/x", "app"))
	l.Add(execAt("app", "/usr/bin/x", "other"))
	_, err := l.Result()
	var ce *ExecConflictError
	if !errors.As(err, &ce) || ce.Path != "/usr/bin/x" {
		t.Fatalf("err = %v, want ExecConflictError for /usr/bin/x", err)
	}
	l = New(Options{})
	l.Add(execAt("app", "/usr/bin/x", "unconfined"))
	if _, err := l.Result(); !errors.As(err, &ce) {
		t.Fatalf("ux in the events: err = %v, want ExecConflictError", err)
	}
}

// The same events in any order give the same result, evidence included.
func TestDeterministic(t *testing.T) {
	base := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	var accs []*Access
	for i := range 200 {
		a := file("app", "/srv/www/"+string(rune('a'+i%7))+".html", []string{"r", "w", "k"}[i%3])
		a.Time = base.Add(time.Duration(i) * time.Second)
		a.Loc = Location{Source: "log", Line: int64(i % 10)}
		accs = append(accs, a, &Access{Profile: "app", Class: ClassSignal, Mask: []string{"send"}, Signal: []string{"term", "kill", "hup"}[i%3], Peer: "app"})
		accs = append(accs, execAt("app", "/usr/bin/t"+string(rune('a'+i%3)), "app//null-/usr/bin/t"+string(rune('a'+i%3))))
		accs = append(accs, file("app//null-/usr/bin/t"+string(rune('a'+i%3)), "/proc/"+string(rune('1'+i%9))+"/stat", "r"))
	}
	want := learnResult(t, accs)
	r := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		r.Shuffle(len(accs), func(i, j int) { accs[i], accs[j] = accs[j], accs[i] })
		if got := learnResult(t, accs); !reflect.DeepEqual(got, want) {
			t.Fatalf("result depends on event order")
		}
	}
}

func learnResult(t *testing.T, accs []*Access) []*Profile {
	l := New(Options{})
	for _, a := range accs {
		l.Add(a)
	}
	ps, err := l.Result()
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestExecConflictByGlob(t *testing.T) {
	l := New(Options{ProfileFor: func(p string) (string, bool) { return "t", p == "/opt/a/1/run" }})
	l.Add(execAt("app", "/opt/a/1/run", "app//null-/opt/a/1/run"))
	l.Add(execAt("app", "/opt/a/2/run", "app//null-/opt/a/2/run"))
	_, err := l.Result()
	var ce *ExecConflictError
	if !errors.As(err, &ce) || ce.Path != "/opt/a/[0-9]*/run" || ce.Profile != "app" {
		t.Fatalf("err = %v, want ExecConflictError for /opt/a/[0-9]*/run", err)
	}
}

// fakeExisting is a profile that allows nothing but gives execs a mode.
type fakeExisting map[string]aare.ExecKind

func (f fakeExisting) MissingFile(path string, perms aare.Perm, owned bool) aare.Perm {
	if _, ok := f[path]; ok {
		return perms &^ aare.PermExec
	}
	return perms
}
func (f fakeExisting) coversRule(rule) bool { return false }
func (f fakeExisting) execFor(p string) (aare.ExecKind, string, bool) {
	m, ok := f[p]
	return m, "", ok
}

// The existing profile's exec rule decides how a learning child folds; an
// event showing another transition is a conflict.
func TestExistingExecMode(t *testing.T) {
	opts := Options{existing: func(p string) coverer {
		if p == "app" {
			return fakeExisting{"/usr/bin/gzip": aare.ExecInherit}
		}
		return nil
	}}
	got := learnAll(t, opts,
		execAt("app", "/usr/bin/gzip", "app//null-/usr/bin/gzip"),
		file("app//null-/usr/bin/gzip", "/srv/x.gz", "w"))
	want := "profile app\n  /srv/x.gz w,\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	l := New(opts)
	l.Add(execAt("app", "/usr/bin/gzip", "app//gzip"))
	_, err := l.Result()
	var ce *ExecConflictError
	if !errors.As(err, &ce) || !strings.Contains(ce.Error(), "the profile's rule") {
		t.Fatalf("err = %v, want a conflict with the profile's rule", err)
	}
}

// Recording a path, a capability or a network access seen before
// allocates nothing: a long log costs memory per distinct access only.
func TestAddAllocs(t *testing.T) {
	l := New(Options{})
	accs := []*Access{
		file("app", "/srv/data/x", "rw"),
		{Profile: "app", Class: ClassCapability, Capability: "chown"},
		{Profile: "app", Class: ClassNetwork, Family: "inet", SockType: "stream", Mask: []string{"connect"}},
		{Profile: "app", Class: ClassSignal, Mask: []string{"send"}, Signal: "term", Peer: "app"},
	}
	for _, a := range accs {
		a.Loc = Location{Source: "log", Line: 1}
		l.Add(a)
	}
	for _, a := range accs {
		a.Loc.Line = 99
		if n := testing.AllocsPerRun(100, func() { l.Add(a) }); n != 0 {
			t.Errorf("Add(%s) allocates %v times per call", a.Class, n)
		}
	}
}
