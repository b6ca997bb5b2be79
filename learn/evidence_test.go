package learn

import (
	"slices"
	"testing"
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
