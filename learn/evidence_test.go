package learn

import (
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/policy/aare"
)

// An Evidence copied (a finding's, and the rule entry its events go on
// in) must not change when the other copy counts more: each keeps its own
// examples and lines.
func TestEvidenceCopiesIndependent(t *testing.T) {
	var e Evidence
	for _, n := range []int64{30, 50, 70} {
		e.Add(&Access{Loc: Location{Source: "log", Line: n}}, "/b"+string(rune('0'+n/10)))
	}
	kept := e // a finding's copy
	wantLines, wantExamples := slices.Clone(kept.Lines), slices.Clone(kept.Examples)
	e.Add(&Access{Loc: Location{Source: "log", Line: 10}}, "/a")
	e.merge(Evidence{Count: 1, Examples: []string{"/a0"}, Lines: []Location{{Source: "log", Line: 20}}})
	if !slices.Equal(kept.Lines, wantLines) {
		t.Errorf("the copy's lines changed to %v, want %v", kept.Lines, wantLines)
	}
	if !slices.Equal(kept.Examples, wantExamples) {
		t.Errorf("the copy's examples changed to %v, want %v", kept.Examples, wantExamples)
	}
	if want := []Location{{"log", 10}, {"log", 20}, {"log", 30}}; !slices.Equal(e.Lines, want) {
		t.Errorf("lines %v, want %v", e.Lines, want)
	}
	if want := []string{"/a", "/a0", "/b3"}; !slices.Equal(e.Examples, want) {
		t.Errorf("examples %v, want %v", e.Examples, want)
	}
}

// Add finds a non-file access's rule by appendAccessKey, without building
// the rule: two accesses must share a key exactly when the rules ruleFor
// makes for them have the same key fields (keyOf).
func TestAccessKeyIsRuleKey(t *testing.T) {
	logs, _ := filepath.Glob("../auditlog/testdata/kernel/*/*.log")
	if len(logs) == 0 {
		t.Fatal("no kernel logs")
	}
	var accesses []*Access
	for _, in := range logs {
		accesses = append(accesses, readAccesses(t, in)...)
	}
	// Fields that only some classes' rules use, set on every class.
	for c := ClassCapability; c <= ClassMqueue; c++ {
		for _, v := range []string{"", "x", "@x", "x\x00"} {
			accesses = append(accesses, &Access{Class: c, Capability: v, Family: v, SockType: v, Addr: v, PeerAddr: v,
				Peer: v, Bus: v, DBusPath: v, Interface: v, Member: v, PeerName: v, Path: v, MqType: v, FSType: v,
				Flags: v, Source: v, Target: v, Mask: []string{"send"}},
				&Access{Class: c, Peer: v, Path: "p" + v, Mask: []string{"bind"}, PeerName: v})
		}
	}
	byKey := map[string]otherKey{}
	byRule := map[otherKey]string{}
	classes := map[Class]bool{}
	for _, a := range accesses {
		if a.Class == ClassFile {
			continue
		}
		classes[a.Class] = true
		r := ruleFor(a)
		k, rk := string(appendAccessKey(nil, a)), keyOf(&r)
		if old, ok := byKey[k]; ok && old != rk {
			t.Errorf("key %q for two rules: %+v and %+v", k, old, rk)
		}
		if old, ok := byRule[rk]; ok && old != k {
			t.Errorf("rule %+v has two keys: %q and %q", rk, old, k)
		}
		byKey[k], byRule[rk] = rk, k
		if back := ruleOfKey(k); !reflect.DeepEqual(back, r) {
			t.Errorf("key %q gives back the rule\n%+v, want\n%+v", k, back, r)
		}
	}
	if len(classes) < 10 {
		t.Errorf("only %d classes tried", len(classes))
	}
}

// A path's compact record (fileSeen) gives the evidence Evidence.Add
// would have counted, whatever the events' times (UTC instants, other
// zones, zero) and locations (several sources, none, repeated).
func TestFileSeenEvidence(t *testing.T) {
	utc := func(s int64) time.Time { return time.Unix(s, 5e6).UTC() }
	zone := time.FixedZone("X", 3600)
	for name, times := range map[string][]time.Time{
		"utc":   {utc(50), utc(20), {}, utc(90), utc(20)},
		"zones": {utc(50), time.Unix(10, 0).In(zone), utc(90), time.Unix(95, 0).In(zone)},
		"zero":  {{}, {}},
		"epoch": {time.Unix(0, 0).UTC(), utc(3)},
	} {
		t.Run(name, func(t *testing.T) {
			l := New(Options{})
			var want Evidence
			locs := []Location{{"b.log", 7}, {"a.log", 9}, {}, {"b.log", 3}, {"a.log", 9}, {"a.log", 1}, {"c.log", 2}}
			for i := range 2 * len(locs) {
				a := &Access{Profile: "p", Class: ClassFile, Path: "/f", Perms: aare.PermRead,
					Time: times[i%len(times)], Loc: locs[i%len(locs)]}
				l.Add(a)
				want.Add(a, a.Path)
			}
			la := l.labels["p"]
			_, f := l.fileAccOf(la, la.files[l.ids.nameID(nil, 0, "/f")])
			got := f.evidence
			if got.Count != want.Count || !got.First.Equal(want.First) || !got.Last.Equal(want.Last) ||
				!slices.Equal(got.Lines, want.Lines) || !slices.Equal(got.Examples, want.Examples) {
				t.Errorf("record's evidence\n%+v, want\n%+v", got, want)
			}
		})
	}
}
