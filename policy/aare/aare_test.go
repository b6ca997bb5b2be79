package aare

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// Every row of these tables was answered by apparmor_parser 3.0.8
// (TestTableAgainstCompiler re-checks them against the compiler).
var matchTable = []struct {
	pattern, path string
	want          bool
}{
	{"/tmp/*", "/tmp/abc", true},
	{"/tmp/*", "/tmp/", false}, // a whole-component star needs one byte
	{"/tmp/*", "/tmp/a/b", false},
	{"/tmp/**", "/tmp/a/b", true},
	{"/tmp/**", "/tmp/a/", true},
	{"/tmp/**", "/tmp/", false},
	{"/tmp/**/", "/tmp/a/", true},
	{"/tmp/*/", "/tmp/a/", true},
	{"/*", "/", false},
	{"/tmp/a*", "/tmp/a", true}, // not a whole component: may be empty
	{"/tmp/*b", "/tmp/b", true},
	{"/x/*{a,}", "/x/", true}, // followed by '{', not '/' or the end
	{"/tmp/x{a,/}*", "/tmp/x/", true},
	{"/tmp/x{a,/}*", "/tmp/x/b", true},
	{"/tmp/x\\/*", "/tmp/x/", false}, // an escaped '/' still starts a component
	{"/tmp/x***", "/tmp/x/b", true},  // `***` is `**`
	{"/tmp/***", "/tmp/", false},
	{"/x/a?c", "/x/a/c", false},
	{"/x/a[^b]c", "/x/a/c", true}, // a negated class matches '/'
	{"/x/a[/]b", "/x/a/b", true},
	{"/x/[{a,b}]", "/x/,", true},
	{"/x/[{a,b}]", "/x/}", true},
	{"/x/[-a]", "/x/-", true},
	{"/x/[!a]", "/x/!", true}, // '!' does not negate
	{"/x/[!a]", "/x/b", false},
	{"/x/[^a]", "/x/^", true},
	{"/x/[\\]]", "/x/]", true},
	{"/x/[c-a]", "/x/b", true},   // reversed range
	{"/x/[a\\-c]", "/x/b", true}, // an escaped '-' is still a range
	{"/x/[a\\-c]", "/x/-", false},
	{"/x/[\\^a]", "/x/a", false}, // an escaped '^' still negates
	{"/x/[\\^a]", "/x/b", true},
	{"/x/[a\\x2dc]", "/x/b", true},
	{"/x/[\\x5ea]", "/x/^", true},
	{"/x/{,a}", "/x/", true},
	{"/x/{a,{b,c}}", "/x/c", true},
	{"/x/\\q", "/x/q", true},
	{"/x/\\n", "/x/n", false},
	{"/x/\\x41", "/x/A", true},
	{"/x/\\x4g", "/x/\x04g", true},
	{"/x/\\x411", "/x/A1", true},
	{"/x/\\d065", "/x/A", true},
	{"/x/\\d6", "/x/\x06", true},
	{"/x/\\d", "/x/d", true},
	{"/x/\\1", "/x/\x01", true},
	{"/x/\\18", "/x/\x018", true},
	{"/x/\\a", "/x/\a", true},
	{"/x/\\e", "/x/\x1b", true},
	{"/x/\\b", "/x/b", true},
	{"/x/\\v", "/x/v", true},
	{"/x/a.b", "/x/acb", false},
	{"/x/a+", "/x/aa", false},
	{"/x/(a|b)", "/x/a", false},
	{"/x/a$", "/x/a", false},
	{"/x/a,b", "/x/a,b", true},
	{"/a//b", "/a/b", true}, // runs of '/' in a rule collapse
	{"/x/\\d300", "/x/\x1e0", true},
	{"/a\\x2f/a", "/a/a", true}, // numeric escapes are decoded before '/' runs collapse
	{"/a\\/\\/a", "/a/a", false},
	{"/x/\\x2f*", "/x/", false},
	{"/\\x2fa", "/a", false}, // "//a" keeps its leading "//"
	{"/x/\\d256", "/x/\x196", true},
	{"/x/\\400", "/x/\x200", true},
	{"/x/\\777", "/x/\x3f7", true},
}

