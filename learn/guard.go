package learn

import (
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/lint"
	"github.com/armorer-dev/armorer/policy/aare"
)

// fileGuard decides on the automata for one profile: a generalised
// pattern is kept only when no path it adds (beyond those the events
// named) is sensitive for its permissions, whichever generalisation made
// it (variables such as @{HOME}, which include /root/, globs, siblings,
// subtrees). The named paths' automaton is built when a question needs it
// (few do: most answers hold for every profile and are remembered).
type fileGuard struct {
	l         *Learner
	named     []string // the sensitive paths the events named, sorted
	exceptSrc string   // their alternation
	hasExcept bool
	literal   bool // named has no slash runs or variables: MeetsLiterals decides
	except    *aare.Pattern
	// memo and reachMemo: answers with the named paths excepted.
	memo      map[guardKey]bool
	reachMemo map[guardKey]reachAnswer
}

// newFileGuard is the guard of a profile whose learned paths in the
// sensitive table's language are named (sorted, distinct).
func (l *Learner) newFileGuard(named []string) *fileGuard {
	g := &fileGuard{l: l, named: named}
	g.exceptSrc, g.hasExcept = namedSensitiveSrc(g.named)
	g.literal = literalNames(g.named)
	return g
}

// exceptPattern is the named paths' automaton (nil: none, or they do not
// compile).
func (g *fileGuard) exceptPattern() *aare.Pattern {
	if g.except == nil && g.hasExcept {
		g.except = compileNamed(g.exceptSrc)
	}
	return g.except
}

// allows reports whether pattern with perms reaches no sensitive path
// but those the events named.
func (g *fileGuard) allows(pattern string, perms aare.Perm) bool {
	l := g.l
	if forbiddenPattern(pattern) {
		return false
	}
	// A pattern that reaches nothing sensitive at all passes for
	// every profile, whatever paths its events named: ask that once.
	key := guardKey{pattern, lint.Sensitivity(perms)}
	general, generalDone := l.guardMemo[key]
	if generalDone && (general || !g.hasExcept) {
		return general
	}
	if ok, done := g.memo[key]; done {
		return ok
	}
	if !lint.MayReach(literalPrefix(pattern), perms) {
		return true // most patterns: no parse, no walk
	}
	if rest, ok := strings.CutPrefix(pattern, homeDirsPattern); ok && l.m.homeDirs {
		// The users' homes: what the pattern names below them decides.
		rel := literalPrefix(rest)
		if !strings.Contains(rel, "//") && !lint.MayReachHome(rel, perms) {
			return true
		}
	}
	// in: the named paths the pattern may match. Excepting the others
	// changes nothing: when there are none, the answer is the one for
	// every profile (most @{HOME} patterns, whose other profiles' named
	// paths are under /etc and /proc).
	var in []string
	if g.literal {
		in = g.namedIn(pattern)
		if len(in) == 0 && generalDone {
			return general
		}
	}
	// Parsed, not compiled: lint.ReachesTree walks the tree against one
	// automaton of the whole table, where a compile would build the
	// pattern's automaton (the cost of a log's thousands of @{HOME}
	// patterns, one each, which no prefix test can skip).
	tree, err := aare.Parse(pattern, l.m.vars)
	if err != nil {
		l.m.compile(pattern) // remembered for Problems
		return false
	}
	if l.guardMemo == nil {
		l.guardMemo = map[guardKey]bool{}
	}
	if !generalDone && len(in) > 0 {
		// One walk, with the named paths excepted: when it reaches a
		// sensitive path, so does the pattern without them (the answer for
		// every profile); when not, that answer is left to be asked.
		reached := lint.ReachesTreeLiterals(tree, perms, in)
		if reached {
			l.guardMemo[key] = false
		}
		if g.memo == nil {
			g.memo = map[guardKey]bool{}
		}
		g.memo[key] = !reached
		return !reached
	}
	if !generalDone {
		reached := lint.ReachesTree(tree, perms, nil)
		l.guardMemo[key] = !reached
		if !reached || !g.hasExcept || g.literal {
			return !reached // (literal: none of the named paths is the pattern's)
		}
	}
	reached := true // when the named paths do not compile: hold back more, never less
	if g.literal {
		reached = lint.ReachesTreeLiterals(tree, perms, in)
	} else if ex := g.exceptPattern(); ex != nil {
		reached = lint.ReachesTree(tree, perms, ex)
	}
	if g.memo == nil {
		g.memo = map[guardKey]bool{}
	}
	g.memo[key] = !reached
	return !reached
}

