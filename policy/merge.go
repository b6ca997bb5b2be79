package policy

import (
	"reflect"
	"strings"
)

// AddRule inserts r into the profile's body. If hint is a rule of the body,
// r goes right after it; otherwise r goes after the most similar rule: the
// rule of the same kind (and, for file rules, the longest common path
// prefix). With no rule of its kind, r goes at the end of the rules, before
// a trailing `include if exists` and before child profiles and hats, after
// a blank line. Comments stay attached to their rules.
func (p *Profile) AddRule(hint, r Rule) { addRule(&p.Body, hint, r) }

// AddRule inserts r among the file's top-level rules, like Profile.AddRule.
func (f *File) AddRule(hint, r Rule) { addRule(&f.Rules, hint, r) }

// DropRule marks r, a rule of the profile's body or of a nested block, as
// removed: the printer skips it and Cleanup deletes it. It reports whether
// r was found.
func (p *Profile) DropRule(r Rule) bool { return dropRule(p.Body, r) }

// DropRule marks r, a rule anywhere in the file, as removed.
func (f *File) DropRule(r Rule) bool { return dropRule(f.Rules, r) }

// Dropped reports whether r was marked by DropRule.
func Dropped(r Rule) bool { return r.meta().dead }

// Cleanup deletes the rules marked by DropRule from the whole file.
func (f *File) Cleanup() { cleanup(&f.Rules) }

// Cleanup deletes the rules marked by DropRule from the profile.
func (p *Profile) Cleanup() { cleanup(&p.Body) }

func addRule(body *[]Rule, hint, r Rule) {
	rules := *body
	at := -1
	if hint != nil {
		for i, x := range rules {
			if x == hint {
				at = i + 1
				break
			}
		}
	}
	if at < 0 {
		best := -1
		for i, x := range rules {
			if x.meta().dead {
				continue
			}
			if s := similarity(x, r); s > 0 && s >= best {
				best, at = s, i+1
			}
		}
	}
	if at < 0 {
		at = len(rules)
		for at > 0 {
			switch x := rules[at-1].(type) {
			case *Profile, *CommentBlock:
				at--
				continue
			case *Include:
				if x.IfExists {
					at--
					continue
				}
			}
			break
		}
		if at > 0 && r.meta().From == 0 {
			r.meta().Hint = NewSection
		}
	}
	rules = append(rules, nil)
	copy(rules[at+1:], rules[at:])
	rules[at] = r
	*body = rules
}

// similarity scores how close x is to r: 0 for a different kind, 1 for the
// same kind, more for file rules sharing a longer path prefix and for the
// same qualifiers.
func similarity(x, r Rule) int {
	if reflect.TypeOf(x) != reflect.TypeOf(r) {
		return 0
	}
	s := 1
	if qx, ok := x.(Qualified); ok {
		if *qx.Qualifiers() == *r.(Qualified).Qualifiers() {
			s++
		}
	}
	if fx, ok := x.(*FileRule); ok {
		fr := r.(*FileRule)
		if fx.Path != nil && fr.Path != nil {
			s += 2 * commonPrefix(fx.Path.Pattern(), fr.Path.Pattern())
		}
	}
	return s
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	// Count whole path components only.
	return strings.Count(a[:n], "/")
}

func dropRule(body []Rule, r Rule) bool {
	for _, x := range body {
		if x == r {
			x.meta().dead = true
			return true
		}
		if b := Body(x); b != nil && dropRule(*b, r) {
			return true
		}
		if i, ok := x.(*If); ok && i.Else != nil {
			if i.Else == r {
				i.Else.meta().dead = true
				return true
			}
			if dropRule([]Rule{i.Else}, r) {
				return true
			}
		}
	}
	return false
}

func cleanup(body *[]Rule) {
	out := (*body)[:0]
	carry := false // a removed rule's blank line passes to the next rule
	for _, x := range *body {
		if x.meta().dead {
			carry = carry || x.meta().Hint == NewSection
			continue
		}
		if carry {
			x.meta().Hint = NewSection
			carry = false
		}
		if b := Body(x); b != nil {
			cleanup(b)
		}
		if i, ok := x.(*If); ok && i.Else != nil {
			if i.Else.meta().dead {
				i.Else = nil
			} else if b := Body(i.Else); b != nil {
				cleanup(b)
			}
		}
		out = append(out, x)
	}
	clear((*body)[len(out):])
	*body = out
}

// AddRules inserts rules as AddRule(nil, r) would, one after the other,
// in n log n time rather than n²: the most similar rule is found in an
// index of path prefixes instead of by scanning the body for each rule
// (learn --glob none adds one rule per distinct path). Among equally
// similar rules the later one wins, as in AddRule; a rule added in the
// same call counts as later than every rule it was placed after.
func (p *Profile) AddRules(rs []Rule) { addRules(&p.Body, rs) }

