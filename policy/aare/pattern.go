package aare

import (
	"fmt"
	"strings"
)

// Pattern is a compiled AppArmor pattern. It is safe for concurrent use.
type Pattern struct {
	src     string
	tree    *Node
	literal bool // no glob syntax at all: apparmor_parser's "exact match"
	d       *dfa
}

// Compile parses pattern (expanding variables through vars, which may be nil)
// and builds its automaton.
func Compile(pattern string, vars Vars) (*Pattern, error) {
	tree, err := Parse(pattern, vars)
	if err != nil {
		return nil, err
	}
	d, err := compileTrees([]*Node{tree}, MaxDFAStates)
	if err != nil {
		return nil, fmt.Errorf("compile pattern %q: %w", pattern, err)
	}
	return &Pattern{src: pattern, tree: tree, literal: isLiteralText(pattern, vars), d: d}, nil
}

// MustCompile is Compile for patterns known to be valid; it panics otherwise.
func MustCompile(pattern string) *Pattern {
	p, err := Compile(pattern, nil)
	if err != nil {
		panic(err)
	}
	return p
}

// isLiteralText reports whether apparmor_parser treats the pattern as a plain
// string (no unescaped glob character after variable expansion); exec
// permissions of such rules take precedence over globbed ones.
func isLiteralText(pattern string, vars Vars) bool {
	text, err := expand(pattern, vars)
	if err != nil {
		return false
	}
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\\':
			i++
		case '*', '?', '[', '{':
			return false
		}
	}
	return true
}

// Match reports whether path matches the pattern. It does not allocate.
func (p *Pattern) Match(path string) bool {
	s := p.d.run(path)
	return s != 0 && p.d.accept[s] >= 0
}

// MatchPrefix reports how many leading bytes of path the pattern can read
// before no continuation can match any more: a measure of how close the
// pattern comes to path (len(path) when path is a prefix of something the
// pattern matches).
func (p *Pattern) MatchPrefix(path string) int {
	return p.d.prefix(path)
}

func (d *dfa) prefix(path string) int {
	st := d.start
	for i := 0; i < len(path); i++ {
		st = d.step(st, path[i])
		if st == 0 {
			return i
		}
	}
	return len(path)
}

// String returns the pattern as given to Compile.
func (p *Pattern) String() string { return p.src }

// Tree returns the simplified parse tree. Callers must not modify it.
func (p *Pattern) Tree() *Node { return p.tree }

// IsLiteral reports whether the pattern has no glob syntax (after expansion).
func (p *Pattern) IsLiteral() bool { return p.literal }

// States is the number of DFA states, including the dead state.
func (p *Pattern) States() int { return p.d.numStates() }

// Result is a three-valued answer.
type Result int8

const (
	No Result = iota
	Yes
	Unknown // the bound on automaton size was reached
)

func (r Result) String() string {
	switch r {
	case No:
		return "no"
	case Yes:
		return "yes"
	}
	return "unknown"
}

// MaxProductStates bounds the pairs of states explored when comparing two
// automata; past it the answer is Unknown.
const MaxProductStates = 1 << 18

// Covers reports whether every path b matches is also matched by a.
func Covers(a, b *Pattern) Result {
	_, r := Uncovered(a, b)
	return r
}

// Uncovered returns a shortest path (ties broken by byte order) that b matches
// and a does not, with No; or "" with Yes when a covers b; or Unknown.
func Uncovered(a, b *Pattern) (string, Result) {
	var witness string
	r := product(a.d, b.d, MaxProductStates, func(sa, sb int32) bool {
		return b.d.accept[sb] >= 0 && (sa == 0 || a.d.accept[sa] < 0)
	}, &witness)
	return witness, r
}

// product explores pairs of states of x and y reachable by the same input,
// breadth first, skipping pairs where y is dead. It returns No (and the
// input reaching it in *witness) as soon as bad(pair) holds, Yes when no
// reachable pair is bad, and Unknown past limit pairs.
func product(x, y *dfa, limit int, bad func(sx, sy int32) bool, witness *string) Result {
	// joint byte classes: one representative byte per (class in x, class in y)
	var reps []byte
	seen := map[[2]uint8]bool{}
	for c := 0; c < 256; c++ {
		k := [2]uint8{x.classOf[c], y.classOf[c]}
		if !seen[k] {
			seen[k] = true
			reps = append(reps, byte(c))
		}
	}
	type node struct {
		sx, sy int32
		parent int32
		by     byte
	}
	pairKey := func(sx, sy int32) uint64 { return uint64(uint32(sx))<<32 | uint64(uint32(sy)) }
	visited := map[uint64]bool{pairKey(x.start, y.start): true}
	queue := []node{{sx: x.start, sy: y.start, parent: -1}}
	for i := 0; i < len(queue); i++ {
		n := queue[i]
		if bad(n.sx, n.sy) {
			if witness != nil {
				var b []byte
				for j := int32(i); queue[j].parent >= 0; j = queue[j].parent {
					b = append(b, queue[j].by)
				}
				var s strings.Builder
				for k := len(b) - 1; k >= 0; k-- {
					s.WriteByte(b[k])
				}
				*witness = s.String()
			}
			return No
		}
		for _, c := range reps {
			ny := y.step(n.sy, c)
			if ny == 0 {
				continue
			}
			var nx int32
			if n.sx != 0 {
				nx = x.step(n.sx, c)
			}
			k := pairKey(nx, ny)
			if visited[k] {
				continue
			}
			if len(queue) >= limit {
				return Unknown
			}
			visited[k] = true
			queue = append(queue, node{sx: nx, sy: ny, parent: int32(i), by: c})
		}
	}
	return Yes
}
