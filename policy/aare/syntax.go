package aare

import (
	"errors"
	"fmt"
	"strings"
)

// MaxAlternationDepth bounds the nesting of `{...}`, as in apparmor_parser
// 3.0 (49 levels compile, 50 do not).
const MaxAlternationDepth = 49

// ErrBadPattern is wrapped by every error about malformed pattern text.
var ErrBadPattern = errors.New("bad AppArmor pattern")

// ErrTooComplex is returned when a pattern or rule set would need more automaton
// states (or expansion) than the configured bound.
var ErrTooComplex = errors.New("pattern too complex")

// ErrUnsupported is wrapped (besides ErrBadPattern) by errors about patterns
// that apparmor_parser accepts but gives a meaning nobody intends, which armorer
// refuses: a `*` or `?` inside `[...]`, and an empty class `[]` or `[^]`.
// apparmor_parser's two passes disagree there about where the class ends (the
// first rewrites `*` into a bracket expression; the second reads `[]...]` as a
// class that contains ']').
var ErrUnsupported = errors.New("unsupported AppArmor pattern")

// PatternError reports a malformed pattern and the byte offset of the problem.
type PatternError struct {
	Pattern string // the pattern as given
	Offset  int    // byte offset in Pattern (in Expanded when that is set)
	// Expanded is the text after variable expansion and slash collapsing, when
	// it differs from Pattern.
	Expanded string
	Msg      string
	// Unsupported: apparmor_parser accepts the construct, armorer refuses it
	// (see ErrUnsupported).
	Unsupported bool
}

func (e *PatternError) Error() string {
	if e.Expanded != "" {
		return fmt.Sprintf("pattern %q (expanded %q): col %d: %s", e.Pattern, e.Expanded, e.Offset+1, e.Msg)
	}
	return fmt.Sprintf("pattern %q: col %d: %s", e.Pattern, e.Offset+1, e.Msg)
}

func (e *PatternError) Unwrap() []error {
	if e.Unsupported {
		return []error{ErrBadPattern, ErrUnsupported}
	}
	return []error{ErrBadPattern}
}

// Op is the kind of a pattern tree node.
type Op uint8

const (
	OpEmpty       Op = iota // matches the empty string
	OpLiteral               // matches Lit
	OpAnyNotSlash           // `?`: one byte other than '/'
	OpStar                  // `*`: any run of bytes other than '/'
	OpDoubleStar            // `**`: any run of bytes
	OpCharClass             // `[...]`: one byte in Set
	OpConcat                // Sub in sequence
	OpAlternate             // any of Sub
)

var opNames = [...]string{"empty", "literal", "anynotslash", "star", "doublestar", "class", "concat", "alternate"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", o)
}

// ByteSet is a set of bytes.
type ByteSet [4]uint64

func (s *ByteSet) Add(b byte)     { s[b>>6] |= 1 << (b & 63) }
func (s ByteSet) Has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }
func (s ByteSet) Union(t ByteSet) ByteSet {
	return ByteSet{s[0] | t[0], s[1] | t[1], s[2] | t[2], s[3] | t[3]}
}

// AddRange adds lo..hi inclusive.
func (s *ByteSet) AddRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s.Add(byte(c))
	}
}

// Complement returns every byte not in s.
func (s ByteSet) Complement() ByteSet { return ByteSet{^s[0], ^s[1], ^s[2], ^s[3]} }

// Len is the number of bytes in s.
func (s ByteSet) Len() int {
	n := 0
	for c := 0; c < 256; c++ {
		if s.Has(byte(c)) {
			n++
		}
	}
	return n
}

// Node is a parsed pattern. A component-wide star (`/tmp/*`) is represented
// explicitly as OpAnyNotSlash followed by OpStar, so the tree carries no
// context-dependent flags.
type Node struct {
	Op  Op
	Lit string  // OpLiteral
	Set ByteSet // OpCharClass
	Sub []*Node // OpConcat, OpAlternate
}

// Vars looks up the values of an AppArmor variable by name (without `@{}`).
type Vars func(name string) (values []string, ok bool)

// VarMap adapts a map to Vars.
func VarMap(m map[string][]string) Vars {
	return func(name string) ([]string, bool) { v, ok := m[name]; return v, ok }
}

