package learn

import (
	"strings"
	"sync"

	"github.com/armorer-dev/armorer/policy/aare"
)

// DefaultVars are the values of the variables learn writes, as Debian's
// tunables define them (tunables/home, proc, kernelvars, multiarch, run).
// The CLI replaces them with the values of the profile directory's
// tunables when it has one.
var DefaultVars = map[string][]string{
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
// with the semantics of policy/aare. It is used for the guard "a glob never
// reaches a sensitive path the events did not name": a pattern that does
// not compile (an unknown variable) matches everything, which only keeps
// a rule narrower.
//
// Variables are expanded the way apparmor_parser does it: a variable with
// several values turns one rule into several, one per value, and each is
// compiled on its own (so "@{HOME}/x" with HOME = "/home/*/" gives
// "/home/*//x", whose slashes collapse).
type matcher struct {
	vars  map[string][]string
	cache sync.Map // pattern → []*aare.Pattern (nil when it does not compile)
}

func newMatcher(vars map[string][]string) *matcher {
	if vars == nil {
		vars = DefaultVars
	}
	return &matcher{vars: vars}
}

func (m *matcher) match(pattern, path string) bool {
	v, ok := m.cache.Load(pattern)
	if !ok {
		v, _ = m.cache.LoadOrStore(pattern, m.compile(pattern))
	}
	ps := v.([]*aare.Pattern)
	if ps == nil {
		return true
	}
	for _, p := range ps {
		if p.Match(path) {
			return true
		}
	}
	return false
}

func (m *matcher) compile(pattern string) []*aare.Pattern {
	texts, ok := expandVars(pattern, m.vars, 0)
	if !ok {
		return nil
	}
	var out []*aare.Pattern
	for _, t := range texts {
		p, err := aare.Compile(t, nil)
		if err != nil {
			return nil
		}
		out = append(out, p)
	}
	return out
}

// maxExpansions bounds the rules one pattern may expand into.
const maxExpansions = 256

// expandVars replaces each @{name} by each of its values, recursively.
func expandVars(pattern string, vars map[string][]string, depth int) ([]string, bool) {
	i := strings.Index(pattern, "@{")
	if i < 0 {
		return []string{pattern}, true
	}
	j := strings.IndexByte(pattern[i:], '}')
	if j < 0 || depth > 8 {
		return nil, false
	}
	vals, ok := vars[pattern[i+2:i+j]]
	if !ok || len(vals) == 0 {
		return nil, false
	}
	var out []string
	for _, v := range vals {
		rest, ok := expandVars(pattern[:i]+v+pattern[i+j+1:], vars, depth+1)
		if !ok || len(out)+len(rest) > maxExpansions {
			return nil, false
		}
		out = append(out, rest...)
	}
	return out, true
}
