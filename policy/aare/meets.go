package aare

import (
	"math/bits"
	"slices"
	"sort"
	"strings"
)

// Meets reports whether some path in the language of the tree a (as Parse
// returns it) is matched by b and not by except (nil: none): Intersect's
// question, without a witness and without building a's automaton. It walks
// a's tree once, carrying the set of (b, except) state pairs that the paths
// read so far can leave the two automata in, so its cost grows with the
// size of a, not with a's determinized automaton: what a guard needs that
// asks about thousands of one-off patterns once each (Compile's subset
// construction costs a hundred times more for them).
func Meets(a *Node, b, except *Pattern) bool {
	w := meetWalk{b: b.d}
	start := statePair{b: b.d.start}
	if except != nil {
		w.e = except.d
		start.e = except.d.start
	}
	return w.meets(a, start)
}

// MeetsLiterals is Meets with except given as the paths it matches, sorted
// and distinct, instead of their automaton: Meets(a, b, p) for p the
// alternation of the paths as literals, when no path holds a run of
// slashes (which such a pattern would fold).
func MeetsLiterals(a *Node, b *Pattern, except []string) bool {
	w := meetWalk{b: b.d, lits: except}
	start := statePair{b: b.d.start}
	if len(except) > 0 {
		start.hi = int32(len(except)) // depth 0, every path
	} else {
		w.lits = nil
	}
	return w.meets(a, start)
}

func (w *meetWalk) meets(a *Node, start statePair) bool {
	if start.b == 0 {
		return false
	}
	for _, p := range w.walk(a, []statePair{start}) {
		if w.b.accept[p.b] >= 0 && !w.excepted(p) {
			return true
		}
	}
	return false
}

// statePair is a state of b and of except; b's dead state (0) is never
// carried, except's is (every path from it is outside except). With
// literal paths for except, its state is the range lo:hi of the paths that
// begin with what was read, e bytes long (lo == hi: none).
type statePair struct{ b, e, lo, hi int32 }

type meetWalk struct {
	b, e *dfa     // e is nil without an except automaton
	lits []string // except as literal paths (MeetsLiterals)
}

// excepted: the path read to p is one of except's.
func (w *meetWalk) excepted(p statePair) bool {
	if w.lits != nil {
		return p.lo < p.hi && len(w.lits[p.lo]) == int(p.e) // the shortest sorts first
	}
	return p.e != 0 && w.e.accept[p.e] >= 0
}

// step is where the pair goes on byte c (b dead: ok false).
func (w *meetWalk) step(p statePair, c byte) (statePair, bool) {
	nb := w.b.step(p.b, c)
	if nb == 0 {
		return statePair{}, false
	}
	if w.lits != nil {
		if p.lo == p.hi {
			return statePair{b: nb}, true
		}
		d := int(p.e)
		r := w.lits[p.lo:p.hi]
		lo := sort.Search(len(r), func(i int) bool { return len(r[i]) > d && r[i][d] >= c })
		hi := sort.Search(len(r), func(i int) bool { return len(r[i]) > d && r[i][d] > c })
		if lo == hi {
			return statePair{b: nb}, true
		}
		return statePair{b: nb, e: p.e + 1, lo: p.lo + int32(lo), hi: p.lo + int32(hi)}, true
	}
	var ne int32
	if p.e != 0 {
		ne = w.e.step(p.e, c)
	}
	return statePair{b: nb, e: ne}, true
}

// successors adds to next where p goes on each byte of set, trying one
// byte per class of bytes that b and except cannot tell apart (reps: the
// joint classes of two automata; with literal paths, b's classes and each
// byte that continues a path of p's range).
func (w *meetWalk) successors(next []statePair, p statePair, set ByteSet, reps []byte) []statePair {
	if w.lits == nil || p.lo == p.hi {
		for _, c := range reps {
			if q, ok := w.step(p, c); ok {
				next = addPair(next, q)
			}
		}
		return next
	}
	var cont ByteSet // bytes that continue a path of the range
	d := int(p.e)
	for _, l := range w.lits[p.lo:p.hi] {
		if len(l) > d {
			cont.Add(l[d])
		}
	}
	// One byte outside cont per class of b (reps holds the smallest of
	// each: when it continues a path, the next of its class that does not).
	for _, c := range reps {
		if cont.Has(c) {
			k, found := w.b.classOf[c], false
			for x := int(c) + 1; x < 256; x++ {
				if b := byte(x); w.b.classOf[b] == k && set.Has(b) && !cont.Has(b) {
					c, found = b, true
					break
				}
			}
			if !found {
				continue
			}
		}
		if q, ok := w.step(p, c); ok {
			next = addPair(next, q)
		}
	}
	// Each byte of set that continues a path.
	for i, word := range cont {
		word &= set[i]
		for word != 0 {
			c := byte(i*64 + bits.TrailingZeros64(word))
			word &= word - 1
			if q, ok := w.step(p, c); ok {
				next = addPair(next, q)
			}
		}
	}
	return next
}

