package aare

import (
	"slices"
	"strings"
)

// Intersect returns a shortest path (ties broken by byte order) that both a
// and b match and except (which may be nil) does not, with Yes; or "" with
// No when there is none; or Unknown past MaxProductStates. It is how a
// guard asks "does this pattern reach a sensitive path other than the ones
// we were told about?".
func Intersect(a, b, except *Pattern) (string, Result) {
	// Every string of a starts with a's forced prefix: when b cannot read
	// it (or a cannot read b's), they share no string. Most pairs a guard
	// asks about end here, without a product.
	if b.d.run(a.d.lead) == 0 || a.d.run(b.d.lead) == 0 {
		return "", No
	}
	ds := []*dfa{a.d, b.d}
	if except != nil {
		ds = append(ds, except.d)
	}
	// joint byte classes: one representative byte per combination, in
	// byte order. Classes come in runs of equal bytes and are few, so a
	// scan of those found beats hashing 256 keys (a guard asks this for
	// every learned pattern against every sensitive entry).
	var reps []byte
	var keys []uint32
	for c, prev := 0, uint32(1<<31); c < 256; c++ {
		var k uint32
		for i, d := range ds {
			k |= uint32(d.classOf[c]) << (8 * i)
		}
		if k == prev || slices.Contains(keys, k) {
			prev = k
			continue
		}
		prev = k
		keys = append(keys, k)
		reps = append(reps, byte(c))
	}
	type node struct {
		s      [3]int32
		parent int32
		by     byte
	}
	var start [3]int32
	for i, d := range ds {
		start[i] = d.start
	}
	// Most products die within a few states: visited is the queue itself
	// until it grows, then a map.
	var visitedMap map[[3]int32]bool
	queue := []node{{s: start, parent: -1}}
	visited := func(s [3]int32) bool {
		if visitedMap != nil {
			return visitedMap[s]
		}
		for _, n := range queue {
			if n.s == s {
				return true
			}
		}
		return false
	}
	markVisited := func(s [3]int32) {
		if visitedMap == nil && len(queue) >= 32 {
			visitedMap = make(map[[3]int32]bool, 2*len(queue))
			for _, n := range queue {
				visitedMap[n.s] = true
			}
		}
		if visitedMap != nil {
			visitedMap[s] = true
		}
	}
	for i := 0; i < len(queue); i++ {
		n := queue[i]
		if a.d.accept[n.s[0]] >= 0 && b.d.accept[n.s[1]] >= 0 &&
			(except == nil || n.s[2] == 0 || except.d.accept[n.s[2]] < 0) {
			var rev []byte
			for j := int32(i); queue[j].parent >= 0; j = queue[j].parent {
				rev = append(rev, queue[j].by)
			}
			var s strings.Builder
			for k := len(rev) - 1; k >= 0; k-- {
				s.WriteByte(rev[k])
			}
			return s.String(), Yes
		}
		for _, c := range reps {
			var next [3]int32
			next[0], next[1] = a.d.step(n.s[0], c), b.d.step(n.s[1], c)
			if next[0] == 0 || next[1] == 0 {
				continue // a or b can no longer match
			}
			if except != nil && n.s[2] != 0 {
				next[2] = except.d.step(n.s[2], c)
			}
			if visited(next) {
				continue
			}
			if len(queue) >= MaxProductStates {
				return "", Unknown
			}
			markVisited(next)
			queue = append(queue, node{s: next, parent: int32(i), by: c})
		}
	}
	return "", No
}
