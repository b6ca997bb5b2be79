package learn

import (
	"fmt"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// learnedSet compiles the file rules learned for profile into an aare.Set,
// to ask what the learned profile would allow.
func learnedSet(t *testing.T, ps []*Profile, profile string) (*aare.Set, []aare.Rule) {
	t.Helper()
	var rules []aare.Rule
	for _, p := range ps {
		if p.Name != profile {
			continue
		}
		for _, r := range p.Rules {
			fr, ok := r.Node.(*policy.FileRule)
			if !ok {
				continue
			}
			perms, mode, err := aare.ParsePerms(fr.Perms.Value())
			if err != nil {
				t.Fatal(err)
			}
			rules = append(rules, aare.Rule{Pattern: fr.Path.Value(), Perms: perms, Exec: mode, Owner: fr.Qual.Owner})
		}
	}
	set, err := aare.NewSet(rules, aare.VarMap(defaultVars))
	if err != nil {
		t.Fatal(err)
	}
	return set, rules
}

// learnProfiles learns accs; every learned profile must pass policy.Check
// and compile with the real apparmor_parser (3.0.8).
func learnProfiles(t *testing.T, opts Options, accs ...*Access) []*Profile {
	t.Helper()
	l := New(opts)
	for _, a := range accs {
		l.Add(a)
	}
	ps, err := l.Result()
	if err != nil {
		t.Fatal(err)
	}
	// Checked on a result of their own: Explained sets the nodes' comments.
	checked, err := l.Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checked {
		if p.Parent != "" {
			continue
		}
		pf := ProfileFile{Name: p.Name, ABI: "3.0", Abstractions: p.Abstractions}
		for _, r := range p.Rules {
			pf.Rules = append(pf.Rules, r.Explained())
		}
		text := printFile(t, pf.File())
		for _, d := range policy.CheckFile(policy.NewLoader(bundled), "learned", []byte(text), policy.CheckConfig{}).Diagnostics {
			if d.Severity == policy.SeverityError {
				t.Errorf("policy.Check rejects the learned profile: %s\n%s", d, text)
			}
		}
	}
	compileLearned(t, checked, "3.0")
	return ps
}

// noneCovered fails when a learned file rule is covered by the others.
func noneCovered(t *testing.T, ps []*Profile) {
	t.Helper()
	for _, p := range ps {
		_, rules := learnedSet(t, ps, p.Name)
		for i, r := range rules {
			others := append(append([]aare.Rule{}, rules[:i]...), rules[i+1:]...)
			set, err := aare.NewSet(others, aare.VarMap(defaultVars))
			if err != nil {
				t.Fatal(err)
			}
			if res, _ := set.Covers(r, aare.VarMap(defaultVars)); res == aare.Yes {
				t.Errorf("profile %s: learned rule %s is covered by the other learned rules:\n%s", p.Name, r, render(ps))
			}
		}
	}
}

func fileRuleCount(ps []*Profile, profile, prefix string) int {
	n := 0
	for _, p := range ps {
		if p.Name != profile {
			continue
		}
		for _, r := range p.Rules {
			if fr, ok := r.Node.(*policy.FileRule); ok && strings.HasPrefix(fr.Path.Value(), prefix) {
				n++
			}
		}
	}
	return n
}

// A digit run inside a name collapses to [0-9]* once --siblings names of
// one directory vary in it; fewer stay as logged.
func TestCollapseDigitRuns(t *testing.T) {
	var accs []*Access
	for i := range 6 {
		accs = append(accs, file("app", fmt.Sprintf("/sys/devices/system/cpu/cpu%d/online", i), "r"))
	}
	for i := range 4 {
		accs = append(accs, file("app", fmt.Sprintf("/dev/hidraw%d", i), "rw"))
		accs = append(accs, file("app", fmt.Sprintf("/dev/dri/renderD%d", 128+i), "rw"))
		accs = append(accs, owned(file("app", fmt.Sprintf("/tmp/cups-%d/socket", 1465+i*7), "rw")))
	}
	accs = append(accs, file("app", "/dev/ttyS0", "rw"), file("app", "/dev/ttyS1", "rw"))
	ps := learnProfiles(t, Options{}, accs...)
	got := render(ps)
	for _, want := range []string{
		"/sys/devices/system/cpu/cpu[0-9]*/online r,",
		"/dev/hidraw[0-9]* rw,",
		"/dev/dri/renderD[0-9]* rw,",
		"owner /tmp/cups-[0-9]*/socket rw,",
		"/dev/ttyS0 rw,", // two names: below --siblings
		"/dev/ttyS1 rw,",
	} {
		if !strings.Contains(got, "  "+want+"\n") {
			t.Errorf("want %q in\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n  "); n != 6 {
		t.Errorf("%d rules, want 6:\n%s", n, got)
	}
	// --siblings 2 collapses the pair too.
	got = learnAll(t, Options{Siblings: 2}, file("app", "/dev/ttyS0", "rw"), file("app", "/dev/ttyS1", "rw"))
	if want := "profile app\n  /dev/ttyS[0-9]* rw,\n"; got != want {
		t.Errorf("--siblings 2: got\n%s\nwant\n%s", got, want)
	}
	// Constant digits stay: python3 is not python[0-9]*.
	got = learnAll(t, Options{},
		file("app", "/usr/lib/python3/a1.py", "r"), file("app", "/usr/lib/python3/a2.py", "r"),
		file("app", "/usr/lib/python3/a3.py", "r"), file("app", "/usr/lib/python3/a4.py", "r"))
	if want := "profile app\n  /usr/lib/python3/a[0-9]*.py r,\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// Siblings with different permissions merge into one rule with their
// union, unless the union adds a guarded write; --perm-union=false keeps
// them apart.
func TestPermUnion(t *testing.T) {
	hid := []*Access{
		file("app", "/dev/hidraw0", "r"), file("app", "/dev/hidraw1", "rw"),
		file("app", "/dev/hidraw2", "w"), file("app", "/dev/hidraw3", "r"),
		file("app", "/dev/hidraw4", "r"),
	}
	if got, want := learnAll(t, Options{}, hid...), "profile app\n  /dev/hidraw[0-9]* rw,\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	ps := learnProfiles(t, Options{NoPermUnion: true}, hid...)
	if got := render(ps); strings.Contains(got, "hidraw[0-9]* rw") || strings.Contains(got, "hidraw[0-9]* w") {
		t.Errorf("--perm-union=false merged different permissions:\n%s", got)
	}
	noneCovered(t, ps)

	// The union would let conf1..conf3 be written: under /etc that is
	// for a human to decide, so they stay apart and a finding says why.
	conf := []*Access{
		file("app", "/etc/myapp/conf1", "r"), file("app", "/etc/myapp/conf2", "r"),
		file("app", "/etc/myapp/conf3", "r"), file("app", "/etc/myapp/conf4", "rw"),
	}
	ps = learnProfiles(t, Options{AllowSensitive: true}, conf...)
	got := render(ps)
	for _, line := range strings.Split(got, "\n") {
		if !strings.HasPrefix(line, "  ! ") && (strings.Contains(line, "conf[0-9]* rw") || strings.Contains(line, "/etc/myapp/* rw")) {
			t.Errorf("union added a guarded write:\n%s", got)
		}
	}
	var why string
	for _, f := range ps[0].Findings {
		if f.ID == "perm-union" {
			why = f.Reason
		}
	}
	if !strings.Contains(why, "etc-write") {
		t.Errorf("no perm-union finding naming the guarded write (etc-write):\n%s", got)
	}
	set, _ := learnedSet(t, ps, "app")
	for _, a := range conf {
		if d := set.Access(a.Path, a.Perms, false); !d.Allowed {
			t.Errorf("%s %s not allowed:\n%s", a.Path, permString(a.Perms), got)
		}
	}
}

// No learned rule is covered by another: /srv/shop/db/* rw never comes
// with /srv/shop/db/4.json w.
func TestNoCoveredRules(t *testing.T) {
	var accs []*Access
	for _, n := range []string{"a", "b", "c", "d"} {
		accs = append(accs, file("app", "/srv/shop/db/"+n+".json", "rw"))
	}
	accs = append(accs, file("app", "/srv/shop/db/4.json", "w"), file("app", "/srv/shop/db/", "r"),
		file("app", "/srv/shop/db/e.json", "r"))
	for _, opts := range []Options{{}, {NoPermUnion: true}, {Glob: GlobAggressive}, {Siblings: 2}} {
		ps := learnProfiles(t, opts, accs...)
		noneCovered(t, ps)
		set, _ := learnedSet(t, ps, "app")
		for _, a := range accs {
			if d := set.Access(a.Path, a.Perms, false); !d.Allowed {
				t.Errorf("%+v: %s not allowed:\n%s", opts, a.Path, render(ps))
			}
		}
	}
}

// A directory the application writes several files in, under its own
// tree or /var/lib/APP, /var/cache/APP, /run/APP, /srv/APP, becomes dir/*
// (or dir/** when the files spread over subdirectories).
func TestDataDirs(t *testing.T) {
	tree := func(string) string { return "/opt/myapp/" }
	runGlobCases(t, Options{AppTree: tree}, false, []globCase{
		{name: "own tree", profile: "myapp",
			in:     []*Access{file("myapp", "/opt/myapp/data/k1", "w"), file("myapp", "/opt/myapp/data/selftest", "rw")},
			probes: []*Access{file("myapp", "/opt/myapp/data/k2", "w"), file("myapp", "/opt/myapp/data/k3", "rw")},
			denied: []*Access{file("myapp", "/opt/myapp/config", "w"), file("myapp", "/opt/myapp/bin/myapp", "w")}},
		{name: "var lib", profile: "myapp",
			in:     []*Access{file("myapp", "/var/lib/myapp/state.db", "rwk"), file("myapp", "/var/lib/myapp/state.db-wal", "rw")},
			probes: []*Access{file("myapp", "/var/lib/myapp/state.db-shm", "rw")}},
		{name: "run and cache", profile: "myapp",
			in: []*Access{file("myapp", "/run/myapp/a.sock", "w"), file("myapp", "/run/myapp/b.pid", "w"),
				file("myapp", "/var/cache/myapp/x/1", "w"), file("myapp", "/var/cache/myapp/y/2", "w")},
			probes: []*Access{file("myapp", "/run/myapp/c.lock", "w"), file("myapp", "/var/cache/myapp/z/3", "w")}},
		{name: "another application's data stays literal", profile: "myapp",
			in:     []*Access{file("myapp", "/var/lib/dpkg/a", "w"), file("myapp", "/var/lib/dpkg/b", "w")},
			denied: []*Access{file("myapp", "/var/lib/dpkg/status", "w")}},
	})
}

// A content tree a server reads becomes root/** r; a service's own
// spill and temp names with pids and counters collapse; sensitive places
// stay literal.
func TestContentTreesAndSpillFiles(t *testing.T) {
	runGlobCases(t, Options{}, true, []globCase{
		{name: "nginx", profile: "nginx",
			in: []*Access{file("nginx", "/var/www/html/index.html", "r"), file("nginx", "/var/www/html/about/index.html", "r"),
				file("nginx", "/var/www/html/css/site.css", "r"), file("nginx", "/var/www/html/docs/guide.html", "r"),
				file("nginx", "/var/www/html/blog/2026/first-post.html", "r")},
			probes: []*Access{file("nginx", "/var/www/html/about/team.html", "r"), file("nginx", "/var/www/html/new/x.png", "r")},
			denied: []*Access{file("nginx", "/var/www/html/index.html", "w"), file("nginx", "/var/www/other", "r")}},
		{name: "http.server", profile: "python3",
			in: []*Access{file("python3", "/srv/www/index.html", "r"), file("python3", "/srv/www/docs/a.txt", "r"),
				file("python3", "/srv/www/b/c.txt", "r"), file("python3", "/srv/www/", "r")},
			probes: []*Access{file("python3", "/srv/www/new/readme.txt", "r"), file("python3", "/srv/www/new/", "r")}},
		{name: "postgres spill files", profile: "postgres",
			in: []*Access{
				owned(file("postgres", "/var/lib/postgresql/15/main/base/pgsql_tmp/pgsql_tmp4242.0", "rw")),
				owned(file("postgres", "/var/lib/postgresql/15/main/base/pgsql_tmp/pgsql_tmp4242.0.fileset/", "w")),
				owned(file("postgres", "/var/lib/postgresql/15/main/base/pgsql_tmp/pgsql_tmp4242.0.fileset/i1of2.p0.0", "rw")),
			},
			probes: []*Access{
				file("postgres", "/var/lib/postgresql/15/main/base/pgsql_tmp/pgsql_tmp977.13", "rw"),
				file("postgres", "/var/lib/postgresql/15/main/base/pgsql_tmp/pgsql_tmp977.13.fileset/", "w"),
			}},
		{name: "redis temp dump", profile: "redis-server",
			in:     []*Access{file("redis-server", "/var/lib/redis/temp-1234.rdb", "rw")},
			probes: []*Access{file("redis-server", "/var/lib/redis/temp-98765.rdb", "rw")}},
		{name: "etc stays literal", profile: "nginx",
			in: []*Access{file("nginx", "/etc/nginx/nginx.conf", "r"), file("nginx", "/etc/nginx/conf.d/a.conf", "r"),
				file("nginx", "/etc/nginx/sites-enabled/default", "r"), file("nginx", "/etc/nginx/snippets/x.conf", "r")},
			denied: []*Access{file("nginx", "/etc/nginx/other/y.conf", "r")}},
		{name: "root's home stays literal", profile: "nginx",
			in: []*Access{file("nginx", "/root/site/index.html", "r"), file("nginx", "/root/site/a/b.html", "r"),
				file("nginx", "/root/site/c/d.html", "r"), file("nginx", "/root/site/e/f.html", "r")},
			denied: []*Access{file("nginx", "/root/site/g/h.html", "r")}},
	})
}

// globCase is one learning case of the collapse tests: after learning in,
// profile must allow each of probes and none of denied.
type globCase struct {
	name, profile string
	in, probes    []*Access
	denied        []*Access
}

// runGlobCases learns each case with opts and asks the learned profile
// for its probes and denials (as the files' owner, or not), then checks
// that no learned rule is covered by another.
func runGlobCases(t *testing.T, opts Options, owner bool, cases []globCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			ps := learnProfiles(t, opts, tt.in...)
			set, _ := learnedSet(t, ps, tt.profile)
			for _, a := range tt.probes {
				if d := set.Access(a.Path, a.Perms, owner); !d.Allowed {
					t.Errorf("%s %s is denied:\n%s", a.Path, permString(a.Perms), render(ps))
				}
			}
			for _, a := range tt.denied {
				if d := set.Access(a.Path, a.Perms, owner); d.Allowed {
					t.Errorf("%s %s is allowed:\n%s", a.Path, permString(a.Perms), render(ps))
				}
			}
			noneCovered(t, ps)
		})
	}
}

// --explain says, for each glob, which observed paths it replaced and why.
func TestExplainGlobs(t *testing.T) {
	tree := func(string) string { return "/opt/myapp/" }
	var accs []*Access
	for i := range 4 {
		accs = append(accs, file("myapp", fmt.Sprintf("/dev/hidraw%d", i), "rw"))
		accs = append(accs, file("myapp", fmt.Sprintf("/var/www/html/d%c/p.html", 'a'+i), "r"))
	}
	accs = append(accs, file("myapp", "/opt/myapp/data/k1", "w"), file("myapp", "/opt/myapp/data/k2", "w"))
	ps := learnProfiles(t, Options{AppTree: tree}, accs...)
	var b strings.Builder
	for _, r := range ps[0].Rules {
		b.WriteString(printFile(t, &policy.File{Rules: []policy.Rule{r.Explained()}}))
	}
	got := b.String()
	for _, want := range []string{"digit run", "/dev/hidraw0", "/dev/hidraw3", "data directory", "/opt/myapp/data/k1", "content tree", "/var/www/html/da/p.html"} {
		if !strings.Contains(got, want) {
			t.Errorf("--explain lacks %q:\n%s", want, got)
		}
	}
}

func TestDigitRunsOfPatterns(t *testing.T) {
	in := []string{"/a/x1/y", "/a/x2/y", "/a/x3/y", "/a/x4/z", "/b/x1/y", `/c/\x01`, `/c/\x02`, "/d/[0-9]1", "/d/[0-9]2", "@{PROC}/@{pid}/fd/1", "@{PROC}/@{pid}/fd/2"}
	got := DigitRuns(in, 2)
	for p, want := range map[string]string{
		"/a/x1/y": "/a/x[0-9]*/y", "/a/x4/z": "/a/x[0-9]*/z", "/b/x1/y": "/b/x1/y",
		`/c/\x01`: `/c/\x01`, "/d/[0-9]1": "/d/[0-9][0-9]*", "@{PROC}/@{pid}/fd/1": "@{PROC}/@{pid}/fd/[0-9]*",
	} {
		if got[p] != want {
			t.Errorf("DigitRuns: %q → %q, want %q", p, got[p], want)
		}
	}
}

// A data directory's glob is owner exactly when every path it replaced
// was the process's own (every event on it had fsuid == ouid, as
// aa-logprof proposes owner), and --explain says so; one path of another
// owner leaves the glob without owner.
func TestDataDirOwner(t *testing.T) {
	tree := func(string) string { return "/opt/myapp/" }
	for _, tt := range []struct {
		name  string
		in    []*Access
		want  string // the data directory's rule
		owner bool
	}{
		{name: "files in a directory",
			in:   []*Access{owned(file("myapp", "/var/lib/myapp/a", "w")), owned(file("myapp", "/var/lib/myapp/b", "rw"))},
			want: "owner /var/lib/myapp/* rw,", owner: true},
		{name: "a subtree of the own tree",
			in:   []*Access{owned(file("myapp", "/opt/myapp/data/x/1", "w")), owned(file("myapp", "/opt/myapp/data/y/2", "w"))},
			want: "owner /opt/myapp/data/** w,", owner: true},
		{name: "one path of another owner",
			in:   []*Access{owned(file("myapp", "/var/lib/myapp/a", "w")), file("myapp", "/var/lib/myapp/b", "w")},
			want: "/var/lib/myapp/* w,"},
		{name: "one event of another owner on a path",
			in: []*Access{owned(file("myapp", "/var/lib/myapp/a", "w")), owned(file("myapp", "/var/lib/myapp/b", "w")),
				file("myapp", "/var/lib/myapp/b", "r")},
			want: "/var/lib/myapp/* rw,"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ps := learnProfiles(t, Options{AppTree: tree}, tt.in...)
			var got []string
			for _, r := range ps[0].Rules {
				got = append(got, ruleText(r.Node))
				if ruleText(r.Node) != tt.want {
					continue
				}
				if r.Glob == nil {
					t.Fatalf("%s: no glob note", tt.want)
				}
				if said := strings.Contains(r.Glob.String(), "owner"); said != tt.owner {
					t.Errorf("--explain of %s: %q; says owner: %v, want %v", tt.want, r.Glob.String(), said, tt.owner)
				}
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("learned %q; want [%s]", got, tt.want)
			}
		})
	}
}
