package aare

import (
	"errors"
	"strings"
	"testing"
)

func seedPatterns(f *testing.F) {
	for _, tc := range matchTable {
		f.Add(tc.pattern, tc.path)
	}
	for _, tc := range coverTable {
		f.Add(tc.a, tc.b)
	}
	for _, s := range []string{"/{,{,a,},}", "/x/[^]a]", "/x/[*]", "/a/@{x}", "/**", "//", "/\\x2f*", "/[\\x5ea]", "/[a\\-]"} {
		f.Add(s, "/a")
	}
}

// FuzzParse: no panic; an accepted pattern prints as text that parses back to
// the same tree and compiles to an equivalent automaton; a refused one is
// refused with ErrBadPattern (or ErrTooComplex).
func FuzzParse(f *testing.F) {
	seedPatterns(f)
	f.Fuzz(func(t *testing.T, pattern, _ string) {
		tree, err := Parse(pattern, nil)
		if err != nil {
			if !errors.Is(err, ErrBadPattern) && !errors.Is(err, ErrTooComplex) {
				t.Fatalf("Parse(%q): unexpected error kind %v", pattern, err)
			}
			return
		}
		printed := tree.String()
		again, err := Parse(printed, nil)
		if err != nil {
			t.Fatalf("Parse(%q) printed as %q, which does not parse: %v", pattern, printed, err)
		}
		if again.String() != printed {
			t.Fatalf("print is not stable: %q -> %q -> %q", pattern, printed, again.String())
		}
		a, errA := Compile(pattern, nil)
		b, errB := Compile(printed, nil)
		if errA != nil || errB != nil {
			return // too complex
		}
		if Covers(a, b) == No || Covers(b, a) == No {
			w, _ := Uncovered(a, b)
			w2, _ := Uncovered(b, a)
			t.Fatalf("%q and its print %q differ on %q / %q", pattern, printed, w, w2)
		}
	})
}

// FuzzMatch: no panic; a pattern without metacharacters matches its own text
// (after slash collapsing); Match agrees with Covers of a literal pattern.
func FuzzMatch(f *testing.F) {
	seedPatterns(f)
	f.Fuzz(func(t *testing.T, pattern, path string) {
		p, err := Compile(pattern, nil)
		if err != nil {
			return
		}
		got := p.Match(path)
		if p.MatchPrefix(path) != len(path) && got {
			t.Fatalf("Match(%q, %q) but MatchPrefix < len", pattern, path)
		}
		if !strings.ContainsAny(pattern, `*?[]{}\@`) && !strings.Contains(pattern, "//") && !strings.ContainsRune(pattern, 0) {
			if !p.Match(pattern) {
				t.Fatalf("literal pattern %q does not match itself", pattern)
			}
		}
		if strings.Contains(path, "//") || strings.IndexByte(path, 0) >= 0 {
			return
		}
		lit, err := Compile(literalPattern(path), nil)
		if err != nil {
			t.Fatalf("literal of %q: %v", path, err)
		}
		if !lit.Match(path) {
			t.Fatalf("literal pattern of %q does not match it", path)
		}
		if c := Covers(p, lit); (c == Yes) != got && c != Unknown {
			t.Fatalf("Match(%q, %q) = %v but Covers = %v", pattern, path, got, c)
		}
	})
}