// Parse parses pattern, expanding variables through vars (which may be nil
// when the pattern has none), and returns its simplified tree.
func Parse(pattern string, vars Vars) (*Node, error) {
	text, err := expand(pattern, vars)
	if err != nil {
		return nil, err
	}
	// Offsets into the text, for errors; only escapes and slash runs move
	// them (nil: each is its own).
	var offs []int
	if strings.Contains(text, "\\") || strings.Contains(text, "//") {
		offs = make([]int, len(text))
		for i := range offs {
			offs[i] = i
		}
	}
	decoded, offs := decodeNumeric(text, offs)
	filtered, offs := filterSlashes(decoded, offs)
	p := &parser{src: filtered}
	n, perr := p.parse()
	if perr != nil {
		perr.Pattern = pattern
		if text == pattern {
			if perr.Offset < len(offs) {
				perr.Offset = offs[perr.Offset]
			}
		} else {
			perr.Expanded = filtered
		}
		return nil, perr
	}
	return simplify(n), nil
}

// maxExpandedLen bounds the text of a pattern after variable expansion.
const maxExpandedLen = 1 << 16

// expand substitutes variables the way apparmor_parser does, textually: a
// variable with one value becomes that value; one with several becomes
// `{v1,v2,...}`, where a value loses its leading slashes when the text before
// the variable ends in '/', and its trailing slashes when the text after it
// starts with '/'. So with @{V}=/a/ b, "/x/@{V}/c" is "/x/{a,b}/c"; with
// @{V}=/b alone, "/@{V}" is "//b" (and a leading "//" is kept).
func expand(pattern string, vars Vars) (string, error) {
	if varRef(pattern) < 0 {
		return pattern, nil
	}
	at := varRef(pattern)
	bad := func(format string, args ...any) error {
		return &PatternError{Pattern: pattern, Offset: at, Msg: fmt.Sprintf(format, args...)}
	}
	var rec func(s string, depth int) (string, error)
	rec = func(s string, depth int) (string, error) {
		if depth > 16 {
			return "", bad("variables nested too deeply")
		}
		var b strings.Builder
		for {
			i := varRef(s)
			if i < 0 {
				b.WriteString(s)
				break
			}
			b.WriteString(s[:i])
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", bad("unterminated variable reference")
			}
			name := s[i+2 : i+end]
			if !validVarName(name) {
				return "", bad("invalid variable name %q", name)
			}
			var vals []string
			ok := false
			if vars != nil {
				vals, ok = vars(name)
			}
			if !ok {
				return "", bad("undefined variable @{%s}", name)
			}
			if len(vals) == 0 {
				return "", bad("variable @{%s} has no value", name)
			}
			rest := s[i+end+1:]
			if len(vals) > 1 {
				b.WriteByte('{')
			}
			for k, v := range vals {
				v, err := rec(v, depth+1)
				if err != nil {
					return "", err
				}
				if len(vals) > 1 {
					if k > 0 {
						b.WriteByte(',')
					}
					if strings.HasSuffix(s[:i], "/") {
						v = strings.TrimLeft(v, "/")
					}
					if strings.HasPrefix(rest, "/") {
						v = strings.TrimRight(v, "/")
					}
				}
				b.WriteString(v)
			}
			if len(vals) > 1 {
				b.WriteByte('}')
			}
			if b.Len() > maxExpandedLen {
				return "", fmt.Errorf("pattern %q: expansion longer than %d bytes: %w", pattern, maxExpandedLen, ErrTooComplex)
			}
			s = rest
		}
		return b.String(), nil
	}
	return rec(pattern, 0)
}

// varRef returns the offset of the first unescaped "@{" in s, or -1.
func varRef(s string) int {
	for i := 0; i+1 < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case s[i] == '@' && s[i+1] == '{':
			return i
		}
	}
	return -1
}

func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alpha := c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z')
		if !alpha && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// decodeNumeric replaces the numeric escapes `\xHH`, `\NNN` (octal) and
// `\dNNN` by the byte they stand for, before slashes are collapsed, as
// apparmor_parser does: `/a\x2f/b` is `/a/b`. A byte that has a meaning in a
// pattern stays escaped (`\x2a` is a literal '*'); '-' and '^' do not, so
// inside `[...]` they still act as range and negation.
func decodeNumeric(s string, offs []int) (string, []int) {
	if !strings.Contains(s, "\\") {
		return s, offs
	}
	var out []byte
	var outOffs []int
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			out = append(out, s[i])
			outOffs = append(outOffs, offs[i])
			continue
		}
		p := &parser{src: s, pos: i}
		b, simple, err := p.escape()
		if err != nil || simple || strings.IndexByte("aefnrt", s[i+1]) >= 0 {
			out = append(out, s[i], s[i+1]) // left to the parser
			outOffs = append(outOffs, offs[i], offs[i+1])
			i++
			continue
		}
		if strings.IndexByte(`*?[]{},\@"`, b) >= 0 {
			out = append(out, '\\')
			outOffs = append(outOffs, offs[i])
		}
		out = append(out, b)
		outOffs = append(outOffs, offs[i])
		i = p.pos - 1
	}
	return string(out), outOffs
}

