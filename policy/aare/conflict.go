package aare

import (
	"cmp"
	"slices"
)

// ExecConflict is a path that two allow rules give different exec modes
// (or targets): apparmor_parser refuses such a profile ("conflicting x
// modifiers"), since the kernel stores one transition per path.
type ExecConflict struct {
	A, B int    // the two rules, as indexes into the list given, A < B
	Path string // a shortest path both match
}

// ExecConflicts finds the conflicting exec modes of rules on their combined
// automaton, as apparmor_parser does on the compiled DFA: at every
// accepting state, the allow rules with an exec mode must agree, except
// that exact rules (exact(pattern) is true) override globbed ones; owner
// rules apply only to owned files, rules without owner to both; deny rules
// take no part (a denied x does not settle a conflict). exact nil means
// Pattern.IsLiteral. The result holds at most one conflict per pair of
// rules, sorted by the rules' indexes; Unknown when the automaton is
// too large to build.
func ExecConflicts(rules []Rule, vars Vars, exact func(pattern string) bool) ([]ExecConflict, Result, error) {
	var idx []int // the rules that take part
	var trees []*Node
	var lit []bool
	for i, r := range rules {
		if r.Deny || r.Perms&PermExec == 0 {
			continue
		}
		// Parsed, not compiled: only the combined automaton is needed.
		tree, err := Parse(r.Pattern, vars)
		if err != nil {
			return nil, Unknown, compileError(rules, idx, vars, err)
		}
		idx = append(idx, i)
		trees = append(trees, tree)
		if exact != nil {
			lit = append(lit, exact(r.Pattern))
		} else {
			lit = append(lit, isLiteralText(r.Pattern, vars))
		}
	}
	if len(idx) < 2 {
		return nil, Yes, compileError(rules, idx, vars, nil)
	}
	d, err := compileTrees(trees, MaxDFAStates)
	if err != nil {
		return nil, Unknown, compileError(rules, idx, vars, nil)
	}
	// Breadth first from the start: the shortest input to every state.
	reps := make([]byte, 0, d.nclass)
	seenClass := make([]bool, d.nclass)
	for c := 0; c < 256; c++ {
		if k := d.classOf[c]; !seenClass[k] {
			seenClass[k] = true
			reps = append(reps, byte(c))
		}
	}
	type from struct {
		parent int32
		by     byte
	}
	prev := make([]from, d.numStates())
	visited := make([]bool, d.numStates())
	visited[d.start] = true
	prev[d.start] = from{parent: -1}
	queue := []int32{d.start}
	pathTo := func(s int32) string {
		var b []byte
		for ; prev[s].parent >= 0; s = prev[s].parent {
			b = append(b, prev[s].by)
		}
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return string(b)
	}
	var out []ExecConflict
	reported := map[[2]int]bool{}
	checked := map[int32]bool{} // tag lists already examined
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		if t := d.accept[s]; t >= 0 && !checked[t] {
			checked[t] = true
			for _, owned := range []bool{true, false} {
				a, b, ok := conflictIn(rules, idx, lit, d.tags[t], owned)
				if ok && !reported[[2]int{a, b}] {
					reported[[2]int{a, b}] = true
					out = append(out, ExecConflict{A: a, B: b, Path: pathTo(s)})
				}
			}
		}
		for _, c := range reps {
			n := d.step(s, c)
			if n != 0 && !visited[n] {
				visited[n] = true
				prev[n] = from{parent: s, by: c}
				queue = append(queue, n)
			}
		}
	}
	slices.SortFunc(out, func(x, y ExecConflict) int { return cmp.Or(cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B)) })
	return out, Yes, nil
}

// compileError is the error of the first of the rules at idx that does
// not compile on its own (too complex), else err: what ExecConflicts
// returned when it compiled each rule's pattern (rarely asked: only when
// something fails, or for a single exec rule, whose automaton is small).
func compileError(rules []Rule, idx []int, vars Vars, err error) error {
	for _, i := range idx {
		if _, cerr := Compile(rules[i].Pattern, vars); cerr != nil {
			return cerr
		}
	}
	return err
}

// conflictIn returns the first two rules of tags (indexes into idx) that
// disagree on the exec mode for an owned or not owned file, after exact
// rules override globbed ones.
func conflictIn(rules []Rule, idx []int, lit []bool, tags []int32, owned bool) (int, int, bool) {
	for _, exactPass := range []bool{true, false} {
		first := -1
		for _, t := range tags {
			r := &rules[idx[t]]
			if lit[t] != exactPass || (r.Owner && !owned) {
				continue
			}
			if first < 0 {
				first = idx[t]
				continue
			}
			if rules[first].Exec != r.Exec {
				return min(first, idx[t]), max(first, idx[t]), true
			}
		}
		if first >= 0 {
			return 0, 0, false // the exact rules agree and override the rest
		}
	}
	return 0, 0, false
}
