package aare

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestMeetsAgreesWithIntersect: Meets, which walks the tree, answers what
// Intersect answers on the compiled automaton, for random patterns (with
// stars, classes, alternations and variables), against random and
// specialised patterns, with and without an except set.
func TestMeetsAgreesWithIntersect(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(14, 4))}
	vars := VarMap(map[string][]string{"HOME": {"@{HOMEDIRS}/*/", "/root/"}, "HOMEDIRS": {"/home/"}})
	n, yes := 0, 0
	for i := range 3000 {
		as := g.pattern()
		if i%3 == 0 {
			as = "@{HOME}/" + as
		}
		bs := g.pattern()
		if i%2 == 0 {
			bs = g.specialize(as)
			if i%3 == 0 {
				bs = "{/root/,/home/*/}" + bs
			}
		}
		a, err := Compile(as, vars)
		if err != nil {
			continue
		}
		tree, err := Parse(as, vars)
		if err != nil {
			t.Fatalf("Parse(%q): %v, but it compiles", as, err)
		}
		b, err := Compile(bs, vars)
		if err != nil {
			continue
		}
		var ex *Pattern
		if i%4 != 0 {
			if p, err := Compile(literalPattern(g.path(a)), nil); err == nil {
				ex = p
			}
		}
		_, want := Intersect(a, b, ex)
		if want == Unknown {
			continue
		}
		if got := Meets(tree, b, ex); got != (want == Yes) {
			t.Errorf("Meets(%q, %q, %v) = %v; Intersect says %v", as, bs, ex, got, want)
		}
		// The same except as literal paths: a few of a's, one of b's.
		var lits []string
		for range 1 + g.r.IntN(3) {
			lits = append(lits, g.path(a))
		}
		lits = append(lits, g.path(b))
		slices.Sort(lits)
		lits = slices.Compact(lits)
		var alts []string
		for _, l := range lits {
			alts = append(alts, strings.ReplaceAll(literalPattern(l), ",", "\\,"))
		}
		lp, err := Compile("{"+strings.Join(alts, ",")+",\\x01}", nil)
		if err != nil || slices.ContainsFunc(lits, func(l string) bool { return strings.Contains(l, "//") }) {
			continue
		}
		_, wantLits := Intersect(a, b, lp)
		if wantLits != Unknown && MeetsLiterals(tree, b, lits) != (wantLits == Yes) {
			t.Errorf("MeetsLiterals(%q, %q, %q) = %v; Intersect says %v", as, bs, lits, !(wantLits == Yes), wantLits)
		}
		n++
		if want == Yes {
			yes++
		}
	}
	if n < 1000 || yes < n/10 {
		t.Fatalf("only %d cases compared, %d meeting", n, yes)
	}
}

func TestMeets(t *testing.T) {
	vars := VarMap(map[string][]string{"HOME": {"/home/*/", "/root/"}})
	for _, tt := range []struct {
		a, b, except string
		want         bool
	}{
		{"@{HOME}/.profile", "/root/{,**}", "", true},
		{"@{HOME}/.profile", "/etc/{,**}", "", false},
		{"@{HOME}/.profile", "/root/{,**}", "/root/.profile", false},
		{"/home/*/x", "/home/alice/x", "/home/alice/x", false},
		{"/home/*/x", "{/home/alice/x,/home/bob/x}", "/home/alice/x", true},
		{"/tmp/*", "/tmp/[a-c]", "", true},
		{"/tmp/**", "/tmp/", "", false},
		{"/tmp/a[0-9]*b", "/tmp/a12b", "", true},
		{"/tmp/a[0-9]*b", "/tmp/ab", "", false},
		{"/tmp/a[0-9]*b", "/tmp/a1x2b", "", true}, // [0-9]* is a digit, then a star
		{"/tmp/a[0-9]*b", "/tmp/a1/b", "", false},
	} {
		tree, err := Parse(tt.a, vars)
		if err != nil {
			t.Fatal(err)
		}
		var ex *Pattern
		if tt.except != "" {
			ex = MustCompile(tt.except)
		}
		if got := Meets(tree, MustCompile(tt.b), ex); got != tt.want {
			t.Errorf("Meets(%q, %q, %q) = %v, want %v", tt.a, tt.b, tt.except, got, tt.want)
		}
	}
}

