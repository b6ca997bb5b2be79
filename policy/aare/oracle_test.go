package aare

// The compiler as an exact oracle: apparmor_parser -QK -S prints a canonical,
// minimised automaton, so a profile with rules {A} and one with {A, B} compile
// to identical bytes exactly when A already covers B. Every generated case
// asks armorer the same question and requires the same answer.

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// oracleCase is one question: does adding extra to base change the policy?
type oracleCase struct {
	kind  string // "match", "pattern", "rule", "vars", "table"
	vars  map[string][]string
	base  []Rule
	extra Rule
	// armorer's answer: want is Yes when extra is covered; badBase/badExtra
	// when armorer refuses a pattern.
	want              Result
	badBase, badExtra bool
	unsupported       bool // armorer refused a pattern on purpose (ErrUnsupported)
}

func (c oracleCase) String() string {
	var s []string
	for _, r := range c.base {
		s = append(s, quoteRule(r))
	}
	v := ""
	for _, name := range slices.Sorted(maps.Keys(c.vars)) {
		v += " @{" + name + "}=" + strings.Join(c.vars[name], " ")
	}
	return c.kind + v + ": {" + strings.Join(s, " ") + "} + " + quoteRule(c.extra)
}

// decide fills in armorer's answer.
func decide(c *oracleCase) {
	var vars Vars
	if c.vars != nil {
		vars = VarMap(c.vars)
	}
	for _, r := range c.base {
		if _, err := Compile(r.Pattern, vars); err != nil {
			c.badBase = true
			c.unsupported = errors.Is(err, ErrUnsupported)
			return
		}
	}
	if _, err := Compile(c.extra.Pattern, vars); err != nil {
		c.badExtra = true
		c.unsupported = errors.Is(err, ErrUnsupported)
		return
	}
	set, err := NewSet(c.base, vars)
	if err != nil {
		c.badBase = true
		return
	}
	c.want, _ = set.Covers(c.extra, vars)
}

// checkAgainstCompiler compiles every case's {base} and {base, extra} and
// compares the compiler's verdict with armorer's.
func checkAgainstCompiler(t *testing.T, cases []oracleCase) {
	t.Helper()
	o := newOracle(t)
	profiles := make([][]string, 0, 2*len(cases))
	for i := range cases {
		decide(&cases[i])
		var rules []string
		for _, name := range slices.Sorted(maps.Keys(cases[i].vars)) {
			rules = append(rules, "@{"+name+"}="+strings.Join(cases[i].vars[name], " "))
		}
		for _, r := range cases[i].base {
			rules = append(rules, quoteRule(r))
		}
		profiles = append(profiles, rules, append(rules[:len(rules):len(rules)], quoteRule(cases[i].extra)))
	}
	outs := o.compileAll(context.Background(), t, profiles)
	type tally struct{ yes, no, refused, hung, unsupported, agree, total int }
	stats := map[string]*tally{}
	var failures []string
	for i, c := range cases {
		a, ab := outs[2*i], outs[2*i+1]
		st := stats[c.kind]
		if st == nil {
			st = &tally{}
			stats[c.kind] = st
		}
		st.total++
		var ok bool
		var compiler string
		switch {
		case a.hung || ab.hung:
			// apparmor_parser 3.0.8 loops forever on some nested empty
			// alternatives, e.g. "/{,{,a,},}": no verdict to compare.
			st.hung++
			t.Logf("apparmor_parser did not finish: %s", c)
			continue
		case c.unsupported && (a.err == "" || (c.badExtra && ab.err == "")):
			// armorer refuses on purpose what the compiler accepts (see
			// ErrUnsupported): not a disagreement about any path.
			st.unsupported++
			continue
		case a.err != "":
			compiler = "base refused: " + a.err
			ok = c.badBase || conflicting(c.base)
			st.refused++
		case c.badBase:
			compiler, ok = "base accepted", false
		case ab.err != "" && c.badExtra:
			compiler, ok = "extra refused", true
			st.refused++
		case ab.err != "":
			// the only other reason to refuse {base, extra} is an exec
			// conflict, which makes extra not covered.
			compiler = "refused: " + ab.err
			ok = c.want == No && strings.Contains(ab.err, "conflicting x modifiers")
			st.no++
		case c.badExtra:
			compiler, ok = "extra accepted", false
		case a.sum == ab.sum:
			compiler, ok = "covered", c.want == Yes
			st.yes++
		default:
			compiler, ok = "not covered", c.want == No
			st.no++
		}
		if ok {
			st.agree++
		} else {
			failures = append(failures, c.String()+"\n\tcompiler: "+compiler+"\n\tarmorer: "+armorerAnswer(c))
		}
	}
	for _, k := range []string{"table", "match", "pattern", "rule", "vars", "real"} {
		if st := stats[k]; st != nil {
			t.Logf("%-8s cases=%d agree=%d (compiler: covered=%d not-covered=%d refused=%d hung=%d; armorer refused by design=%d)", k, st.total, st.agree, st.yes, st.no, st.refused, st.hung, st.unsupported)
		}
	}
	for i, f := range failures {
		if i == 30 {
			t.Errorf("... and %d more disagreements", len(failures)-30)
			break
		}
		t.Errorf("disagreement: %s", f)
	}
}

