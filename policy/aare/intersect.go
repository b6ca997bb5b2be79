package aare

import "strings"

// Intersect returns a shortest path (ties broken by byte order) that both a
// and b match and except (which may be nil) does not, with Yes; or "" with
// No when there is none; or Unknown past MaxProductStates. It is how a
// guard asks "does this pattern reach a sensitive path other than the ones
// we were told about?".
func Intersect(a, b, except *Pattern) (string, Result) {
	ds := []*dfa{a.d, b.d}
	if except != nil {
		ds = append(ds, except.d)
	}
	// joint byte classes: one representative byte per combination
	var reps []byte
	seen := map[[3]uint8]bool{}
	for c := 0; c < 256; c++ {
		var k [3]uint8
		for i, d := range ds {
			k[i] = d.classOf[c]
		}
		if !seen[k] {
			seen[k] = true
			reps = append(reps, byte(c))
		}
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
	visited := map[[3]int32]bool{start: true}
	queue := []node{{s: start, parent: -1}}
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
			if visited[next] {
				continue
			}
			if len(queue) >= MaxProductStates {
				return "", Unknown
			}
			visited[next] = true
			queue = append(queue, node{s: next, parent: int32(i), by: c})
		}
	}
	return "", No
}