// filterSlashes collapses runs of '/' like apparmor_parser does to every file
// rule (textually, before any other interpretation), keeping a leading "//"
// that is followed by a non-slash.
func filterSlashes(s string, offs []int) (string, []int) {
	if !strings.Contains(s, "//") {
		return s, offs
	}
	out := make([]byte, 0, len(s))
	outOffs := make([]int, 0, len(s))
	i := 0
	if len(s) >= 2 && s[0] == '/' && s[1] == '/' && (len(s) == 2 || s[2] != '/') {
		out = append(out, '/', '/')
		outOffs = append(outOffs, offs[0], offs[1])
		i = 2
	}
	seen := false
	for ; i < len(s); i++ {
		if s[i] == '/' {
			if seen {
				continue
			}
			seen = true
		} else {
			seen = false
		}
		out = append(out, s[i])
		outOffs = append(outOffs, offs[i])
	}
	return string(out), outOffs
}

type parser struct {
	src       string
	pos       int
	depth     int
	lastSlash bool // the last thing emitted was an unescaped-equivalent '/'
}

func (p *parser) errorf(off int, format string, args ...any) *PatternError {
	return &PatternError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parse() (*Node, *PatternError) {
	n, err := p.parseSeq()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.src) { // only '}' stops a top-level sequence
		return nil, p.errorf(p.pos, "'}' without matching '{'")
	}
	return n, nil
}

// parseSeq parses until the end, or (inside braces) an unescaped ',' or '}'.
func (p *parser) parseSeq() (*Node, *PatternError) {
	seq := &Node{Op: OpConcat}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch c {
		case '\\':
			b, simple, err := p.escape()
			if err != nil {
				return nil, err
			}
			seq.Sub = append(seq.Sub, &Node{Op: OpLiteral, Lit: string([]byte{b})})
			p.lastSlash = b == '/' && simple
		case '*':
			start := p.pos
			for p.pos < len(p.src) && p.src[p.pos] == '*' {
				p.pos++
			}
			op := OpStar
			if p.pos-start >= 2 {
				op = OpDoubleStar
			}
			if p.lastSlash && (p.pos == len(p.src) || p.src[p.pos] == '/') {
				seq.Sub = append(seq.Sub, &Node{Op: OpAnyNotSlash})
			}
			seq.Sub = append(seq.Sub, &Node{Op: op})
			p.lastSlash = false
			continue
		case '?':
			p.pos++
			seq.Sub = append(seq.Sub, &Node{Op: OpAnyNotSlash})
			p.lastSlash = false
			continue
		case '[':
			n, err := p.class()
			if err != nil {
				return nil, err
			}
			seq.Sub = append(seq.Sub, n)
			p.lastSlash = false
			continue
		case ']':
			return nil, p.errorf(p.pos, "']' without matching '['")
		case '{':
			n, err := p.alternation()
			if err != nil {
				return nil, err
			}
			seq.Sub = append(seq.Sub, n)
			p.lastSlash = false
			continue
		case '}':
			if p.depth == 0 {
				return nil, p.errorf(p.pos, "'}' without matching '{'")
			}
			return seq, nil
		case ',':
			if p.depth > 0 {
				return seq, nil
			}
			fallthrough
		default:
			// A run of plain bytes is one literal (simplify would merge
			// them anyway): no node and no string per byte.
			start := p.pos
			for p.pos++; p.pos < len(p.src) && !isSyntaxByte(p.src[p.pos]); p.pos++ {
			}
			seq.Sub = append(seq.Sub, &Node{Op: OpLiteral, Lit: p.src[start:p.pos]})
			p.lastSlash = p.src[p.pos-1] == '/'
			continue
		}
	}
	return seq, nil
}

// isSyntaxByte: the bytes parseSeq treats specially (',' only inside
// braces, but a run of literals may stop there anyway).
func isSyntaxByte(c byte) bool {
	switch c {
	case '\\', '*', '?', '[', ']', '{', '}', ',':
		return true
	}
	return false
}

