package learn

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/armorer-dev/armorer/lint"

	"github.com/armorer-dev/armorer/policy/aare"
)

// defaultVars are the values of the variables learn writes, as Debian's
// tunables define them (tunables/home, proc, kernelvars, multiarch, run).
// The CLI replaces them with the values of the profile directory's
// tunables when it has them.
var defaultVars = map[string][]string{
	"PROC":      {"/proc/"},
	"pid":       {"{[1-9],[1-9][0-9],[1-9][0-9][0-9],[1-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9][0-9],[1-4][0-9][0-9][0-9][0-9][0-9][0-9]}"},
	"pids":      {"@{pid}"},
	"tid":       {"@{pid}"},
	"HOMEDIRS":  {"/home/"},
	"HOME":      {"@{HOMEDIRS}/*/", "/root/"},
	"sys":       {"/sys/"},
	"run":       {"/run/", "/var/run/"},
	"multiarch": {"*-linux-gnu*"},
}

// matcher reports whether an AppArmor pattern matches a concrete path,
// with policy/aare's semantics. A pattern that does not compile (an
// unknown variable, bad syntax) matches nothing: treating it as "matches
// everything" would let a broken rule allow any peer or path. Such
// patterns are remembered for Problems.
type matcher struct {
	vars  aare.Vars
	cache sync.Map // pattern → *aare.Pattern, or error when it does not compile
	// homeRoot: one of @{HOME}'s values is /root/, so that @{HOME}/x
	// matches /root/x. homeDirs: @{HOMEDIRS} is /home/ alone (as lint's
	// table has it: lint.MayReachHome).
	homeRoot, homeDirs bool
}

func newMatcher(vars map[string][]string) *matcher {
	if vars == nil {
		vars = defaultVars
	}
	return &matcher{vars: aare.VarMap(vars), homeRoot: slices.Contains(vars["HOME"], "/root/"),
		homeDirs: slices.Equal(vars["HOMEDIRS"], []string{"/home/"})}
}

func (m *matcher) compile(pattern string) (*aare.Pattern, error) {
	v, ok := m.cache.Load(pattern)
	if !ok {
		p, err := aare.Compile(pattern, m.vars)
		if err != nil {
			v, _ = m.cache.LoadOrStore(pattern, err)
		} else {
			v, _ = m.cache.LoadOrStore(pattern, p)
		}
	}
	switch v := v.(type) {
	case *aare.Pattern:
		return v, nil
	case error:
		return nil, v
	}
	return nil, nil
}

func (m *matcher) match(pattern, path string) bool {
	p, err := m.compile(pattern)
	return err == nil && p.Match(path)
}

// problems lists the patterns that did not compile, sorted.
func (m *matcher) problems() []error {
	var errs []error
	m.cache.Range(func(k, v any) bool {
		if err, ok := v.(error); ok {
			errs = append(errs, fmt.Errorf("pattern %q never matches: %w", k, err))
		}
		return true
	})
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}

// namedSensitive is a pattern matching exactly the concrete paths that are
// in the sensitive table's language (nil when there are none): what the
// events named, which a generalisation may cover without widening.
func namedSensitive(paths map[string]bool) *aare.Pattern {
	src, ok := namedSensitiveSrc(sensitiveOf(paths, lint.AnyPath))
	if !ok {
		return nil
	}
	return compileNamed(src)
}

// sensitiveOf lists, sorted, the paths in the sensitive table's language
// (anyPath: lint.AnyPath, or a memo of it).
func sensitiveOf(paths map[string]bool, anyPath func(string) bool) []string {
	var named []string
	for p := range paths {
		if anyPath(p) {
			named = append(named, p)
		}
	}
	slices.Sort(named)
	return named
}

// namedSensitiveSrc is namedSensitive's pattern text for the named paths
// (false: none).
func namedSensitiveSrc(named []string) (string, bool) {
	var alts []string
	for _, p := range named {
		alts = append(alts, strings.ReplaceAll(EscapeLiteral(p), ",", "\\,"))
	}
	switch len(alts) {
	case 0:
		return "", false
	case 1:
		return alts[0], true
	}
	return "{" + strings.Join(alts, ",") + "}", true
}

// literalNames reports whether namedSensitiveSrc's pattern matches exactly
// the named paths, so that a guard may ask with the paths themselves
// (lint.ReachesTreeLiterals): not when one holds a run of slashes, which
// the pattern folds, or "@{", which it reads as a variable.
func literalNames(named []string) bool {
	return !slices.ContainsFunc(named, func(p string) bool { return strings.Contains(p, "//") || strings.Contains(p, "@{") })
}

// compileNamed compiles namedSensitiveSrc's text; nil when it does not
// compile (the guard then holds back more, never less).
func compileNamed(src string) *aare.Pattern {
	p, err := aare.Compile(src, nil)
	if err != nil {
		return nil
	}
	return p
}