// AddRules inserts rules among the file's top-level rules, like
// Profile.AddRules.
func (f *File) AddRules(rs []Rule) { addRules(&f.Rules, rs) }

// placed is a rule in addRules' index: after is the index of the body
// rule it follows (-1: before the first), seq orders rules placed after
// the same body rule (0 for the body rule itself).
type placed struct {
	rule       Rule
	after, seq int
	next       *placed // the next rule added after the same body rule
}

func (a *placed) later(b *placed) bool {
	return b == nil || a.after > b.after || a.after == b.after && a.seq > b.seq
}

// simNode holds, for one kind of rule (and, for file rules, one path
// prefix ending in /), the last rule overall and per qualifier set.
type simNode struct {
	last   *placed
	byQual map[Qualifiers]*placed
}

func (n *simNode) add(q Qualifiers, c *placed) {
	if c.later(n.last) {
		n.last = c
	}
	if n.byQual == nil {
		n.byQual = map[Qualifiers]*placed{}
	}
	if c.later(n.byQual[q]) {
		n.byQual[q] = c
	}
}

func (n *simNode) best(q Qualifiers) *placed {
	if c := n.byQual[q]; c != nil {
		return c
	}
	return n.last
}

type simIndex struct {
	kinds    map[reflect.Type]*simNode
	prefixes map[string]*simNode // file rules by path prefix
}

func qualsOf(r Rule) Qualifiers {
	if q, ok := r.(Qualified); ok {
		return *q.Qualifiers()
	}
	return Qualifiers{}
}

func filePath(r Rule) (string, bool) {
	if f, ok := r.(*FileRule); ok && f.Path != nil {
		return f.Path.Pattern(), true
	}
	return "", false
}

func (x *simIndex) add(c *placed) {
	q, t := qualsOf(c.rule), reflect.TypeOf(c.rule)
	n := x.kinds[t]
	if n == nil {
		n = &simNode{}
		x.kinds[t] = n
	}
	n.add(q, c)
	if p, ok := filePath(c.rule); ok {
		for i := 0; i < len(p); i++ {
			if p[i] != '/' {
				continue
			}
			n := x.prefixes[p[:i+1]]
			if n == nil {
				n = &simNode{}
				x.prefixes[p[:i+1]] = n
			}
			n.add(q, c)
		}
	}
}

// nearest is the rule AddRule would put r after: the deepest shared path
// prefix (similarity counts its slashes twice), then the same qualifiers,
// then the later rule.
func (x *simIndex) nearest(r Rule) *placed {
	q := qualsOf(r)
	if p, ok := filePath(r); ok {
		for i := len(p) - 1; i >= 0; i-- {
			if p[i] == '/' {
				if n := x.prefixes[p[:i+1]]; n != nil {
					return n.best(q)
				}
			}
		}
	}
	if n := x.kinds[reflect.TypeOf(r)]; n != nil {
		return n.best(q)
	}
	return nil
}

func addRules(body *[]Rule, rs []Rule) {
	rules := *body
	x := &simIndex{kinds: map[reflect.Type]*simNode{}, prefixes: map[string]*simNode{}}
	for i, r := range rules {
		if !r.meta().dead {
			x.add(&placed{rule: r, after: i})
		}
	}
	// Rules of a kind the body lacks go at the end of the rules, before a
	// trailing `include if exists`, child profiles and hats.
	end := len(rules)
	for end > 0 {
		switch y := rules[end-1].(type) {
		case *Profile, *CommentBlock:
			end--
			continue
		case *Include:
			if y.IfExists {
				end--
				continue
			}
		}
		break
	}
	heads := map[int]*placed{}
	tails := map[int]*placed{}
	for seq, r := range rs {
		c := &placed{rule: r, seq: seq + 1}
		switch a := x.nearest(r); {
		case a == nil:
			c.after = end - 1
			if (end > 0 || heads[c.after] != nil) && r.meta().From == 0 {
				r.meta().Hint = NewSection
			}
			if t := tails[c.after]; t != nil {
				t.next = c
			} else {
				heads[c.after] = c
			}
			tails[c.after] = c
		case a.seq == 0: // right after a body rule
			c.after, c.next = a.after, heads[a.after]
			heads[a.after] = c
			if c.next == nil {
				tails[a.after] = c
			}
		default: // right after a rule added here
			c.after, c.next, a.next = a.after, a.next, c
			if tails[a.after] == a {
				tails[a.after] = c
			}
		}
		x.add(c)
	}
	out := make([]Rule, 0, len(rules)+len(rs))
	for i := -1; i < len(rules); i++ {
		if i >= 0 {
			out = append(out, rules[i])
		}
		for c := heads[i]; c != nil; c = c.next {
			out = append(out, c.rule)
		}
	}
	*body = out
}