// reps returns one byte of set per class of the joint partition of b's and
// except's bytes: bytes neither automaton tells apart behave alike. (With
// literal paths, successors tries the bytes that continue them itself.)
func (w *meetWalk) reps(set ByteSet) []byte {
	if w.e == nil {
		// b's classes alone (fewer than 256): the first byte of each.
		var seen [256]bool
		out := make([]byte, 0, w.b.nclass)
		for i, word := range set {
			for word != 0 {
				c := byte(i*64 + bits.TrailingZeros64(word))
				word &= word - 1
				if k := w.b.classOf[c]; !seen[k] {
					seen[k] = true
					out = append(out, c)
				}
			}
		}
		return out
	}
	var out []byte
	var keys []uint16
	prev := uint16(0xffff)
	for c := 0; c < 256; c++ {
		if !set.Has(byte(c)) {
			continue
		}
		k := uint16(w.b.classOf[c])
		if w.e != nil {
			k |= uint16(w.e.classOf[c]) << 8
		}
		if k == prev || slices.Contains(keys, k) {
			prev = k
			continue
		}
		prev = k
		keys = append(keys, k)
		out = append(out, byte(c))
	}
	return out
}

// add appends p to set unless it is there (sets are small: a linear scan).
func addPair(set []statePair, p statePair) []statePair {
	for _, q := range set {
		if q == p {
			return set
		}
	}
	return append(set, p)
}

// walk returns the pairs reached from those in in by reading any path of
// n's language.
func (w *meetWalk) walk(n *Node, in []statePair) []statePair {
	if len(in) == 0 {
		return nil
	}
	switch n.Op {
	case OpEmpty:
		return in
	case OpLiteral:
		cur := append([]statePair(nil), in...) // in may be the caller's
		for i := 0; i < len(n.Lit) && len(cur) > 0; i++ {
			next := cur[:0]
			for _, p := range cur {
				if q, ok := w.step(p, n.Lit[i]); ok {
					next = addPair(next, q)
				}
			}
			cur = next
		}
		return cur
	case OpAnyNotSlash, OpCharClass:
		set := n.Set
		if n.Op == OpAnyNotSlash {
			set = notSlash
		}
		var next []statePair
		reps := w.reps(set)
		for _, p := range in {
			next = w.successors(next, p, set, reps)
		}
		return next
	case OpStar, OpDoubleStar:
		set := notSlash
		if n.Op == OpDoubleStar {
			set = anyByte
		}
		reps := w.reps(set)
		out := append([]statePair(nil), in...)
		for i := 0; i < len(out); i++ { // out is the work list too
			out = w.successors(out, out[i], set, reps)
		}
		return out
	case OpConcat:
		cur := in
		for _, s := range n.Sub {
			cur = w.walk(s, cur)
		}
		return cur
	case OpAlternate:
		var out []statePair
		for _, s := range n.Sub {
			for _, p := range w.walk(s, in) {
				out = addPair(out, p)
			}
		}
		return out
	}
	panic("aare: unknown op " + n.Op.String())
}

// MatchTree reports whether path is in the language of the tree n (as
// Parse returns it): Pattern.Match without building the automaton, for a
// pattern matched against a few paths once. It walks n once, carrying the
// positions in path that the matches so far can end at.
func MatchTree(n *Node, path string) bool {
	return slices.Contains(matchPos(n, path, []int{0}), len(path))
}

