package learn

import (
	"go/token"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// parseRules parses rules as a profile body.
func parseRules(t *testing.T, src string) []policy.Rule {
	t.Helper()
	f, err := policy.ParseFile(token.NewFileSet(), "t", []byte("profile t {\n"+src+"\n}\n"), policy.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	return f.Rules[0].(*policy.Profile).Body
}

// TestReplaceCovered: which existing rules a learned rule replaces. A
// rule that allows something the learned one does not, or that a human
// qualified (deny, audit, a priority, an exec rule, an accepted
// finding), stays.
func TestReplaceCovered(t *testing.T) {
	noVars := func(string) ([]string, bool) { return nil, false }
	for _, tc := range []struct {
		learned, existing string
		want              bool
	}{
		{"/srv/d/* rw,", "/srv/d/k1 w,", true},
		{"/srv/d/* rw,", "owner /srv/d/k1 r,", true}, // owner is narrower
		{"owner /srv/d/* rw,", "/srv/d/k1 r,", false},
		{"/srv/d/* r,", "/srv/d/k1 rw,", false},
		{"/srv/d/* rw,", "/srv/d/sub/k1 r,", false},
		{"/srv/d/** r,", "/srv/d/*/x r,", true}, // a glob, by aare's coverage
		{"/srv/d/* r,", "/srv/d/** r,", false},
		{"/srv/d/* rw,", "deny /srv/d/k1 w,", false},
		{"/srv/d/* rw,", "audit /srv/d/k1 w,", false},
		{"/srv/d/* rw,", "priority=1 /srv/d/k1 w,", false},
		{"/srv/d/* rix,", "/srv/d/run ix,", false}, // an exact path's exec mode outranks a glob's
		{"/srv/d/* rix,", "/srv/d/run px,", false},
		{"/srv/d/* rw,", "/srv/d/run rix,", false},
		{"/srv/d/* rw,", "/srv/d/k1 w, # armorer: accepted 0123abcd [x]", false},
		{"unix bind type=dgram addr=@cups-[0-9]*,", "unix bind type=dgram addr=@cups-12,", true},
		{"unix bind type=dgram addr=@cups-[0-9]*,", "unix (bind listen) type=dgram addr=@cups-12,", false},
		{"unix (bind listen) type=dgram addr=@cups-[0-9]*,", "unix bind type=dgram addr=@cups-12,", true},
		{"unix bind type=dgram addr=@cups-[0-9]*,", "unix bind addr=@cups-12,", false},           // any type
		{"unix bind type=dgram addr=@cups-[0-9]*,", "unix type=dgram addr=@cups-12,", false},     // every permission
		{"unix bind type=dgram addr=@cups-[0-9]*,", "unix bind type=dgram addr=@cups-*,", false}, // a pattern
		{"unix bind type=dgram addr=@cups-[0-9]*,", "audit unix bind type=dgram addr=@cups-12,", false},
		{"unix bind type=dgram addr=@cups-[0-9]*,", "deny unix bind type=dgram addr=@cups-12,", false},
		{"unix send type=stream peer=(addr=@x[0-9]*),", "unix send type=stream peer=(addr=@x1),", true},
		{"unix send type=stream peer=(addr=@x[0-9]*),", "unix send type=stream,", false},
		{"signal send set=(term hup) peer=app//w-[0-9]*,", "signal send set=(term) peer=app//w-1,", false}, // labels with //: text only
		{"signal send set=(term hup) peer=worker-[0-9]*,", "signal send set=(term) peer=worker-1,", true},
		{"signal send set=(term) peer=worker-[0-9]*,", "signal send set=(term hup) peer=worker-1,", false},
		{"dbus send bus=session path=/org/x/[0-9]*,", "dbus send bus=session path=/org/x/1 member=Ping,", true},
		{"dbus send bus=session path=/org/x/[0-9]*,", "dbus send bus=system path=/org/x/1,", false},
		{"signal send set=(term) peer=worker-[0-9]*,", "unix send peer=(label=worker-1),", false},
	} {
		body := parseRules(t, tc.existing)
		n := parseRules(t, tc.learned)[0]
		r := replaceCovered(body, []policy.Rule{n}, aare.Vars(noVars), "t", false)
		if got := len(r.removals) == 1; got != tc.want {
			t.Errorf("%s replaces %s: %v, want %v", tc.learned, tc.existing, got, tc.want)
		}
		if tc.want && (len(r.rest) != 0 || bareText(body[0]) != bareText(n)) {
			t.Errorf("%s: not in %s's place: %v", tc.learned, tc.existing, body)
		}
	}
}

// TestReplaceCoveredPrinted: the edited tree prints the same whether
// policy.Edits patches the file or the printer writes it whole (as Merge
// does when the file changed on disk): the learned rule in the first
// covered rule's place with the comments of all, the others gone.
func TestReplaceCoveredPrinted(t *testing.T) {
	src := "profile t {\n  /bin/t mr,\n\n  # keys\n  owner /srv/d/k1 w,\n  owner /srv/d/k2 w, # second\n\n  /srv/d/index r,\n}\n"
	want := "profile t {\n  /bin/t mr,\n\n  # keys\n  # second\n  /srv/d/* rw,\n}\n"
	fset := token.NewFileSet()
	f, err := policy.ParseFile(fset, "t", []byte(src), policy.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	p := f.Rules[0].(*policy.Profile)
	n := parseRules(t, "/srv/d/* rw,")[0]
	r := replaceCovered(p.Body, []policy.Rule{n}, aare.Vars(func(string) ([]string, bool) { return nil, false }), "t", false)
	if len(r.removals) != 3 {
		t.Fatalf("removals %v", r.removals)
	}
	edited, ok := applyEdits(fset, []byte(src), f)
	if !ok || string(edited) != want {
		t.Errorf("policy.Edits (ok %v):\n%s\nwant:\n%s", ok, edited, want)
	}
	var b strings.Builder
	if err := policy.Format(&b, fset, f); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("policy.Format:\n%s\nwant:\n%s", b.String(), want)
	}
}