// allowsFrom is allows for a pattern generalised from path (which it
// matches: FuzzGeneralise). A pattern @{HOME}/... made from a path
// /home/USER/REST matches /root/REST too; when that is sensitive for
// perms and not named, the pattern reaches it, and no walk is needed to
// say no (the first question about most @{HOME} patterns).
func (g *fileGuard) allowsFrom(pattern, path string, perms aare.Perm) bool {
	if g.literal && g.l.m.homeRoot && strings.HasPrefix(pattern, "@{HOME}/") {
		if rest, ok := strings.CutPrefix(path, "/home/"); ok {
			if user, rest, ok := strings.Cut(rest, "/"); ok && user != "" {
				w := "/root/" + rest
				if _, sensitive := lint.Path(w, perms); sensitive && !strings.Contains(w, "//") {
					if _, named := slices.BinarySearch(g.named, w); !named {
						if g.l.guardMemo == nil {
							g.l.guardMemo = map[guardKey]bool{}
						}
						g.l.guardMemo[guardKey{pattern, lint.Sensitivity(perms)}] = false
						return false
					}
				}
			}
		}
	}
	return g.allows(pattern, perms)
}

// reached is the first table entry, sensitive for a permission in perms,
// that pattern reaches outside the named paths (lint.Reaches's entry),
// decided on the pattern's tree.
func (g *fileGuard) reached(pattern string, perms aare.Perm) (lint.SensitivePath, bool, error) {
	l := g.l
	key := guardKey{pattern, lint.Sensitivity(perms)}
	if a, ok := g.reachMemo[key]; ok {
		return a.entry, a.ok, a.err
	}
	var a reachAnswer
	tree, err := aare.Parse(pattern, l.m.vars)
	switch {
	case err != nil:
		a.err = err
	case g.literal:
		a.entry, a.ok = lint.ReachedTreeLiterals(tree, perms, g.named)
	default:
		a.entry, a.ok = lint.ReachedTree(tree, perms, g.exceptPattern())
	}
	if g.reachMemo == nil {
		g.reachMemo = map[guardKey]reachAnswer{}
	}
	g.reachMemo[key] = a
	return a.entry, a.ok, a.err
}

// namedIn is the named paths that may be in pattern's language: those
// that begin with its literal prefix and end with its literal suffix (the
// rest are not; g.literal).
func (g *fileGuard) namedIn(pattern string) []string {
	prefix, suffix := literalPrefix(pattern), literalSuffix(pattern)
	if strings.Contains(prefix, "//") {
		prefix = "" // the pattern folds it
	}
	i, _ := slices.BinarySearch(g.named, prefix)
	j := i
	for j < len(g.named) && strings.HasPrefix(g.named[j], prefix) {
		j++
	}
	in := g.named[i:j]
	for k, p := range in {
		if !strings.HasSuffix(p, suffix) {
			// Copy on the first path left out.
			out := slices.Clip(in[:k])
			for _, p := range in[k+1:] {
				if strings.HasSuffix(p, suffix) {
					out = append(out, p)
				}
			}
			return out
		}
	}
	return in
}

type reachAnswer struct {
	entry lint.SensitivePath
	ok    bool
	err   error
}

// example is lint.Witness's path for pattern and entry outside the named
// paths (ok false: none). Without them it is a question of the pattern and
// the entry alone, remembered across profiles; a shortest path that is
// none of the named paths is also the shortest outside them, so the named
// paths' automaton is built only when one of them is that path.
func (g *fileGuard) example(pattern string, entry lint.SensitivePath) (string, bool) {
	l := g.l
	key := [2]string{pattern, entry.ID}
	a, done := l.exampleMemo[key]
	if !done {
		p, err := aare.Compile(pattern, l.m.vars)
		if err != nil {
			return "", false
		}
		a.path, a.res = lint.Witness(p, entry, nil)
		if l.exampleMemo == nil {
			l.exampleMemo = map[[2]string]exampleAnswer{}
		}
		l.exampleMemo[key] = a
	}
	switch {
	case a.res == aare.No:
		return "", false // none at all, so none outside the named paths
	case a.res == aare.Yes && (!g.hasExcept || g.literal && !slices.Contains(g.named, a.path)):
		return a.path, true
	}
	p, err := aare.Compile(pattern, l.m.vars)
	if err != nil {
		return "", false
	}
	w, r := lint.Witness(p, entry, g.exceptPattern())
	return w, r != aare.No
}

type exampleAnswer struct {
	path string
	res  aare.Result
}