func armorerAnswer(c oracleCase) string {
	switch {
	case c.badBase:
		return "base refused"
	case c.badExtra:
		return "extra refused"
	}
	return "covered=" + c.want.String()
}

// conflicting reports whether allow rules in rules disagree on exec modes
// somewhere (the compiler refuses such a base; armorer's Set reports it per
// access instead).
func conflicting(rules []Rule) bool {
	for i, a := range rules {
		for _, b := range rules[i+1:] {
			if a.Perms&b.Perms&PermExec != 0 && !a.Deny && !b.Deny && a.Exec != b.Exec {
				return true
			}
		}
	}
	return false
}

// gen produces random patterns over a small alphabet, with the constructs
// whose semantics are subtle.
type gen struct{ r *rand.Rand }

var (
	genLits    = []string{"a", "b", ".", "/", "/", "ab", "/a", "a/"}
	genClasses = []string{"[ab]", "[^a]", "[a/]", "[^/]", "[.-b]", "[-a]", "[\\]a]", "[^b/]", "[b-a]", "[\\*a]", "[{,}]"}
	genEscapes = []string{"\\*", "\\{", "\\.", "\\b", "\\/", "\\,", "\\?", "\\[", "\\]", "\\}", "\\q",
		"\\x2a", "\\d042", "\\x2f", "\\x5d", "\\141", "\\x61", "\\d97", "\\t", "\\e", "\\x2d", "\\x5e"}
	genBad = []string{"{a}", "[]", "}", "[a-]", "{a,b", "]", "[^]", "{}", "[*]"}
)

func (g gen) atom(depth int) string {
	switch n := g.r.IntN(100); {
	case n < 35:
		return genLits[g.r.IntN(len(genLits))]
	case n < 50:
		return []string{"*", "**", "*", "?", "***"}[g.r.IntN(5)]
	case n < 62:
		return genClasses[g.r.IntN(len(genClasses))]
	case n < 78 && depth < 3:
		k := 2 + g.r.IntN(2)
		alts := make([]string, k)
		for i := range alts {
			if g.r.IntN(6) > 0 {
				alts[i] = g.seq(depth+1, 2)
			}
		}
		return "{" + strings.Join(alts, ",") + "}"
	case n < 88:
		return genEscapes[g.r.IntN(len(genEscapes))]
	case n < 90:
		return genBad[g.r.IntN(len(genBad))]
	}
	return "a"
}

func (g gen) seq(depth, maxAtoms int) string {
	var b strings.Builder
	for range 1 + g.r.IntN(maxAtoms) {
		b.WriteString(g.atom(depth))
	}
	return b.String()
}

func (g gen) pattern() string { return "/" + g.seq(0, 5) }