// matchPos returns the positions in path that a match of n starting at a
// position in in can end at (sorted, without duplicates).
func matchPos(n *Node, path string, in []int) []int {
	if len(in) == 0 {
		return nil
	}
	var out []int
	add := func(p int) {
		if i, found := slices.BinarySearch(out, p); !found {
			out = slices.Insert(out, i, p)
		}
	}
	switch n.Op {
	case OpEmpty:
		return in
	case OpLiteral:
		for _, p := range in {
			if strings.HasPrefix(path[p:], n.Lit) {
				add(p + len(n.Lit))
			}
		}
	case OpAnyNotSlash, OpCharClass:
		set := n.Set
		if n.Op == OpAnyNotSlash {
			set = notSlash
		}
		for _, p := range in {
			if p < len(path) && set.Has(path[p]) {
				add(p + 1)
			}
		}
	case OpStar, OpDoubleStar:
		set := notSlash
		if n.Op == OpDoubleStar {
			set = anyByte
		}
		for _, p := range in {
			add(p)
			for q := p; q < len(path) && set.Has(path[q]); q++ {
				add(q + 1)
			}
		}
	case OpConcat:
		out = in
		for _, s := range n.Sub {
			out = matchPos(s, path, out)
		}
	case OpAlternate:
		for _, s := range n.Sub {
			for _, p := range matchPos(s, path, in) {
				add(p)
			}
		}
	default:
		panic("aare: unknown op " + n.Op.String())
	}
	return out
}

// CoversTree reports whether p matches every path in the language of the
// tree n (as Parse returns it): Covers(p, Compile(n)) without building n's
// automaton. It walks n once, carrying the set of p's states (the dead
// one included) that the paths read so far can leave p in; p covers n
// when each state the whole of n can end in accepts.
func CoversTree(p *Pattern, n *Node) bool {
	w := coverWalk{d: p.d}
	for _, s := range w.walk(n, []int32{p.d.start}) {
		if s == 0 || p.d.accept[s] < 0 {
			return false
		}
	}
	return true
}

type coverWalk struct {
	d    *dfa
	reps map[ByteSet][]byte
}

// classReps returns one byte of set per byte class of the automaton.
func (w *coverWalk) classReps(set ByteSet) []byte {
	if r, ok := w.reps[set]; ok {
		return r
	}
	var seen [256]bool
	var out []byte
	for c := 0; c < 256; c++ {
		if set.Has(byte(c)) && !seen[w.d.classOf[c]] {
			seen[w.d.classOf[c]] = true
			out = append(out, byte(c))
		}
	}
	if w.reps == nil {
		w.reps = map[ByteSet][]byte{}
	}
	w.reps[set] = out
	return out
}

func addState(set []int32, s int32) []int32 {
	if slices.Contains(set, s) {
		return set
	}
	return append(set, s)
}

// walk returns the states reached from those in in by reading any path of
// n's language.
func (w *coverWalk) walk(n *Node, in []int32) []int32 {
	if len(in) == 0 {
		return nil
	}
	switch n.Op {
	case OpEmpty:
		return in
	case OpLiteral:
		out := make([]int32, 0, len(in))
		for _, s := range in {
			for i := 0; i < len(n.Lit) && s != 0; i++ {
				s = w.d.step(s, n.Lit[i])
			}
			out = addState(out, s)
		}
		return out
	case OpAnyNotSlash, OpCharClass:
		set := n.Set
		if n.Op == OpAnyNotSlash {
			set = notSlash
		}
		var out []int32
		reps := w.classReps(set)
		for _, s := range in {
			for _, c := range reps {
				out = addState(out, w.d.step(s, c))
			}
		}
		return out
	case OpStar, OpDoubleStar:
		set := notSlash
		if n.Op == OpDoubleStar {
			set = anyByte
		}
		reps := w.classReps(set)
		out := slices.Clone(in)
		for i := 0; i < len(out); i++ { // out is the work list too
			for _, c := range reps {
				out = addState(out, w.d.step(out[i], c))
			}
		}
		return out
	case OpConcat:
		cur := in
		for _, s := range n.Sub {
			cur = w.walk(s, cur)
		}
		return cur
	case OpAlternate:
		var out []int32
		for _, s := range n.Sub {
			for _, st := range w.walk(s, in) {
				out = addState(out, st)
			}
		}
		return out
	}
	panic("aare: unknown op " + n.Op.String())
}
