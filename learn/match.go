package learn

import (
	"sync"

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
// with policy/aare's semantics. It is used for the guard "a glob never
// reaches a sensitive path the events did not name": a pattern that does
// not compile (an unknown variable) matches everything, which only keeps
// a rule narrower.
type matcher struct {
	vars  aare.Vars
	cache sync.Map // pattern → *aare.Pattern (nil when it does not compile)
}

func newMatcher(vars map[string][]string) *matcher {
	if vars == nil {
		vars = defaultVars
	}
	return &matcher{vars: aare.VarMap(vars)}
}

func (m *matcher) match(pattern, path string) bool {
	v, ok := m.cache.Load(pattern)
	if !ok {
		p, err := aare.Compile(pattern, m.vars)
		if err != nil {
			p = nil
		}
		v, _ = m.cache.LoadOrStore(pattern, p)
	}
	p := v.(*aare.Pattern)
	return p == nil || p.Match(path)
}