// path returns a path (no "//", as the kernel never reports one) over the
// alphabet; if p is set, usually one p matches (by a random walk on its
// automaton), to get both answers often.
func (g gen) path(p *Pattern) string {
	const alphabet = "/.abc"
	var b []byte
	if p != nil && g.r.IntN(4) > 0 {
		st := p.d.start
		b = nil
		for range 12 {
			if p.d.accept[st] >= 0 && g.r.IntN(3) == 0 {
				break
			}
			var next []byte
			for i := 0; i < len(alphabet); i++ {
				if p.d.step(st, alphabet[i]) != 0 {
					next = append(next, alphabet[i])
				}
			}
			if len(next) == 0 {
				break
			}
			c := next[g.r.IntN(len(next))]
			b = append(b, c)
			st = p.d.step(st, c)
		}
		if g.r.IntN(5) == 0 && len(b) > 0 { // mutate one byte
			b[g.r.IntN(len(b))] = alphabet[g.r.IntN(len(alphabet))]
		}
	} else {
		b = []byte{'/'}
		for range g.r.IntN(9) {
			b = append(b, alphabet[g.r.IntN(len(alphabet))])
		}
	}
	s := string(b)
	for strings.Contains(s, "//") {
		s = strings.ReplaceAll(s, "//", "/")
	}
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	return s
}

// specialize rewrites a pattern into one it often covers.
func (g gen) specialize(p string) string {
	repl := [][2]string{{"**", "*"}, {"*", "a"}, {"*", "a*"}, {"?", "b"}, {"[ab]", "a"}, {"{", "{a,"}, {"/", "/a/"}, {"*", "?*"}, {"a", "?"}, {"", "a"}}
	for range 1 + g.r.IntN(2) {
		r := repl[g.r.IntN(len(repl))]
		if r[0] == "" {
			p += r[1]
			continue
		}
		if i := strings.Index(p, r[0]); i >= 0 && (i == 0 || p[i-1] != '\\') {
			p = p[:i] + r[1] + p[i+len(r[0]):]
		}
	}
	return p
}

var genPerms = []string{"r", "w", "a", "rw", "ra", "m", "mr", "k", "l", "rk", "ix", "rix", "px", "Px", "cx", "Cx", "ux", "Ux", "pix", "Pux", "PUx", "cix"}

func (g gen) rule(pattern string) Rule {
	s := genPerms[g.r.IntN(len(genPerms))]
	perms, mode, err := ParsePerms(s)
	if err != nil {
		panic(err)
	}
	if mode.Kind == ExecProfile || mode.Kind == ExecChild {
		if n := g.r.IntN(5); n < 2 {
			mode.Target = []string{"foo", "bar"}[n]
		}
	}
	r := Rule{Pattern: pattern, Perms: perms, Exec: mode}
	r.Owner = g.r.IntN(4) == 0
	r.Audit = g.r.IntN(6) == 0
	if g.r.IntN(5) == 0 {
		r.Deny = true
		r.Exec = ExecMode{}
	}
	return r
}

