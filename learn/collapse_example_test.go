package learn_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/policy/aare"
	"github.com/armorer-dev/armorer/simulate"
)

// exampleDir copies the bundled example's profile directory.
func exampleDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "apparmor.d")
	if err := os.CopyFS(dir, os.DirFS(learn.Bundled)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// learnFile runs one session over a log file in dir and writes the
// changes.
func learnFile(t *testing.T, dir, log string) *learn.SessionResult {
	t.Helper()
	res := learn.LearnLog(t, learn.SessionOptions{Dir: dir, Options: learn.Options{ABI: "3.0"}, Merge: learn.MergeOptions{ABI: "3.0"}}, log)
	validProfiles(t, res, dir, "3.0", true)
	return res
}

// keyLog is the log of the example app storing keys: the kernel's lines
// for /opt/myapp/data/KEY, as the bundled log has them for k1.
func keyLog(t *testing.T, keys ...string) string {
	var lines []string
	for i, k := range keys {
		lines = append(lines,
			fmt.Sprintf(`[    4.131092] audit: type=1400 audit(1795600436.255:%d): apparmor="ALLOWED" operation="mknod" profile="myapp" name="/opt/myapp/data/%s" pid=106 comm="myapp" requested_mask="c" denied_mask="c" fsuid=0 ouid=0`, 500+2*i, k),
			fmt.Sprintf(`[    4.131335] audit: type=1400 audit(1795600436.255:%d): apparmor="ALLOWED" operation="open" profile="myapp" name="/opt/myapp/data/%s" pid=106 comm="myapp" requested_mask="wc" denied_mask="wc" fsuid=0 ouid=0`, 501+2*i, k))
	}
	p := filepath.Join(t.TempDir(), "keys.log")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func allowsKey(t *testing.T, dir, key string) bool {
	t.Helper()
	s, err := learn.OpenSession(learn.SessionOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cov, err := learn.ProfileCoverage(s.Profiles, "myapp")
	if err != nil {
		t.Fatal(err)
	}
	// The app writes its keys as itself (fsuid == ouid, as in the log).
	return cov.MissingFile("/opt/myapp/data/"+key, aare.PermWrite, true) == 0
}

// The bundled example stores any key as /opt/myapp/data/KEY: the profile
// learned from its log (keys k1 and selftest) must allow the next key,
// and learning k2 and k3 later adds no rule of its own.
func TestExampleDataDir(t *testing.T) {
	dir := exampleDir(t)
	learnFile(t, dir, "../examples/myapp/audit.log")
	if !allowsKey(t, dir, "k2") {
		text, _ := os.ReadFile(filepath.Join(dir, "opt.myapp.bin.myapp"))
		t.Fatalf("the learned profile denies the next key, data/k2:\n%s", text)
	}
	res := learnFile(t, dir, keyLog(t, "k2", "k3"))
	if !res.Accounting.NothingNew() || len(res.Changes) != 0 {
		t.Errorf("k2, k3 learned again: %s", res.Accounting)
	}
}

// Generalisation considers the profile's rules with the new events: a
// profile with today's literal /opt/myapp/data/k1 w, learning k2 and k3,
// gets one rule for the directory, not one literal rule per key.
func TestExistingRulesGeneraliseWithEvents(t *testing.T) {
	dir := exampleDir(t)
	prof := filepath.Join(dir, "opt.myapp.bin.myapp")
	text, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	text = []byte(strings.Replace(string(text), "  /opt/myapp/bin/myapp mr,\n", "  /opt/myapp/bin/myapp mr,\n  /opt/myapp/data/k1 w,\n", 1))
	if err := os.WriteFile(prof, text, 0o644); err != nil {
		t.Fatal(err)
	}
	res := learnFile(t, dir, keyLog(t, "k2", "k3"))
	var rules []string
	for _, p := range res.Profiles {
		for _, r := range p.Rules {
			rules = append(rules, r.RuleText())
		}
	}
	if len(rules) != 1 || !strings.HasPrefix(rules[0], "/opt/myapp/data/*") {
		t.Errorf("learned %q; want one rule for /opt/myapp/data/*", rules)
	}
	if !allowsKey(t, dir, "k4") {
		t.Errorf("the next key, data/k4, is denied")
	}
}

// Property: random file accesses whose names vary in digit runs, in data
// directories, content trees and temp names (with every byte value in
// them) collapse into profiles that policy.Check and apparmor_parser 3.0.8
// accept, and that still allow every access (simulate denies nothing
// learn did not report).
func TestCollapsedProfilesProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 3))
	word := func() string { // every byte value but NUL and '/'
		var b []byte
		for range 1 + rng.IntN(4) {
			c := byte(1 + rng.IntN(255))
			if c == '/' {
				c = 'x'
			}
			b = append(b, c)
		}
		return string(b)
	}
	name := func() string {
		switch rng.IntN(4) {
		case 0:
			return fmt.Sprintf("cpu%d", rng.IntN(40))
		case 1:
			return fmt.Sprintf("pgsql_tmp%d.%d", 100+rng.IntN(9000), rng.IntN(5))
		case 2:
			return word() + fmt.Sprint(rng.IntN(100)) + word()
		}
		return word()
	}
	dirs := []string{"/srv/app/", "/var/lib/app/", "/var/www/html/", "/var/www/html/sub/", "/opt/app/data/", "/dev/", "/etc/app/", "/tmp/"}
	globs := 0
	for i := range 6 {
		var lines []string
		for range 30 {
			p := dirs[rng.IntN(len(dirs))] + name()
			if rng.IntN(3) == 0 {
				p += "/" + name()
			}
			lines = append(lines, `apparmor="ALLOWED" operation="open" profile="app" name=`+fmt.Sprintf("%X", p)+
				` pid=1 comm="app" requested_mask="`+[]string{"r", "w", "rw", "a", "rk", "m"}[rng.IntN(6)]+`" denied_mask="r" fsuid=0 ouid=0`)
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			res, dir := sessionWith(t, "3.0", func(o *learn.SessionOptions) { o.Options.Siblings = 2 }, lines...)
			accounted(t, res)
			validProfiles(t, res, dir, "3.0", true)
			for _, p := range res.Profiles {
				for _, r := range p.Rules {
					if r.Glob != nil {
						globs++
					}
				}
			}
			pol, err := host.LoadProfileSet(dir, dir, learn.Bundled)
			if err != nil {
				t.Fatal(err)
			}
			sim := simulate.New(pol)
			for _, a := range learn.LogAccesses(t, []byte(strings.Join(numbered(lines), "\n")+"\n")) {
				if err := sim.Add(a); err != nil {
					t.Error(err)
				}
			}
			for _, d := range sim.Denials() {
				if !reported(res.Profiles, d) {
					t.Errorf("simulate denies what learn neither allowed nor reported: %s", d)
				}
			}
			for _, f := range res.Findings {
				if f.ID == "invalid-rule" {
					t.Errorf("learn built a rule its checker rejects: %s", f)
				}
			}
			if t.Failed() {
				for _, f := range res.Findings {
					t.Logf("finding %s", f)
				}
				t.Logf("events:\n%s", strings.Join(lines, "\n"))
			}
		})
	}
	if globs < 6 {
		t.Errorf("%d globs learned in 6 runs: the property does not exercise the collapse", globs)
	}
}
