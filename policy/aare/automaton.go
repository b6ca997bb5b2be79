package aare

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// MaxDFAStates bounds the states of one compiled automaton (a pattern or a
// whole rule Set). Past it, compilation fails with ErrTooComplex.
const MaxDFAStates = 1 << 15

// maxSubsetTotal bounds the summed size of the NFA state sets behind the DFA
// states (a long literal after a star makes it grow quadratically).
const maxSubsetTotal = 1 << 20

// NFA (Thompson construction over byte sets, with epsilon splits).

const (
	nByte  = iota // consume one byte in sets[set], go to out
	nSplit        // epsilon to out and out1
	nMatch        // accept with tag
)

type nstate struct {
	kind      uint8
	set       int32
	out, out1 int32
	tag       int32
}

type nfa struct {
	states []nstate
	sets   []ByteSet
	setIdx map[ByteSet]int32
}

var (
	notSlash = func() ByteSet { s := ByteSet{}.Complement(); s[0] &^= 1 | 1<<'/'; return s }()
	anyByte  = func() ByteSet { s := ByteSet{}.Complement(); s[0] &^= 1; return s }()
)

func (m *nfa) add(s nstate) int32 {
	m.states = append(m.states, s)
	return int32(len(m.states) - 1)
}

func (m *nfa) byteState(set ByteSet, next int32) int32 {
	i, ok := m.setIdx[set]
	if !ok {
		i = int32(len(m.sets))
		m.sets = append(m.sets, set)
		m.setIdx[set] = i
	}
	return m.add(nstate{kind: nByte, set: i, out: next})
}

// build adds states matching n and continuing at next; it returns the start.
func (m *nfa) build(n *Node, next int32) int32 {
	switch n.Op {
	case OpEmpty:
		return next
	case OpLiteral:
		for i := len(n.Lit) - 1; i >= 0; i-- {
			var s ByteSet
			s.Add(n.Lit[i])
			next = m.byteState(s, next)
		}
		return next
	case OpAnyNotSlash:
		return m.byteState(notSlash, next)
	case OpCharClass:
		return m.byteState(n.Set, next)
	case OpStar, OpDoubleStar:
		set := notSlash
		if n.Op == OpDoubleStar {
			set = anyByte
		}
		loop := m.add(nstate{kind: nSplit, out1: next})
		m.states[loop].out = m.byteState(set, loop)
		return loop
	case OpConcat:
		for i := len(n.Sub) - 1; i >= 0; i-- {
			next = m.build(n.Sub[i], next)
		}
		return next
	case OpAlternate:
		start := m.build(n.Sub[len(n.Sub)-1], next)
		for i := len(n.Sub) - 2; i >= 0; i-- {
			start = m.add(nstate{kind: nSplit, out: m.build(n.Sub[i], next), out1: start})
		}
		return start
	}
	panic(fmt.Sprintf("aare: unknown op %v", n.Op))
}

// dfa is a complete deterministic automaton over byte classes. State 0 is the
// dead state; accept[s] indexes tags (-1: not accepting).
type dfa struct {
	classOf [256]uint8
	nclass  int
	trans   []int32 // state*nclass + class -> state
	fast    []int32 // the same table holding next*nclass, for run
	accept  []int32
	tags    [][]int32 // sorted tag lists of accepting states, interned
	start   int32
	lead    string // every accepted string starts with it (see forcedPrefix)
}

// forcedPrefix is the literal text every accepted string starts with: the
// path from the start while a state does not accept and has one live
// transition, on a class of one byte.
func (d *dfa) forcedPrefix() string {
	var size [256]int
	var byteOf [256]byte
	for c := 0; c < 256; c++ {
		size[d.classOf[c]]++
		byteOf[d.classOf[c]] = byte(c)
	}
	var lead []byte
	for s, seen := d.start, 0; s != 0 && d.accept[s] < 0 && seen < len(d.accept); seen++ {
		live, next := -1, int32(0)
		for c := 0; c < d.nclass; c++ {
			if t := d.trans[int(s)*d.nclass+c]; t != 0 {
				if live >= 0 {
					live = -2
					break
				}
				live, next = c, t
			}
		}
		if live < 0 || size[live] != 1 {
			break
		}
		lead = append(lead, byteOf[live])
		s = next
	}
	return string(lead)
}

func (d *dfa) numStates() int { return len(d.accept) }

func (d *dfa) step(s int32, c byte) int32 {
	return d.trans[int(s)*d.nclass+int(d.classOf[c])]
}

// run returns the state reached after s, or 0 once it is dead.
func (d *dfa) run(s string) int32 {
	fast, classOf := d.fast, &d.classOf
	off := d.start * int32(d.nclass)
	for i := 0; i < len(s); i++ {
		off = fast[off+int32(classOf[s[i]])]
		if off == 0 {
			return 0
		}
	}
	return off / int32(d.nclass)
}

