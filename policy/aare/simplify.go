package aare

import (
	"fmt"
	"slices"
	"strings"
)

// simplify flattens nested concatenations and alternations, merges adjacent
// literals, collapses star runs (`*` next to `**` is `**`), removes duplicate
// alternatives and an empty alternative when another one already matches the
// empty string.
func simplify(n *Node) *Node {
	switch n.Op {
	case OpConcat:
		var out, lits []*Node // lits: the run of literals not yet merged
		var b strings.Builder
		flush := func() { // merge the run in one pass: linear in its length
			switch len(lits) {
			case 0:
				return
			case 1:
				out = append(out, lits[0])
			default:
				b.Reset()
				for _, l := range lits {
					b.WriteString(l.Lit)
				}
				out = append(out, &Node{Op: OpLiteral, Lit: b.String()})
			}
			lits = lits[:0]
		}
		for _, s := range n.Sub {
			s = simplify(s)
			parts := []*Node{s}
			if s.Op == OpConcat {
				parts = s.Sub
			}
			for _, s := range parts {
				switch {
				case s.Op == OpEmpty:
					continue
				case s.Op == OpLiteral:
					lits = append(lits, s)
					continue
				}
				flush()
				if k := len(out); k > 0 && isStar(out[k-1]) && isStar(s) {
					if s.Op == OpDoubleStar {
						out[k-1] = s
					}
					continue
				}
				out = append(out, s)
			}
		}
		flush()
		switch len(out) {
		case 0:
			return &Node{Op: OpEmpty}
		case 1:
			return out[0]
		}
		return &Node{Op: OpConcat, Sub: out}
	case OpAlternate:
		var out []*Node
		var seen map[string]bool // past a few alternatives: by their text
		hasEmpty, otherNullable := false, false
		for _, s := range n.Sub {
			s = simplify(s)
			parts := []*Node{s}
			if s.Op == OpAlternate {
				parts = s.Sub
			}
			for _, s := range parts {
				if s.Op == OpEmpty {
					hasEmpty = true
					continue
				}
				if seen == nil && len(out) >= 8 {
					seen = make(map[string]bool, 2*len(out))
					for _, o := range out {
						seen[o.String()] = true
					}
				}
				dup := false
				if seen != nil {
					k := s.String()
					dup = seen[k]
					seen[k] = true
				} else {
					dup = slices.ContainsFunc(out, func(o *Node) bool { return sameTree(o, s) })
				}
				if !dup {
					out = append(out, s)
					otherNullable = otherNullable || nullable(s)
				}
			}
		}
		if hasEmpty && !otherNullable {
			out = append(out, &Node{Op: OpEmpty})
		}
		switch len(out) {
		case 0:
			return &Node{Op: OpEmpty}
		case 1:
			return out[0]
		}
		return &Node{Op: OpAlternate, Sub: out}
	case OpCharClass:
		if n.Set.Len() == 1 {
			for c := 0; c < 256; c++ {
				if n.Set.Has(byte(c)) {
					return &Node{Op: OpLiteral, Lit: string([]byte{byte(c)})}
				}
			}
		}
	}
	return n
}

// sameTree reports whether two simplified trees print the same (String):
// the same shape, literals and sets.
func sameTree(a, b *Node) bool {
	if a.Op != b.Op || len(a.Sub) != len(b.Sub) {
		return false
	}
	switch a.Op {
	case OpLiteral:
		return a.Lit == b.Lit
	case OpCharClass:
		return a.Set == b.Set
	}
	for i := range a.Sub {
		if !sameTree(a.Sub[i], b.Sub[i]) {
			return false
		}
	}
	return true
}

func isStar(n *Node) bool { return n.Op == OpStar || n.Op == OpDoubleStar }

// nullable reports whether n matches the empty string.
func nullable(n *Node) bool {
	switch n.Op {
	case OpEmpty, OpStar, OpDoubleStar:
		return true
	case OpConcat:
		for _, s := range n.Sub {
			if !nullable(s) {
				return false
			}
		}
		return true
	case OpAlternate:
		for _, s := range n.Sub {
			if nullable(s) {
				return true
			}
		}
	}
	return false
}

// String prints n as AppArmor pattern text that parses back to the same tree.
// A component-wide star is printed as `?*`; a plain star right after `/` is
// printed as `{*,}` so that it does not become component-wide when reparsed.
func (n *Node) String() string {
	var b strings.Builder
	w := printer{b: &b}
	w.node(n)
	return b.String()
}

type printer struct {
	b         *strings.Builder
	lastSlash bool
}

func (w *printer) node(n *Node) {
	switch n.Op {
	case OpEmpty:
	case OpLiteral:
		for i := 0; i < len(n.Lit); i++ {
			if c := n.Lit[i]; c == '/' && strings.HasSuffix(w.b.String(), "/") {
				w.b.WriteString(`\/`) // a run of '/' would collapse
				continue
			}
			w.litByte(n.Lit[i], false)
		}
		w.lastSlash = n.Lit[len(n.Lit)-1] == '/'
		return
	case OpAnyNotSlash:
		w.b.WriteByte('?')
	case OpStar, OpDoubleStar:
		s := "*"
		if n.Op == OpDoubleStar {
			s = "**"
		}
		if w.lastSlash {
			s = "{" + s + ",}"
		}
		w.b.WriteString(s)
	case OpCharClass:
		w.class(n.Set)
	case OpConcat:
		for _, s := range n.Sub {
			w.node(s)
		}
		return
	case OpAlternate:
		w.b.WriteByte('{')
		for i, s := range n.Sub {
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.lastSlash = false
			w.node(s)
		}
		w.b.WriteByte('}')
	}
	w.lastSlash = false
}

func (w *printer) litByte(c byte, inClass bool) {
	switch {
	case c < 0x20 || c >= 0x7f:
		fmt.Fprintf(w.b, "\\x%02x", c)
	case strings.IndexByte(`*?[]{},\@"`, c) >= 0:
		w.b.WriteByte('\\')
		w.b.WriteByte(c)
	default:
		w.b.WriteByte(c)
	}
}

func (w *printer) class(set ByteSet) {
	// '-' can only be a literal member when first, and '^' only when not
	// first (escaping does not help: apparmor_parser decodes escapes in a class
	// before reading its syntax), so they are taken out of the ranges.
	w.b.WriteByte('[')
	if comp := set.Complement(); set.Len() > 128 && comp.Len() > 1 {
		w.b.WriteByte('^')
		set = comp
	}
	dash, caret := set.Has('-'), set.Has('^')
	if dash {
		w.b.WriteByte('-')
	}
	rest := set
	rest[0] &^= 1 << '-'
	rest[1] &^= 1 << ('^' - 64)
	for c := 0; c < 256; {
		if !rest.Has(byte(c)) {
			c++
			continue
		}
		end := c
		for end+1 < 256 && rest.Has(byte(end+1)) {
			end++
		}
		w.litByte(byte(c), true)
		if end > c {
			if end > c+1 {
				w.b.WriteByte('-')
			}
			w.litByte(byte(end), true)
		}
		c = end + 1
	}
	if caret {
		w.b.WriteByte('^')
	}
	w.b.WriteByte(']')
}
