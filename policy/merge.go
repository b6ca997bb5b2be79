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
			s += 2 * commonPrefix(fx.Path.Value(), fr.Path.Value())
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