func (p *parser) alternation() (*Node, *PatternError) {
	open := p.pos
	p.depth++
	if p.depth > MaxAlternationDepth {
		return nil, p.errorf(open, "'{' nested deeper than %d", MaxAlternationDepth)
	}
	p.pos++ // '{'
	alt := &Node{Op: OpAlternate}
	for {
		p.lastSlash = false
		n, err := p.parseSeq()
		if err != nil {
			return nil, err
		}
		alt.Sub = append(alt.Sub, n)
		if p.pos >= len(p.src) {
			return nil, p.errorf(open, "'{' without matching '}'")
		}
		if p.src[p.pos] == '}' {
			p.pos++
			break
		}
		p.pos++ // ','
	}
	p.depth--
	if len(alt.Sub) < 2 {
		return nil, p.errorf(open, "'{...}' needs at least two alternatives separated by ','")
	}
	return alt, nil
}

func (p *parser) class() (*Node, *PatternError) {
	// apparmor_parser hands escapes inside [...] to its regex parser, which
	// decodes them before looking at the class syntax: an escape that decodes
	// to '-' is a range operator and one that decodes to '^' at the start
	// negates; only a raw ']' closes.
	open := p.pos
	p.pos++ // '['
	neg := false
	var set ByteSet
	members := 0
	for {
		if p.pos >= len(p.src) {
			return nil, p.errorf(open, "'[' without matching ']'")
		}
		if p.src[p.pos] == ']' {
			p.pos++
			break
		}
		at := p.pos
		lo, err := p.classByte()
		if err != nil {
			return nil, err
		}
		if lo == '^' && !neg && members == 0 && at == open+1 {
			neg = true
			continue
		}
		if lo == '-' && members > 0 {
			return nil, p.errorf(at, "'-' in '[...]' must be first or between two bytes")
		}
		hi := lo
		if lo != '-' || members > 0 {
			save := p.pos
			if p.pos < len(p.src) && p.src[p.pos] != ']' {
				dashAt := p.pos
				if d, err := p.classByte(); err == nil && d == '-' {
					if p.pos >= len(p.src) || p.src[p.pos] == ']' {
						return nil, p.errorf(dashAt, "'-' in '[...]' must be first or between two bytes")
					}
					if hi, err = p.classByte(); err != nil {
						return nil, err
					}
					if hi < lo {
						lo, hi = hi, lo
					}
				} else {
					p.pos = save
				}
			}
		}
		set.AddRange(lo, hi)
		members++
	}
	if members == 0 {
		e := p.errorf(open, "empty '[]' (apparmor_parser would read a following ']' as a member)")
		e.Unsupported = true
		return nil, e
	}
	if neg {
		set = set.Complement() // unlike *, ? and **, this includes NUL
	}
	return &Node{Op: OpCharClass, Set: set}, nil
}

func (p *parser) classByte() (byte, *PatternError) {
	c := p.src[p.pos]
	switch c {
	case '\\':
		b, _, err := p.escape()
		return b, err
	case '*', '?':
		e := p.errorf(p.pos, "unescaped %q inside '[...]' (apparmor_parser rewrites it into a regex fragment); write \\%c", c, c)
		e.Unsupported = true
		return 0, e
	}
	p.pos++
	return c, nil
}

// escape decodes the escape at p.pos (a backslash) and advances past it.
// simple reports a plain `\c` that stands for c itself.
func (p *parser) escape() (b byte, simple bool, err *PatternError) {
	start := p.pos
	p.pos++
	if p.pos >= len(p.src) {
		return 0, false, p.errorf(start, "trailing '\\'")
	}
	c := p.src[p.pos]
	p.pos++
	// digits reads up to max digits, stopping before one that would take the
	// value past 255 (apparmor_parser reads "\d300" as byte 30, then '0').
	digits := func(base, max int) (int, int) {
		v, n := 0, 0
		for n < max && p.pos < len(p.src) {
			d := digitVal(p.src[p.pos])
			if d >= base || v*base+d > 255 {
				break
			}
			v = v*base + d
			p.pos++
			n++
		}
		return v, n
	}
	switch c {
	case 'a':
		return 7, false, nil
	case 'e':
		return 0x1b, false, nil
	case 'f':
		return '\f', false, nil
	case 'n':
		return '\n', false, nil
	case 'r':
		return '\r', false, nil
	case 't':
		return '\t', false, nil
	case 'x':
		v, n := digits(16, 2)
		if n == 0 {
			return 'x', true, nil
		}
		return byte(v), false, nil
	case 'd':
		v, n := digits(10, 3)
		if n == 0 {
			return 'd', true, nil
		}
		return byte(v), false, nil
	case '0', '1', '2', '3', '4', '5', '6', '7':
		p.pos--
		v, _ := digits(8, 3)
		return byte(v), false, nil
	}
	return c, true, nil
}

func digitVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return int(c|0x20-'a') + 10
	}
	return 99
}
