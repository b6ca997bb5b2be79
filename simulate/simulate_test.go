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

func TestSimulator(t *testing.T) {
	dir := t.TempDir()
	prof := `profile app /opt/app/bin/app {
  /opt/app/** r,
  /usr/bin/helper ix,
  /usr/bin/other Cx -> other,
  capability net_bind_service,

  profile other { }
}
`
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte(prof), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := host.LoadProfileSet(dir)
	if err != nil || len(set.Problems) > 0 {
		t.Fatal(err, set.Problems)
	}
	file := func(label, path string, perms aare.Perm, line int64) *learn.Access {
		return &learn.Access{Profile: label, Class: learn.ClassFile, Path: path, Perms: perms, Loc: learn.Location{Source: "log", Line: line}}
	}
	s := New(set, "app")
	for _, a := range []*learn.Access{
		file("app", "/opt/app/conf", aare.PermRead, 1),                                 // allowed
		file("app", "/opt/app/data", aare.PermWrite, 2),                                // denied: w
		file("app", "/opt/app/data", aare.PermWrite, 3),                                // the same, counted
		file("app//null-/usr/bin/helper", "/opt/app/x", aare.PermRead, 4),              // ix: app decides, allowed
		file("app//null-/usr/bin/other", "/opt/app/x", aare.PermRead, 5),               // Cx: other decides, denied
		{Profile: "app", Class: learn.ClassCapability, Capability: "net_bind_service"}, // allowed
		{Profile: "app", Class: learn.ClassCapability, Capability: "sys_admin", Loc: learn.Location{Source: "log", Line: 7}},
		file("unrelated", "/etc/passwd", aare.PermRead, 8), // not asked for
	} {
		if err := s.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, d := range s.Denials() {
		got = append(got, d.String())
	}
	want := []string{
		"app: /opt/app/data w, (missing w); nearest rule: /opt/app/** r, [2 events, e.g. log:2, log:3]",
		"app: capability sys_admin,; nearest rule: capability net_bind_service, [1 event, e.g. log:7]",
		"app//other: /opt/app/x r, (missing r); no rule of this kind [1 event, e.g. log:5]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("denials:\n%q\nwant\n%q", got, want)
	}
	if s.Replayed != 7 || s.Skipped != 0 {
		t.Errorf("replayed %d, skipped %d", s.Replayed, s.Skipped)
	}
}
