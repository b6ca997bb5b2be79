package simulate

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/policy/aare"
)

// TestProbeSiblings: for each allowed file access, simulate asks whether a
// new file beside it would be allowed (a fresh name; for a numbered name
// the next number) — the question the seed's "profile too restrictive"
// failure needed: data/k1 was allowed, the first new key data/k2 was not.
func TestProbeSiblings(t *testing.T) {
	dir := t.TempDir()
	prof := `profile app /opt/app/bin/app {
  /opt/app/data/k1 w,
  /srv/www/** r,
  /sys/devices/system/cpu/cpu12/online r,
  /var/lib/app/*.db rw,
  /etc/app.conf r,
  /tmp/app-upload-* w,
  /usr/lib/libz.so* mr,
}
`
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte(prof), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := host.LoadProfileSet(dir)
	if err != nil || len(set.Problems) > 0 {
		t.Fatal(err, set.Problems)
	}
	file := func(path string, perms aare.Perm, line int64) *learn.Access {
		return &learn.Access{Profile: "app", Class: learn.ClassFile, Path: path, Perms: perms, Loc: learn.Location{Source: "log", Line: line}}
	}
	s := New(set, "app")
	s.ProbeSiblings = true
	for _, a := range []*learn.Access{
		file("/opt/app/data/k1", aare.PermWrite, 1),
		file("/srv/www/index.html", aare.PermRead, 2),
		file("/sys/devices/system/cpu/cpu12/online", aare.PermRead, 3),
		file("/var/lib/app/users.db", aare.PermRead|aare.PermWrite, 4),
		file("/opt/app/data/k9", aare.PermWrite, 5),   // denied: no probe for it
		file("/srv/www/about.html", aare.PermRead, 6), // two pages read: a content tree
		file("/etc/app.conf", aare.PermRead, 7),       // one file read: no fresh name
		file("/tmp/app-upload-41", aare.PermWrite, 8), // temp: only the next number
		file("/usr/lib/libz.so.1", aare.PermRead|aare.PermMmap, 9),
	} {
		if err := s.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, p := range s.Probes() {
		got = append(got, p.String())
	}
	want := []string{
		"app: /opt/app/data/armorer-probe w, would be denied: a new file beside /opt/app/data/k1; nearest rule: /opt/app/data/k1 w,",
		"app: /opt/app/data/k2 w, would be denied: the next number after /opt/app/data/k1; nearest rule: /opt/app/data/k1 w,",
		"app: /srv/www/armorer-probe.html r, allowed (a new file beside /srv/www/about.html)",
		"app: /sys/devices/system/cpu/cpu13/online r, would be denied: the next number after /sys/devices/system/cpu/cpu12/online; nearest rule: /sys/devices/system/cpu/cpu12/online r,",
		"app: /tmp/app-upload-42 w, allowed (the next number after /tmp/app-upload-41)",
		"app: /usr/lib/libz.so.2 mr, allowed (the next number after /usr/lib/libz.so.1)",
		"app: /var/lib/app/armorer-probe.db rw, allowed (a new file beside /var/lib/app/users.db)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("probes:\n%q\nwant\n%q", got, want)
	}
	// Probes are questions, not denials.
	if n := len(s.Denials()); n != 1 {
		t.Errorf("%d denials, want 1 (k9): %v", n, s.Denials())
	}
}