// TestMatchTreeAgreesWithMatch: MatchTree, which walks the tree, matches
// what the compiled automaton matches, on paths drawn from each random
// pattern's language and on near misses.
func TestMatchTreeAgreesWithMatch(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(14, 5))}
	vars := VarMap(map[string][]string{"HOME": {"@{HOMEDIRS}/*/", "/root/"}, "HOMEDIRS": {"/home/"}})
	n, matched := 0, 0
	for i := range 3000 {
		ps := g.pattern()
		if i%3 == 0 {
			ps = "@{HOME}/" + ps
		}
		p, err := Compile(ps, vars)
		if err != nil {
			continue
		}
		tree, err := Parse(ps, vars)
		if err != nil {
			t.Fatalf("Parse(%q): %v, but it compiles", ps, err)
		}
		path := g.path(p)
		for _, s := range []string{path, path + "a", path + "/", strings.TrimSuffix(path, path[len(path)-1:]), "/root" + path, "/home/u" + path} {
			want := p.Match(s)
			if got := MatchTree(tree, s); got != want {
				t.Errorf("MatchTree(%q, %q) = %v; Match says %v", ps, s, got, want)
			}
			n++
			if want {
				matched++
			}
		}
	}
	if n < 5000 || matched < n/20 {
		t.Fatalf("only %d cases, %d matching", n, matched)
	}
}

// TestCoversLiteralAgreesWithCovers: for a literal rule, CoversLiteral
// answers what NewSet(rules).Covers answers, on random rule sets (every
// permission and exec mode, owner, audit, deny) and paths from their
// patterns.
func TestCoversLiteralAgreesWithCovers(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(14, 6))}
	n, yes := 0, 0
	for range 2000 {
		var rules []Rule
		for range 1 + g.r.IntN(3) {
			rules = append(rules, g.rule("/"+g.seq(2, 3)))
		}
		set, err := NewSet(rules, nil)
		if err != nil {
			continue
		}
		p := set.pats[g.r.IntN(len(set.pats))]
		r := g.rule(literalPattern(g.path(p)))
		if g.r.IntN(3) == 0 {
			b := rules[g.r.IntN(len(rules))]
			r.Perms, r.Exec, r.Deny = b.Perms, b.Exec, b.Deny
		}
		want, err := set.Covers(r, nil)
		if err != nil || want == Unknown {
			continue
		}
		got, ok, err := CoversLiteral(rules, r, nil)
		if !ok || err != nil {
			t.Fatalf("CoversLiteral(%v, %v): ok %v, %v", rules, r, ok, err)
		}
		if got != want {
			t.Errorf("CoversLiteral(%v, %v) = %v; Covers says %v", rules, r, got, want)
		}
		n++
		if want == Yes {
			yes++
		}
	}
	if n < 1000 || yes < n/10 {
		t.Fatalf("only %d cases, %d covered", n, yes)
	}
	if _, ok, _ := CoversLiteral(nil, Rule{Pattern: "/a/*", Perms: PermRead}, nil); ok {
		t.Error("CoversLiteral answers for a glob")
	}
}

// TestCoversTreeAgreesWithCovers: CoversTree, which walks the tree of b,
// answers what Covers answers on the two compiled automata, for random
// patterns against random and specialised ones (with variables).
func TestCoversTreeAgreesWithCovers(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(14, 7))}
	vars := VarMap(map[string][]string{"HOME": {"@{HOMEDIRS}/*/", "/root/"}, "HOMEDIRS": {"/home/"}})
	n, yes := 0, 0
	for i := range 4000 {
		as := g.pattern()
		if i%3 == 0 {
			as = "@{HOME}/" + as
		}
		a, err := Compile(as, vars)
		if err != nil {
			continue
		}
		bs := g.pattern()
		switch i % 4 {
		case 0, 1:
			bs = g.specialize(as)
		case 2:
			bs = literalPattern(g.path(a))
		}
		b, err := Compile(bs, vars)
		if err != nil {
			continue
		}
		tree, err := Parse(bs, vars)
		if err != nil {
			t.Fatalf("Parse(%q): %v, but it compiles", bs, err)
		}
		want := Covers(a, b)
		if want == Unknown {
			continue
		}
		if got := CoversTree(a, tree); got != (want == Yes) {
			t.Errorf("CoversTree(%q, %q) = %v; Covers says %v", as, bs, got, want)
		}
		n++
		if want == Yes {
			yes++
		}
	}
	if n < 2000 || yes < n/10 || yes > n*9/10 {
		t.Fatalf("only %d cases compared, %d covered", n, yes)
	}
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"/var/cache/app/**", "/var/cache/app/3d/[0-9a-f]*", true},
		{"/var/cache/app/[0-9]*/[0-9a-f]*", "/var/cache/app/3d/[0-9a-f]*", true}, // [0-9]* is a digit, then a star
		{"/var/cache/app/[0-9]*/[0-9a-f]*", "/var/cache/app/d3/[0-9a-f]*", false},
		{"/tmp/*", "/tmp/tmp.ab??????", true},
		{"/tmp/*", "/tmp/**", false},
		{"/tmp/*", "/tmp/", false}, // a star after a slash matches no empty name
		{"@{HOME}/*", "/home/*/x", true},
		{"/home/*/x", "@{HOME}/x", false},
	} {
		tree, err := Parse(tt.b, vars)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(tt.a, vars)
		if err != nil {
			t.Fatal(err)
		}
		if got := CoversTree(p, tree); got != tt.want {
			t.Errorf("CoversTree(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