func literalPattern(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		if strings.IndexByte(`*?[]{},\@"`, path[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(path[i])
	}
	return b.String()
}

func generateCases(seed uint64, nMatch, nPattern, nRule int) []oracleCase {
	g := gen{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	read := func(p string) Rule { return Rule{Pattern: p, Perms: PermRead} }
	var cases []oracleCase
	for range nMatch {
		ps := g.pattern()
		p, _ := Compile(ps, nil)
		path := g.path(p)
		cases = append(cases, oracleCase{kind: "match", base: []Rule{read(ps)}, extra: read(literalPattern(path))})
	}
	for range nPattern {
		a := g.pattern()
		b := g.pattern()
		if g.r.IntN(2) == 0 {
			b = g.specialize(a)
		}
		cases = append(cases, oracleCase{kind: "pattern", base: []Rule{read(a)}, extra: read(b)})
	}
	pool := func() string { return "/" + g.seq(2, 3) }
	for range nRule {
		var base []Rule
		for range 1 + g.r.IntN(3) {
			base = append(base, g.rule(pool()))
		}
		ep := pool()
		if g.r.IntN(2) == 0 {
			ep = g.specialize(base[g.r.IntN(len(base))].Pattern)
		}
		extra := g.rule(ep)
		if g.r.IntN(3) == 0 { // same permissions as a base rule, to get coverage often
			b := base[g.r.IntN(len(base))]
			extra.Perms, extra.Exec, extra.Deny = b.Perms, b.Exec, b.Deny
		}
		cases = append(cases, oracleCase{kind: "rule", base: base, extra: extra})
	}
	return cases
}

var genVarValues = []string{"/a/", "b", "a/", "/b", "*", "?b", "a//b", "[ab]", "/", "**"}

// generateVarCases puts a variable with one to three values somewhere in a
// pattern, then asks a match or a coverage question about it.
func generateVarCases(seed uint64, n int) []oracleCase {
	g := gen{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	read := func(p string) Rule { return Rule{Pattern: p, Perms: PermRead} }
	var cases []oracleCase
	for range n {
		var vals []string
		for range 1 + g.r.IntN(3) {
			vals = append(vals, genVarValues[g.r.IntN(len(genVarValues))])
		}
		vars := map[string][]string{"V": slices.Compact(slices.Sorted(slices.Values(vals)))}
		ps := "/" + g.seq(2, 2)
		i := 1 + g.r.IntN(len(ps))
		ps = ps[:i] + "@{V}" + ps[i:]
		if strings.Contains(ps, "\\@") {
			ps = strings.ReplaceAll(ps, "\\@", "@")
		}
		var extra Rule
		if p, err := Compile(ps, VarMap(vars)); err == nil && g.r.IntN(2) == 0 {
			extra = read(literalPattern(g.path(p)))
		} else {
			extra = read("/" + g.seq(2, 3))
		}
		cases = append(cases, oracleCase{kind: "vars", vars: vars, base: []Rule{read(ps)}, extra: extra})
	}
	return cases
}

func TestCompilerOracle(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 400
	}
	cases := generateCases(20261125, n, n, n)
	cases = append(cases, generateVarCases(7, n/2)...)
	checkAgainstCompiler(t, cases)
}

// TestTableAgainstCompiler proves the hand-written table right.
func TestTableAgainstCompiler(t *testing.T) {
	var cases []oracleCase
	for _, tc := range matchTable {
		cases = append(cases, oracleCase{kind: "table",
			base:  []Rule{{Pattern: tc.pattern, Perms: PermRead}},
			extra: Rule{Pattern: literalPattern(tc.path), Perms: PermRead}})
	}
	for _, tc := range coverTable {
		cases = append(cases, oracleCase{kind: "table",
			base:  []Rule{{Pattern: tc.a, Perms: PermRead}},
			extra: Rule{Pattern: tc.b, Perms: PermRead}})
	}
	deepest := "/x" + strings.Repeat("{a,", MaxAlternationDepth) + "b" + strings.Repeat("}", MaxAlternationDepth)
	cases = append(cases, oracleCase{kind: "table", base: []Rule{{Pattern: deepest, Perms: PermRead}}, extra: Rule{Pattern: "/xb", Perms: PermRead}})
	for _, tc := range badPatterns {
		if strings.HasSuffix(tc.pattern, "\\") || strings.Contains(tc.pattern, "@{") {
			continue // not expressible in a profile without a variable
		}
		cases = append(cases, oracleCase{kind: "table", base: []Rule{{Pattern: tc.pattern, Perms: PermRead}}, extra: Rule{Pattern: "/x", Perms: PermRead}})
	}
	for _, tc := range ruleTable {
		cases = append(cases, oracleCase{kind: "table", base: mustRules(t, tc.base), extra: mustRules(t, []string{tc.extra})[0]})
	}
	checkAgainstCompiler(t, cases)
}