var coverTable = []struct{ a, b string }{
	{"/tmp/*", "/tmp/abc"},
	{"/tmp/*", "/tmp/"},
	{"/a/b", "/a//b"},
	{"/a//b", "/a/b"},
	{"/tmp/**", "/tmp/*"},
	{"/tmp/*", "/tmp/**"},
	{"/tmp/**", "/tmp/*/**"},
	{"/tmp/*/**", "/tmp/**"},
	{"/x/{a,b}*", "/x/a"},
	{"/x/?*", "/x/*"},
	{"/x/*", "/x/?*"},
	{"/x/[^/]", "/x/?"},
	{"/x/[ab]", "/x/{a,b}"},
	{"/x/{a,b,}", "/x/{,a}"},
	{"/**", "/[^/]**"},
}

// ruleTable: does {base} already cover extra?
var ruleTable = []struct {
	base  []string
	extra string
	want  Result
}{
	{[]string{"/a/b* r"}, "/a/bc r", Yes},
	{[]string{"deny /a/b* r"}, "/a/bc r", Yes}, // nothing to add: deny wins
	{[]string{"deny /a/b* r"}, "audit /a/bc r", No},
	{[]string{"deny /a/b* r"}, "audit deny /a/bc r", Yes},
	{[]string{"audit deny /a/b* r"}, "deny /a/bc r", No},
	{[]string{"/a/b* r"}, "audit /a/bc r", No},
	{[]string{"audit /a/b* r"}, "/a/bc r", Yes},
	{[]string{"/a/b* r"}, "owner /a/bc r", Yes},
	{[]string{"owner /a/b* r"}, "/a/bc r", No},
	{[]string{"owner /a/b* r", "/a/bc r"}, "owner /a/bc r", Yes},
	{[]string{"/a/b* rw"}, "/a/bc r", Yes},
	{[]string{"/a/b* w"}, "/a/bc a", Yes}, // w includes append
	{[]string{"/a/b* a"}, "/a/bc w", No},
	{[]string{"/a/b* ix"}, "/a/bc ix", Yes},
	{[]string{"/a/b* ix"}, "/a/bc px", No},  // an exact path overrides the glob's mode
	{[]string{"/a/b* ix"}, "/a/bc* px", No}, // conflicting modes: refused by the compiler
	{[]string{"/a/b* px"}, "/a/bc Px", No},
	{[]string{"/a/b* pix"}, "/a/bc px", No},
	{[]string{"/a/b* ux"}, "/a/bc ux", Yes},
	{[]string{"/a/b* ux"}, "/a/bc Ux", No},
	{[]string{"/a/b* Pux"}, "/a/bc PUx", Yes},
	{[]string{"/a/b* px -> foo"}, "/a/bc px -> foo", Yes},
	{[]string{"/a/b* cx"}, "/a/bc cx -> foo", No},
	{[]string{"/a/bc ix"}, "/a/b* ix", No},
	{[]string{"/a/b* ix"}, "deny /a/bc x", No},
	{[]string{"deny /a/b* x"}, "/a/bc ix", No},
	{[]string{"/a/b* mr"}, "/a/bc m", Yes},
	{[]string{"deny /a/b* w"}, "/a/bc a", Yes},
	{[]string{"/a/b* w"}, "deny /a/bc a", No},
	{[]string{"/tmp/* r"}, "/tmp/ r", No},
	{[]string{"/tmp/* r", "/tmp/ r"}, "/tmp/{,*} r", Yes},
}

// parseRule reads "[audit] [deny] [owner] PATTERN PERMS [-> target]".
func parseRule(s string) (Rule, error) {
	f := strings.Fields(s)
	var r Rule
	for len(f) > 0 {
		switch f[0] {
		case "audit":
			r.Audit = true
		case "deny":
			r.Deny = true
		case "owner":
			r.Owner = true
		default:
			goto rest
		}
		f = f[1:]
	}
rest:
	if len(f) != 2 && !(len(f) == 4 && f[2] == "->") {
		return r, errors.New("bad rule " + s)
	}
	r.Pattern = f[0]
	var err error
	if r.Perms, r.Exec, err = ParsePerms(f[1]); err != nil {
		return r, err
	}
	if len(f) == 4 {
		r.Exec.Target = f[3]
	}
	return r, nil
}