// byteClasses partitions 0..255 so that bytes in one class are in exactly the
// same sets.
func byteClasses(sets []ByteSet) (classOf [256]uint8, n int) {
	var cls [256]int
	n = 1
	remap := make([]int, 0, 512)
	for _, s := range sets {
		remap = remap[:0]
		for range 2 * n {
			remap = append(remap, -1)
		}
		next := 0
		for c := 0; c < 256; c++ {
			k := 2 * cls[c]
			if s.Has(byte(c)) {
				k++
			}
			if remap[k] < 0 {
				remap[k] = next
				next++
			}
			cls[c] = remap[k]
		}
		n = next
	}
	for c := range cls {
		classOf[c] = uint8(cls[c])
	}
	return classOf, n
}

// determinize runs the subset construction from the NFA states starts.
func (m *nfa) determinize(starts []int32, maxStates int) (*dfa, error) {
	d := &dfa{}
	d.classOf, d.nclass = byteClasses(m.sets)
	rep := make([]byte, d.nclass) // one representative byte per class
	seenCls := make([]bool, d.nclass)
	for c := 0; c < 256; c++ {
		if k := d.classOf[c]; !seenCls[k] {
			seenCls[k] = true
			rep[k] = byte(c)
		}
	}

	mark := make([]uint32, len(m.states))
	gen := uint32(0)
	var stack []int32
	closure := func(seeds []int32) []int32 {
		gen++
		var out []int32
		stack = append(stack[:0], seeds...)
		for len(stack) > 0 {
			s := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if mark[s] == gen {
				continue
			}
			mark[s] = gen
			if st := m.states[s]; st.kind == nSplit {
				stack = append(stack, st.out1, st.out)
			} else {
				out = append(out, s)
			}
		}
		slices.Sort(out)
		return out
	}
	key := func(set []int32) string {
		b := make([]byte, 0, 4*len(set))
		for _, s := range set {
			b = binary.LittleEndian.AppendUint32(b, uint32(s))
		}
		return string(b)
	}
	hash := func(set []int32) uint64 {
		h := uint64(14695981039346656037)
		for _, s := range set {
			h = (h ^ uint64(uint32(s))) * 1099511628211
		}
		return h
	}
	tagIdx := map[string]int32{}
	index := map[uint64][]int32{} // hash of an NFA state set -> DFA states
	var sets [][]int32
	total := 0 // NFA states held by all DFA states: bounds time and memory
	addState := func(set []int32) (int32, error) {
		h := hash(set)
		for _, i := range index[h] {
			if slices.Equal(sets[i], set) {
				return i, nil
			}
		}
		total += len(set)
		if len(sets) >= maxStates || total > maxSubsetTotal {
			return 0, ErrTooComplex
		}
		i := int32(len(sets))
		index[h] = append(index[h], i)
		sets = append(sets, set)
		var tags []int32
		for _, s := range set {
			if m.states[s].kind == nMatch {
				tags = append(tags, m.states[s].tag)
			}
		}
		acc := int32(-1)
		if len(tags) > 0 {
			slices.Sort(tags)
			tags = slices.Compact(tags)
			tk := key(tags)
			t, ok := tagIdx[tk]
			if !ok {
				t = int32(len(d.tags))
				d.tags = append(d.tags, tags)
				tagIdx[tk] = t
			}
			acc = t
		}
		d.accept = append(d.accept, acc)
		d.trans = append(d.trans, make([]int32, d.nclass)...)
		return i, nil
	}
	if _, err := addState(nil); err != nil { // dead state 0
		return nil, err
	}
	start, err := addState(closure(starts))
	if err != nil {
		return nil, err
	}
	d.start = start
	// the classes each NFA byte set contains
	setClasses := make([][]uint8, len(m.sets))
	for i, bs := range m.sets {
		for c := 0; c < d.nclass; c++ {
			if bs.Has(rep[c]) {
				setClasses[i] = append(setClasses[i], uint8(c))
			}
		}
	}
	seeds := make([][]int32, d.nclass)
	for i := int32(1); int(i) < len(sets); i++ {
		for c := range seeds {
			seeds[c] = seeds[c][:0]
		}
		for _, s := range sets[i] {
			if st := m.states[s]; st.kind == nByte {
				for _, c := range setClasses[st.set] {
					seeds[c] = append(seeds[c], st.out)
				}
			}
		}
		for c := 0; c < d.nclass; c++ {
			var t int32
			if len(seeds[c]) > 0 {
				if t, err = addState(closure(seeds[c])); err != nil {
					return nil, err
				}
			}
			d.trans[int(i)*d.nclass+c] = t
		}
	}
	d.fast = make([]int32, len(d.trans))
	for i, t := range d.trans {
		d.fast[i] = t * int32(d.nclass)
	}
	d.lead = d.forcedPrefix()
	return d, nil
}

// compileTrees builds one DFA accepting each tree with its index as tag.
func compileTrees(trees []*Node, maxStates int) (*dfa, error) {
	m := &nfa{setIdx: map[ByteSet]int32{}}
	starts := make([]int32, len(trees))
	for i, t := range trees {
		match := m.add(nstate{kind: nMatch, tag: int32(i)})
		starts[i] = m.build(t, match)
	}
	return m.determinize(starts, maxStates)
}
