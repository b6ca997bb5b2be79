package learn_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/simulate"
)

// findingLog has accesses learn holds back (a sensitive file, a
// sensitive capability, a rule abi 3.0 cannot express) next to ones it
// learns, in two profiles.
var findingLog = []string{
	`apparmor="ALLOWED" operation="open" profile="app" name="/etc/shadow" pid=1 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
	`apparmor="ALLOWED" operation="capable" profile="app" pid=1 comm="app" capability=7 capname="setuid"`,
	`apparmor="ALLOWED" operation="capable" profile="app" pid=1 comm="app" capability=12 capname="net_admin"`,
	`apparmor="ALLOWED" operation="open" profile="app" name="/srv/app/data" pid=1 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
	`apparmor="ALLOWED" operation="open" profile="app" name="/etc/shadow" pid=1 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
	`apparmor="ALLOWED" operation="capable" profile="web" pid=2 comm="web" capability=7 capname="setuid"`,
	`apparmor="ALLOWED" operation="userns_create" class="namespace" profile="app" pid=1 comm="app" requested="userns_create" denied="userns_create"`,
}

// learnIn runs one learning session over lines in profDir.
func learnIn(t *testing.T, profDir string, acc learn.Accept, lines ...string) *learn.SessionResult {
	t.Helper()
	return learn.LearnLog(t, learn.SessionOptions{
		Dir: profDir, Include: []string{profDir, learn.Bundled},
		Options: learn.Options{ABI: "3.0"}, Merge: learn.MergeOptions{ABI: "3.0"}, Accept: acc,
	}, lineLog(t, lines...))
}

func newProfDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "apparmor.d")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// keys maps "profile: rule" to the finding's key.
func keys(res *learn.SessionResult) map[string]string {
	m := map[string]string{}
	for _, f := range res.Findings {
		m[f.Profile+": "+f.RuleText()] = f.Key()
	}
	return m
}

// TestFindingKeysStable: the same accesses give the same keys whatever
// the order and number of the events; keys differ between profiles and
// rules, and have the documented form.
func TestFindingKeysStable(t *testing.T) {
	want := keys(learnIn(t, newProfDir(t), learn.Accept{}, findingLog...))
	if len(want) < 4 {
		t.Fatalf("want findings for shadow, setuid (twice), userns; got %v", want)
	}
	seen := map[string]bool{}
	for what, k := range want {
		if !learn.IsFindingKey(k) || seen[k] {
			t.Errorf("%s: key %q malformed or not unique", what, k)
		}
		seen[k] = true
	}
	if want["app: capability setuid,"] == want["web: capability setuid,"] {
		t.Errorf("two profiles' findings share a key: %v", want)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		lines := slices.Clone(findingLog)
		rng.Shuffle(len(lines), func(a, b int) { lines[a], lines[b] = lines[b], lines[a] })
		lines = append(lines, lines[:i]...) // and more of the same events
		if got := keys(learnIn(t, newProfDir(t), learn.Accept{}, lines...)); !mapsEqual(got, want) {
			t.Errorf("order %d: keys changed:\n got %v\nwant %v", i, got, want)
		}
	}
	if k := learn.FindingKey("app", "capability setuid,"); k != want["app: capability setuid,"] {
		t.Errorf("FindingKey = %s, the finding says %s", k, want["app: capability setuid,"])
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestAcceptGrantsOnlyNamed: --accept KEY grants that finding's rule
// alone, with a comment naming it; written, the next run does not ask
// again while the other findings keep their keys.
func TestAcceptGrantsOnlyNamed(t *testing.T) {
	dir := newProfDir(t)
	first := keys(learnIn(t, dir, learn.Accept{}, findingLog...))
	setuid := first["app: capability setuid,"]
	res := learnIn(t, dir, learn.Accept{Keys: []string{setuid, "/etc/shadow r", "0badc0de"}, Reason: "needs to\ndrop privileges"}, findingLog...)
	text := changeText(res)
	if !strings.Contains(text, "capability setuid, # armorer: accepted "+setuid+" [capability]: needs to drop privileges") {
		t.Errorf("accepted rule missing or without its comment:\n%s", text)
	}
	if strings.Count(text, "capability setuid") != 1 || strings.Contains(text, "net_admin") {
		t.Errorf("more than the accepted capability granted:\n%s", text)
	}
	if !strings.Contains(text, "/etc/shadow r, # armorer: accepted "+first["app: /etc/shadow r,"]) {
		t.Errorf("--accept by rule text did not grant /etc/shadow r:\n%s", text)
	}
	if got := len(res.Accept.Accepted); got != 2 {
		t.Errorf("accepted %d findings, want 2: %v", got, res.Accept.Accepted)
	}
	if !slices.Equal(res.Accept.Unmatched, []string{"0badc0de"}) {
		t.Errorf("unmatched = %v, want [0badc0de]", res.Accept.Unmatched)
	}
	if res.Accounting.HeldBack == 0 || res.Accounting.Learned == 0 {
		t.Errorf("accounting: %+v", res.Accounting)
	}
	accounted(t, res)
	for _, c := range res.Changes {
		if err := os.WriteFile(c.Path, c.New, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	again := keys(learnIn(t, dir, learn.Accept{}, findingLog...))
	for _, gone := range []string{"app: capability setuid,", "app: /etc/shadow r,"} {
		if k, ok := again[gone]; ok {
			t.Errorf("accepted finding %s (%s) asked again", gone, k)
		}
	}
	for what, k := range again {
		if first[what] != k {
			t.Errorf("%s: key %s, was %s", what, k, first[what])
		}
	}
	if again["web: capability setuid,"] == "" {
		t.Errorf("accepting app's setuid granted web's too: %v", again)
	}
}

// TestAcceptRefusesUnexpressible: a rule the ABI cannot express is not
// granted by a decision.
func TestAcceptRefusesUnexpressible(t *testing.T) {
	dir := newProfDir(t)
	var key string
	for _, f := range learnIn(t, dir, learn.Accept{}, findingLog...).Findings {
		if f.ID == "abi" {
			key = f.Key()
		}
	}
	if key == "" {
		t.Fatal("no abi finding")
	}
	res := learnIn(t, dir, learn.Accept{Keys: []string{key}}, findingLog...)
	if len(res.Accept.Refused) != 1 || len(res.Accept.Accepted) != 0 || strings.Contains(changeText(res), "userns") {
		t.Errorf("abi finding accepted: %+v\n%s", res.Accept, changeText(res))
	}
}

// TestAcceptNamesOnlyThePath: a held-back path with glob characters, a
// quote or a newline in its name is written, in the finding and when
// accepted, as a literal that matches that one path: accepting the
// write to a file named "/etc/app/*" must not grant every file there.
func TestAcceptNamesOnlyThePath(t *testing.T) {
	dir := newProfDir(t)
	star := `apparmor="ALLOWED" operation="open" profile="app" name=2F6574632F6170702F2A pid=1 comm="app" requested_mask="w" denied_mask="w" fsuid=0 ouid=0` // /etc/app/*
	odd := `apparmor="ALLOWED" operation="open" profile="app" name=2F6574632F6170702F61220A2F6574632F736861646F772072772C23 pid=1 comm="app" requested_mask="w" denied_mask="w" fsuid=0 ouid=0`
	first := keys(learnIn(t, dir, learn.Accept{}, star, odd))
	k1, k2 := first[`app: /etc/app/\* w,`], first[`app: "/etc/app/a\x22\x0a/etc/shadow rw,\x23" w,`]
	if k1 == "" || k2 == "" {
		t.Fatalf("findings not written as escaped literals: %v", first)
	}
	res := learnIn(t, dir, learn.Accept{Keys: []string{k1, k2}, Reason: "test"}, star, odd)
	for _, c := range res.Changes {
		if err := os.WriteFile(c.Path, c.New, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	validProfiles(t, res, dir, "3.0", true)
	pol, err := host.LoadProfileSet(dir, dir, learn.Bundled)
	if err != nil {
		t.Fatal(err)
	}
	sim := simulate.New(pol)
	for _, line := range []string{star, odd, strings.Replace(star, "2F2A ", "2F78 ", 1)} { // the last: /etc/app/x
		for _, a := range learn.LogAccesses(t, []byte(numbered([]string{line})[0]+"\n")) {
			if err := sim.Add(a); err != nil {
				t.Fatal(err)
			}
		}
	}
	var denied []string
	for _, d := range sim.Denials() {
		denied = append(denied, d.String())
	}
	if len(denied) != 1 || !strings.Contains(denied[0], "/etc/app/x") {
		t.Errorf("want only /etc/app/x denied (the accepted rules name two files), got %q", denied)
	}
}