func mustRules(t testing.TB, ss []string) []Rule {
	t.Helper()
	var out []Rule
	for _, s := range ss {
		r, err := parseRule(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestMatchTable(t *testing.T) {
	for _, tc := range matchTable {
		p, err := Compile(tc.pattern, nil)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.pattern, err)
			continue
		}
		if got := p.Match(tc.path); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v (tree %s)", tc.pattern, tc.path, got, tc.want, p.Tree())
		}
	}
}

func TestRuleTable(t *testing.T) {
	for _, tc := range ruleTable {
		set, err := NewSet(mustRules(t, tc.base), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := set.Covers(mustRules(t, []string{tc.extra})[0], nil)
		if err != nil || got != tc.want {
			t.Errorf("%v covers %q = %v, %v; want %v", tc.base, tc.extra, got, err, tc.want)
		}
	}
}

func TestCoversWitness(t *testing.T) {
	for _, tc := range coverTable {
		a, b := MustCompile(tc.a), MustCompile(tc.b)
		w, r := Uncovered(a, b)
		switch r {
		case Yes:
			if w != "" {
				t.Errorf("Uncovered(%q, %q) = %q with Yes", tc.a, tc.b, w)
			}
		case No:
			if !b.Match(w) || a.Match(w) {
				t.Errorf("Uncovered(%q, %q): witness %q is not matched by b only", tc.a, tc.b, w)
			}
		default:
			t.Errorf("Uncovered(%q, %q) = %v", tc.a, tc.b, r)
		}
	}
}

var badPatterns = []struct {
	pattern string
	col     int
}{
	{"/x/{a}", 4},
	{"/x/{}", 4},
	{"/x/{a,b", 4},
	{"/x/a}", 5},
	{"/x/a]", 5},
	{"/x/[a", 4},
	{"/x/[]", 4},
	{"/x/[^]", 4},
	{"/x/[a-]", 6},
	{"/x/[a-c-e]", 8},
	{"/x/[*]", 5},
	{"/x/a\\", 5},
	{"/x/@{HOME}", 4},
	{"/x/@{1x}", 4},
	{"/x" + strings.Repeat("{a,", MaxAlternationDepth+1) + "b" + strings.Repeat("}", MaxAlternationDepth+1), 3 + 3*MaxAlternationDepth},
}

func TestBadPatterns(t *testing.T) {
	if _, err := Compile("/x"+strings.Repeat("{a,", MaxAlternationDepth)+"b"+strings.Repeat("}", MaxAlternationDepth), nil); err != nil {
		t.Errorf("deepest nesting refused: %v", err)
	}
	for _, tc := range badPatterns {
		_, err := Compile(tc.pattern, nil)
		var pe *PatternError
		if !errors.Is(err, ErrBadPattern) || !errors.As(err, &pe) {
			t.Errorf("Compile(%q) = %v, want ErrBadPattern", tc.pattern, err)
			continue
		}
		if pe.Offset+1 != tc.col || pe.Pattern != tc.pattern {
			t.Errorf("Compile(%q): %v; want col %d", tc.pattern, err, tc.col)
		}
	}
}

func TestVariables(t *testing.T) {
	vars := VarMap(map[string][]string{
		"HOME":  {"/home/*/", "/root/"},
		"PROC":  {"/proc/"},
		"multi": {"a", "@{PROC}x"},
	})
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"@{HOME}.ssh/id", "/home/bob/.ssh/id", true},
		{"@{HOME}.ssh/id", "/root/.ssh/id", true},
		{"@{HOME}/.ssh/id", "/root/.ssh/id", true}, // "//" collapses after expansion
		{"@{HOME}.ssh/id", "/home//.ssh/id", false},
		{"@{PROC}[0-9]*/maps", "/proc/12/maps", true},
		{"/@{multi}", "/a", true},
		{"/@{multi}", "/proc/x", true},
	} {
		p, err := Compile(tc.pattern, vars)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tc.pattern, err)
		}
		if got := p.Match(tc.path); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
	if _, err := Compile("/@{nope}", vars); !errors.Is(err, ErrBadPattern) {
		t.Errorf("undefined variable: %v", err)
	}
}

