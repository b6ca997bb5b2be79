package simulate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// @{profile_name} is the profile's own name, as apparmor_parser defines it:
// abstractions/base's `signal peer=@{profile_name},` allows signalling
// itself, not every peer. A pattern that does not compile allows nothing
// and is reported.
func TestProfileNameVariable(t *testing.T) {
	dir := t.TempDir()
	prof := `profile app /opt/app/bin/app {
  signal peer=@{profile_name},
  ptrace (read) peer=@{profile_name},
  ptrace (read) peer=@{undefined},

  profile child {
    signal peer=@{profile_name},
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte(prof), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := host.LoadProfileSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := New(set, "app")
	for i, a := range []*learn.Access{
		{Profile: "app", Class: learn.ClassSignal, Mask: []string{"send"}, Signal: "term", Peer: "app"},               // allowed
		{Profile: "app", Class: learn.ClassSignal, Mask: []string{"send"}, Signal: "term", Peer: "unconfined"},        // denied
		{Profile: "app", Class: learn.ClassPtrace, Mask: []string{"read"}, Peer: "app"},                               // allowed
		{Profile: "app", Class: learn.ClassPtrace, Mask: []string{"read"}, Peer: "unconfined"},                        // denied
		{Profile: "app//child", Class: learn.ClassSignal, Mask: []string{"send"}, Signal: "term", Peer: "app//child"}, // allowed
		{Profile: "app//child", Class: learn.ClassSignal, Mask: []string{"send"}, Signal: "term", Peer: "app"},        // denied
	} {
		a.Loc = learn.Location{Source: "log", Line: int64(i + 1)}
		if err := s.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	var got []int64
	for _, d := range s.Denials() {
		got = append(got, d.Lines[0].Line)
	}
	slices.Sort(got)
	if want := []int64{2, 4, 6}; !slices.Equal(got, want) {
		t.Errorf("denied lines %v, want %v; denials: %v", got, want, s.Denials())
	}
	probs := s.Problems()
	if len(probs) != 1 || !strings.Contains(probs[0].Error(), "@{undefined}") {
		t.Errorf("problems %v, want the pattern using @{undefined}", probs)
	}
}

// An exec into a Cx (or Px) target that does not exist fails in enforce
// mode: a predicted denial, whether the exec or only the child's accesses
// were logged.
func TestMissingExecTarget(t *testing.T) {
	dir := t.TempDir()
	prof := `profile app /opt/app/bin/app {
  /bin/sh Cx -> sh,
  /bin/ls Px -> nowhere,
  /usr/bin/ok Cx -> ok,
  /usr/bin/nobody Px,
  /usr/bin/pix pix -> nowhere,
  /usr/bin/cix cix -> nochild,
  /usr/bin/pux PUx,

  profile ok { /etc/hosts r, }
}
`
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte(prof), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := host.LoadProfileSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		in   []*learn.Access
		want int
	}{
		{"exec logged", []*learn.Access{{Profile: "app", Class: learn.ClassFile, Operation: "exec", Path: "/bin/sh", Perms: aare.PermExec}}, 1},
		{"px logged", []*learn.Access{{Profile: "app", Class: learn.ClassFile, Operation: "exec", Path: "/bin/ls", Perms: aare.PermExec}}, 1},
		{"child only", []*learn.Access{{Profile: "app//null-/bin/sh", Class: learn.ClassFile, Path: "/etc/hosts", Perms: aare.PermRead}}, 1},
		// Px without a target and no profile that attaches: no fallback.
		{"px no profile", []*learn.Access{{Profile: "app", Class: learn.ClassFile, Operation: "exec", Path: "/usr/bin/nobody", Perms: aare.PermExec}}, 1},
		{"px no profile, child only", []*learn.Access{{Profile: "app//null-/usr/bin/nobody", Class: learn.ClassFile, Path: "/etc/hosts", Perms: aare.PermRead}}, 1},
		// A fallback (i: inherit, u: unconfined) runs the exec anyway;
		// inherit means app decides the child's accesses.
		{"pix falls back", []*learn.Access{
			{Profile: "app", Class: learn.ClassFile, Operation: "exec", Path: "/usr/bin/pix", Perms: aare.PermExec},
			{Profile: "app//null-/usr/bin/pix", Class: learn.ClassFile, Path: "/usr/bin/pix", Perms: aare.PermExec}}, 0},
		{"cix falls back", []*learn.Access{{Profile: "app", Class: learn.ClassFile, Operation: "exec", Path: "/usr/bin/cix", Perms: aare.PermExec}}, 0},
		{"pux falls back", []*learn.Access{{Profile: "app", Class: learn.ClassFile, Operation: "exec", Path: "/usr/bin/pux", Perms: aare.PermExec}}, 0},
		{"existing child", []*learn.Access{
			{Profile: "app", Class: learn.ClassFile, Operation: "exec", Path: "/usr/bin/ok", Perms: aare.PermExec},
			{Profile: "app//null-/usr/bin/ok", Class: learn.ClassFile, Path: "/etc/hosts", Perms: aare.PermRead}}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := New(set, "app")
			for _, a := range tt.in {
				if err := s.Add(a); err != nil {
					t.Fatal(err)
				}
			}
			ds := s.Denials()
			if len(ds) != tt.want {
				t.Fatalf("denials %v, want %d", ds, tt.want)
			}
			for _, d := range ds {
				if !strings.HasPrefix(d.Why, "the exec fails") {
					t.Errorf("denial %v does not say the exec fails", d)
				}
			}
		})
	}
}