func TestSetAccess(t *testing.T) {
	set, err := NewSet(mustRules(t, []string{
		"/etc/app/** r",
		"owner /home/*/data/** rw",
		"deny /etc/app/secret r",
		"/usr/bin/helper ix",
		"/usr/bin/* px",
		"audit /var/log/app.log w",
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path    string
		req     Perm
		owned   bool
		allowed bool
		denied  Perm
		exec    string
		nearest int
	}{
		{"/etc/app/conf", PermRead, false, true, 0, "", -1},
		{"/etc/app/conf", PermWrite, false, false, 0, "", 0},
		{"/etc/app/secret", PermRead, false, false, PermRead, "", 0},
		{"/home/bob/data/x", PermRead | PermWrite, true, true, 0, "", -1},
		{"/home/bob/data/x", PermRead, false, false, 0, "", 1},  // owner rule, file not owned
		{"/usr/bin/helper", PermExec, false, true, 0, "ix", -1}, // the exact path wins
		{"/usr/bin/other", PermExec, false, true, 0, "px", -1},
		{"/var/log/app.log", PermAppend, false, true, 0, "", -1},
		{"/var/log/app.log.1", PermAppend, false, false, 0, "", 5},
	} {
		d := set.Access(tc.path, tc.req, tc.owned)
		if d.Allowed != tc.allowed || d.Denied != tc.denied || d.Nearest != tc.nearest ||
			(tc.exec != "" && d.Exec.String() != tc.exec) {
			t.Errorf("Access(%q, %v, owned=%v) = %+v", tc.path, tc.req, tc.owned, d)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	p := MustCompile("/usr/{lib,lib64}/**/python3.[0-9]*/site-packages/*.so")
	path := "/usr/lib/x86_64-linux-gnu/python3.11/site-packages/_ssl.so"
	if !p.Match(path) {
		t.Fatal("no match")
	}
	if n := testing.AllocsPerRun(100, func() { p.Match(path) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
	set, err := NewSet(mustRules(t, []string{"/usr/** r", "/usr/lib/**.so mr", "deny /usr/lib/secret r"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { set.Access(path, PermRead|PermMmap, false) }); n != 0 {
		t.Errorf("Set.Access allocates %v times", n)
	}
}

func TestParsePerms(t *testing.T) {
	for _, s := range []string{"r", "rw", "mr", "ix", "rPx", "pix", "Cux", "k", "l"} {
		p, m, err := ParsePerms(s)
		if err != nil {
			t.Errorf("ParsePerms(%q): %v", s, err)
			continue
		}
		got := (p &^ PermExec).String()
		if p&PermExec != 0 {
			got += m.String()
		}
		want := strings.Replace(s, "rPx", "rPx", 1)
		if len(got) != len(want) {
			t.Errorf("ParsePerms(%q) prints as %q", s, got)
		}
	}
	for _, s := range []string{"q", "rix px", "ixpx", "Ix", "p"} {
		if _, _, err := ParsePerms(s); err == nil {
			t.Errorf("ParsePerms(%q) accepted", s)
		}
	}
	if p, _, _ := ParsePerms("w"); p != PermWrite|PermAppend {
		t.Errorf("w = %v", p)
	}
}

// TestAccessAgreesWithCovers ties Access (used by simulate) to Covers (proved
// against the compiler): a rule for exactly one path adds nothing to the set
// exactly when every requested permission is allowed or explicitly denied.
func TestAccessAgreesWithCovers(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(3, 4))}
	perms := []Perm{PermRead, PermWrite | PermAppend, PermAppend, PermLink, PermLock, PermMmap, PermRead | PermMmap}
	checked := 0
	for range 3000 {
		var rules []Rule
		for range 1 + g.r.IntN(4) {
			r := g.rule("/" + g.seq(2, 3))
			r.Perms &^= PermExec
			r.Audit = false
			if r.Perms == 0 {
				r.Perms = PermRead
			}
			rules = append(rules, r)
		}
		set, err := NewSet(rules, nil)
		if err != nil {
			continue
		}
		p, err := Compile(rules[g.r.IntN(len(rules))].Pattern, nil)
		if err != nil {
			continue
		}
		path := g.path(p)
		req := perms[g.r.IntN(len(perms))]
		owned := g.r.IntN(2) == 0
		d := set.Access(path, req, owned)
		cov, err := set.Covers(Rule{Pattern: literalPattern(path), Perms: req, Owner: owned}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := d.Missing&^d.Denied == 0; (cov == Yes) != want {
			t.Errorf("rules %v, path %q, %v owned=%v: Access %+v but Covers %v", rules, path, req, owned, d, cov)
		}
		if d.Allowed != (d.Missing == 0) || (!d.Allowed && d.Nearest < 0 && len(set.Matching(path)) > 0 && !allDeny(rules)) {
			t.Errorf("rules %v, path %q: inconsistent decision %+v", rules, path, d)
		}
		checked++
	}
	if checked < 2000 {
		t.Fatalf("only %d cases checked", checked)
	}
}

func allDeny(rules []Rule) bool {
	for _, r := range rules {
		if !r.Deny {
			return false
		}
	}
	return true
}

func TestUnknownPastBound(t *testing.T) {
	a := MustCompile("/**a?????????")
	b := MustCompile("/**b?????????")
	if r := product(a.d, b.d, 10, func(sx, sy int32) bool { return false }, nil); r != Unknown {
		t.Errorf("product past its bound = %v, want unknown", r)
	}
	if _, err := Compile("/*"+strings.Repeat("a", 3000), nil); !errors.Is(err, ErrTooComplex) {
		t.Errorf("long literal after a star: %v, want ErrTooComplex", err)
	}
	// apparmor_parser 3.0.8 never finishes compiling this one; it is valid.
	p := MustCompile("/{,{,a,},}")
	if !p.Match("/") || !p.Match("/a") || p.Match("/b") {
		t.Error("/{,{,a,},}")
	}
}

func TestSetTooComplexFallsBack(t *testing.T) {
	var rules []Rule
	for _, c := range "abcd" {
		rules = append(rules, Rule{Pattern: "/**" + string(c) + strings.Repeat("?", 9), Perms: PermRead})
	}
	rules = append(rules, Rule{Pattern: "/x/*", Perms: PermWrite, Deny: true})
	set, err := NewSet(rules, nil)
	if err != nil {
		t.Fatal(err)
	}
	if set.d != nil {
		t.Skip("combined automaton fit; nothing to test")
	}
	if d := set.Access("/x/a123456789", PermRead, false); !d.Allowed {
		t.Errorf("fallback Access = %+v", d)
	}
	if d := set.Access("/x/y", PermWrite, false); d.Allowed || d.Denied != PermWrite {
		t.Errorf("fallback Access = %+v", d)
	}
	// Covers retries with the rules that share a path with the new rule.
	if r, err := set.Covers(Rule{Pattern: "/x/a123456789", Perms: PermRead}, nil); r != Yes || err != nil {
		t.Errorf("Covers on a set too complex = %v, %v; want yes", r, err)
	}
	if r, err := set.Covers(Rule{Pattern: "/x/a12345678", Perms: PermRead}, nil); r != No || err != nil {
		t.Errorf("Covers on a set too complex = %v, %v; want no", r, err)
	}
	if r, err := set.Covers(Rule{Pattern: "/**", Perms: PermRead}, nil); r != Unknown || err != nil {
		t.Errorf("Covers of /** on a set too complex = %v, %v; want unknown", r, err)
	}
}
