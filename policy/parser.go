package policy

import (
	"bytes"
	"cmp"
	"fmt"
	goscanner "go/scanner"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Mode controls ParseFile.
type Mode uint

const (
	// ParseComments keeps comments in the tree (attached to rules).
	ParseComments Mode = 1 << iota
	// AllErrors reports every error, not only the first 10 on distinct lines.
	AllErrors
)

// Error is a syntax error at a position; it prints as file:line:col: msg.
type Error = goscanner.Error

// ErrorList is a list of errors sorted by position. Its Err method returns
// nil when the list is empty.
type ErrorList = goscanner.ErrorList

func lineStarts(src []byte) []int {
	ls := make([]int, 1, 1+bytes.Count(src, []byte{'\n'}))
	for i, c := range src {
		if c == '\n' && i+1 < len(src) {
			ls = append(ls, i+1)
		}
	}
	return ls
}

// maxDepth bounds the nesting of profiles, hats, conditionals and blocks.
const maxDepth = 64

// bailout is panicked to abort parsing; only ParseFile recovers it.
type bailout struct{}

// ParseFile parses the policy text src (or, if src is nil, the file
// filename) and returns its syntax tree. The file is added to fset. It
// always returns the (possibly partial) tree; on syntax errors the error is
// an ErrorList sorted by position, and the broken rules are BadRules.
func ParseFile(fset *token.FileSet, filename string, src []byte, mode Mode) (f *File, err error) {
	if src == nil {
		if src, err = os.ReadFile(filename); err != nil {
			return nil, err
		}
	}
	tf := fset.AddFile(filename, -1, len(src))
	tf.SetLinesForContent(src)
	p := &parser{file: tf, src: src, mode: mode, lineStarts: lineStarts(src)}
	p.sc.init(tf, src, func(pos token.Pos, msg string) {
		p.error(pos, msg)
		p.tokBad = true
	})
	f = &File{Name: filename, Start: tf.Pos(0), EOF: tf.Pos(len(src)), mode: mode}
	defer func() {
		if e := recover(); e != nil {
			if _, ok := e.(bailout); !ok {
				panic(e)
			}
		}
		p.errors.Sort()
		err = p.errors.Err()
	}()
	p.next()
	f.Rules = p.parseBody(true)
	return f, nil
}

type parser struct {
	file   *token.File
	src    []byte
	sc     lexer
	mode   Mode
	errors ErrorList

	pos token.Pos
	tok Token
	lit string

	prevEnd     token.Pos       // end of the previous non-comment token
	lineComment *CommentGroup   // comment on the line of the previous token
	pending     []*CommentGroup // comment groups not yet attached
	failed      bool            // the current rule has a syntax error
	synced      bool            // after an error, the rule already skipped to a rule start
	firstOnLine bool            // the current token is the first on its line
	tokBad      bool            // the lexer reported an error in the current token
	glob        bool            // the next token is a value: '{' starts an alternation
	lineStarts  []int           // offset of the first byte of each line
	lineHint    int             // index into lineStarts of the last line looked up
	depth       int
}

func (p *parser) error(pos token.Pos, msg string) {
	epos := p.file.Position(pos)
	if p.mode&AllErrors == 0 {
		n := len(p.errors)
		if n > 0 && p.errors[n-1].Pos.Line == epos.Line {
			return
		}
		if n >= 10 {
			panic(bailout{})
		}
	}
	p.errors.Add(epos, msg)
}

// fail reports an error and marks the current rule as bad.
func (p *parser) fail(pos token.Pos, format string, args ...any) {
	if !p.failed {
		p.error(pos, fmt.Sprintf(format, args...))
	}
	p.failed = true
}

func (p *parser) found() string {
	switch p.tok {
	case EOF:
		return "end of file"
	case NEWLINE:
		return "end of line"
	case WORD:
		return fmt.Sprintf("%q", p.lit)
	}
	return "'" + p.lit + "'"
}

// line returns pos's line number. It looks in the parser's own table of
// line starts, starting from the last answer (positions mostly move
// forward), which is much cheaper than token.File.Line's locked search.
func (p *parser) line(pos token.Pos) int {
	off := int(pos) - p.file.Base()
	if off < 0 || off > len(p.src) {
		return p.file.Line(pos)
	}
	ls := p.lineStarts
	h := p.lineHint
	switch {
	case ls[h] <= off && (h+1 == len(ls) || off < ls[h+1]):
	case h+1 < len(ls) && ls[h+1] <= off && (h+2 == len(ls) || off < ls[h+2]):
		h++
	default:
		i, found := slices.BinarySearch(ls, off)
		if !found {
			i--
		}
		h = i
	}
	p.lineHint = h
	return h + 1
}

// rescanGlob re-reads a '{' token (lexed where a rule starts) as the start
// of a value: "mount {/dev/a,/dev/b} -> /mnt/,".
func (p *parser) rescanGlob() {
	if p.tok == LBRACE {
		p.sc.off = p.file.Offset(p.pos)
		p.pos, p.tok, p.lit = p.sc.scan(scanGlob)
	}
}

// next advances in the parser's current mode: values (p.glob) or rules.
func (p *parser) next() {
	if p.glob {
		p.nextMode(scanGlob)
	} else {
		p.nextMode(0)
	}
}

// nextMode advances to the next non-comment token, lexed in mode m, and
// sorts the comments it passes into a line comment (same line as the
// previous token) and groups of consecutive comment lines.
func (p *parser) nextMode(m scanMode) {
	if p.tokBad {
		p.failed = true // the rule consuming a bad token is bad; the lexer reported it
		p.tokBad = false
	}
	if p.tok != EOF && p.pos.IsValid() {
		if p.tok == NEWLINE {
			p.prevEnd = p.pos
		} else {
			p.prevEnd = p.pos + token.Pos(len(p.lit))
		}
	}
	if p.lineComment != nil {
		p.pending = append(p.pending, p.lineComment)
		p.lineComment = nil
	}
	prevLine := 0
	if p.prevEnd.IsValid() {
		prevLine = p.line(p.prevEnd)
	}
	var group *CommentGroup
	lastLine := -1
	for {
		pos, tok, lit := p.sc.scan(m)
		if tok != COMMENT {
			p.pos, p.tok, p.lit = pos, tok, lit
			p.firstOnLine = prevLine == 0 || p.line(pos) != prevLine
			return
		}
		if p.mode&ParseComments == 0 {
			continue
		}
		c := &Comment{Hash: pos, Text: lit}
		l := p.line(pos)
		switch {
		case l == prevLine && group == nil && p.lineComment == nil:
			p.lineComment = &CommentGroup{List: []*Comment{c}}
		case group != nil && l == lastLine+1:
			group.List = append(group.List, c)
		default:
			group = &CommentGroup{List: []*Comment{c}}
			p.pending = append(p.pending, group)
		}
		lastLine = l
	}
}

// takeLine returns the line comment after the token just consumed.
func (p *parser) takeLine() *CommentGroup {
	c := p.lineComment
	p.lineComment = nil
	return c
}

// leadComments moves pending comment groups before the current token: the
// group ending on the line just above becomes the doc comment, the others
// become CommentBlocks appended to body.
func (p *parser) leadComments(body *[]Rule) *CommentGroup {
	var doc *CommentGroup
	groups := p.pending
	p.pending = nil
	if n := len(groups); n > 0 && p.tok != RBRACE && p.tok != EOF {
		last := groups[n-1]
		if p.line(last.End()) == p.line(p.pos)-1 || p.line(last.End()) == p.line(p.pos) {
			doc = last
			groups = groups[:n-1]
		}
	}
	for _, g := range groups {
		*body = append(*body, &CommentBlock{Meta: Meta{From: g.Pos(), To: g.End()}, Comments: g})
	}
	return doc
}

func sortComments(g *CommentGroup) {
	slices.SortFunc(g.List, func(a, b *Comment) int { return cmp.Compare(a.Hash, b.Hash) })
}

// dropCommentsBefore forgets pending comments that lie before end.
func (p *parser) dropCommentsBefore(end token.Pos) {
	keep := p.pending[:0]
	for _, g := range p.pending {
		if g.Pos() >= end {
			keep = append(keep, g)
		}
	}
	p.pending = keep
}

// innerComments appends comments seen inside a rule to its doc comment, so
// that they are printed before it.
func (p *parser) innerComments(m *Meta) {
	if len(p.pending) == 0 {
		return
	}
	if m.Doc == nil {
		m.Doc = &CommentGroup{}
	}
	for _, g := range p.pending {
		m.Doc.List = append(m.Doc.List, g.List...)
	}
	sortComments(m.Doc)
	p.pending = nil
}

func (p *parser) word() *Word {
	if p.tok != WORD {
		p.fail(p.pos, "expected a word, found %s", p.found())
		return &Word{ValuePos: p.pos}
	}
	w := &Word{ValuePos: p.pos, Raw: p.lit}
	p.next()
	return w
}

func (p *parser) expect(tok Token) token.Pos {
	pos := p.pos
	if p.tok != tok {
		p.fail(p.pos, "expected '%s', found %s", tok, p.found())
		return pos
	}
	p.next()
	return pos
}

// isPathStart reports whether a word can start a path or glob.
func isPathStart(lit string) bool {
	if lit == "" {
		return false
	}
	switch lit[0] {
	case '/', '@', '"', '{', '*':
		return true
	}
	return false
}

// modesRx is apparmor_parser's MODES token: a word of permission letters
// that its lexer prefers to a name ("rw", "pix"; not "pi", "K").
var modesRx = regexp.MustCompile(`^(?:[RrWwaLlMmkXx]|[PpCc][Xx]|[PpCc]?[IiUu][Xx])+$`)

func isModes(lit string) bool { return modesRx.MatchString(lit) }

// modesTok marks a permissions word in the lexer's lookahead.
const modesTok = -1

// isBareName reports a word apparmor_parser lexes as a plain identifier
// (letters, digits and '_', not a keyword or permissions), which it takes
// as a file name where a path is expected.
func isBareName(lit string) bool {
	if lit == "" || !isAlpha(lit[0]) {
		return false
	}
	for i := 1; i < len(lit); i++ {
		if !isIdentByte(lit[i]) {
			return false
		}
	}
	return Lookup(lit) == WORD && !isModes(lit)
}

// isFileName reports a word that can be the path of a file rule.
func isFileName(lit string) bool { return isPathStart(lit) || isBareName(lit) }

func isPerms(lit string) bool {
	if lit == "" {
		return false
	}
	for i := 0; i < len(lit); i++ {
		if !strings.ContainsRune("rwaxlkmiuUpPcCbBIRWLMX", rune(lit[i])) {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------- bodies

// parseBody parses rules until '}' (not consumed) or EOF.
func (p *parser) parseBody(top bool) []Rule {
	p.nest()
	defer func() { p.depth-- }()
	var body []Rule
	for p.tok != EOF && !(p.tok == RBRACE && !top) {
		before := p.pos
		doc := p.leadComments(&body)
		r := p.parseRule()
		if r != nil {
			m := r.meta()
			if doc != nil {
				if m.Doc != nil {
					doc.List = append(doc.List, m.Doc.List...)
					sortComments(doc)
				}
				m.Doc = doc
			}
			body = append(body, r)
		}
		if p.pos == before && p.tok != EOF && !(p.tok == RBRACE && !top) {
			p.next() // progress guard
		}
	}
	p.leadComments(&body)
	p.markSections(body)
	return body
}

// markSections sets Hint to NewSection on each rule that the source
// separates from the previous one by a blank line, so that the layout
// survives edits that remove or insert rules.
func (p *parser) markSections(body []Rule) {
	prevEnd := token.NoPos
	for _, r := range body {
		m := r.meta()
		if start := ruleStart(r); start.IsValid() && prevEnd.IsValid() && p.line(start)-p.line(prevEnd) > 1 {
			m.Hint = NewSection
		}
		if m.To.IsValid() {
			prevEnd = m.To - 1
			if m.Line != nil && m.Line.End() > prevEnd {
				prevEnd = m.Line.End()
			}
		}
	}
}

// parseRule parses one element of a body; on a syntax error it skips to
// the next rule start and returns a BadRule.
func (p *parser) parseRule() Rule {
	start := p.pos
	p.failed = false
	p.glob = false
	r := p.parseRuleInner()
	p.glob = false
	if p.failed {
		p.failed = false
		if !p.synced {
			p.skipRule()
		}
		p.synced = false
		end := p.prevEnd
		if end < start {
			end = start
		}
		bad := &BadRule{Meta: Meta{From: start, To: end}, Text: p.text(start, end)}
		p.dropCommentsBefore(end) // comments inside are part of Text
		if lc := p.lineComment; lc != nil {
			p.lineComment = nil
			if lc.Pos() >= end {
				bad.Line = lc
			}
		}
		if r != nil && r.meta().Doc != nil {
			bad.Doc = r.meta().Doc
		}
		return bad
	}
	return r
}

func (p *parser) text(from, to token.Pos) string {
	a, b := p.file.Offset(from), p.file.Offset(to)
	if a < 0 || b > len(p.src) || a > b {
		return ""
	}
	return string(p.src[a:b])
}

// skipRule advances past the next ',' at this level, or to '}' or EOF, or
// to a token that starts a line and looks like the start of a rule; a
// balanced '{...}' is skipped whole. It always makes progress.
func (p *parser) skipRule() {
	for {
		if p.firstOnLine && p.looksLikeRuleStart() {
			return
		}
		switch p.tok {
		case EOF, RBRACE:
			return
		case COMMA:
			p.next()
			return
		case LBRACE:
			depth := 0
			for p.tok != EOF {
				switch p.tok {
				case LBRACE:
					depth++
				case RBRACE:
					depth--
				}
				p.next()
				if depth == 0 {
					return
				}
			}
			return
		}
		p.next()
	}
}

// endRule consumes the ',' that ends a rule and attaches comments.
func (p *parser) endRule(m *Meta) {
	if p.failed {
		return
	}
	if p.tok != COMMA {
		p.fail(p.prevEnd, "missing ',' at the end of the rule (found %s next)", p.found())
		return
	}
	if p.lineComment != nil { // after the rule's last word, before its ',': inside the rule
		p.pending = append(p.pending, p.lineComment)
		p.lineComment = nil
	}
	p.innerComments(m)
	m.Comma = p.pos
	m.To = p.pos + 1
	p.glob = false
	p.next()
	m.Line = p.takeLine()
}

// looksLikeRuleStart reports whether the current token can begin a rule:
// a keyword, a path, a hat, a variable, #include or '}'.
func (p *parser) looksLikeRuleStart() bool {
	switch p.tok {
	case INCLUDE, RBRACE:
		return true
	case WORD:
		if Lookup(p.lit) != WORD {
			return true
		}
		switch p.lit[0] {
		case '/', '@', '^', '$', '"':
			return true
		}
	}
	return false
}

func (p *parser) parseRuleInner() Rule {
	start := p.pos
	switch p.tok {
	case INCLUDE:
		return p.parseInclude(true)
	case LBRACE: // a bare block: apparmor_parser takes { rules } inside a profile
		if p.depth <= 1 {
			p.fail(p.pos, "unexpected '{': a block needs a profile header or a qualifier before it")
			return nil
		}
		p.innerComments(&Meta{})
		p.next()
		b := &Block{Meta: Meta{From: start}}
		b.Body = p.parseBody(false)
		b.To = p.pos + 1
		p.expect(RBRACE)
		b.Line = p.takeLine()
		return b
	case WORD:
	default:
		p.fail(p.pos, "expected a rule, found %s", p.found())
		return nil
	}
	p.splitGluedKeyword()
	switch Lookup(p.lit) {
	case INCLUDE:
		return p.parseInclude(false)
	case ABI:
		p.next()
		r := &Abi{Meta: Meta{From: start}, Path: p.word()}
		p.endRule(&r.Meta)
		return r
	case ALIAS:
		p.next()
		r := &Alias{Meta: Meta{From: start}}
		r.Path = p.word()
		r.ArrowPos = p.expect(ARROW)
		r.Target = p.word()
		p.endRule(&r.Meta)
		return r
	case IF:
		return p.parseIf()
	case PROFILE, HAT:
		return p.parseProfile(start)
	case SET:
		return p.parseRlimit(start)
	}
	if strings.HasPrefix(p.lit, "@") || strings.HasPrefix(p.lit, "$") {
		name := &Word{ValuePos: p.pos, Raw: p.lit}
		p.next()
		if p.tok == ASSIGN || p.tok == ADD {
			if !varNameRx.MatchString(name.Raw) {
				p.fail(name.Pos(), "bad variable name %q: write @{NAME} or $NAME", name.Raw)
				return nil
			}
			return p.parseAssign(start, name)
		}
		if name.Raw[0] == '$' {
			p.fail(p.pos, "expected '=' after boolean %s", name.Raw)
			return nil
		}
		return p.parsePathFirst(start, Qualifiers{}, name)
	}
	if strings.HasPrefix(p.lit, "^") {
		return p.parseProfile(start)
	}
	if strings.HasPrefix(p.lit, ":") { // :namespace:/path {
		w := &Word{ValuePos: p.pos, Raw: p.lit}
		p.next()
		return p.parsePathFirst(start, Qualifiers{}, w)
	}
	q := p.parseQualifiers()
	if p.failed {
		return nil
	}
	if p.tok == LBRACE {
		if q.IsZero() {
			p.fail(p.pos, "unexpected '{'")
			return nil
		}
		p.innerComments(&Meta{})
		r := &QualBlock{Meta: Meta{From: start}, Qual: q, Lbrace: p.pos}
		p.next()
		r.Body = p.parseBody(false)
		r.Rbrace = p.pos
		r.To = p.pos + 1
		p.expect(RBRACE)
		r.Line = p.takeLine()
		return r
	}
	if p.tok != WORD {
		p.fail(p.pos, "expected a rule after the qualifiers, found %s", p.found())
		return nil
	}
	if isPathStart(p.lit) {
		w := &Word{ValuePos: p.pos, Raw: p.lit}
		p.next()
		return p.parsePathFirst(start, q, w)
	}
	kw := Lookup(p.lit)
	switch kw {
	case FILE:
		return p.parseFile(start, q)
	case LINK:
		return p.parseLink(start, q)
	case CAPABILITY:
		p.next()
		r := &CapabilityRule{Meta: Meta{From: start}, Qual: q}
		for p.tok == WORD {
			r.Names = append(r.Names, p.word())
		}
		p.endRule(&r.Meta)
		return r
	case NETWORK:
		return p.parseNetwork(start, q)
	case SIGNAL, PTRACE, UNIX, DBUS, IO_URING, USERNS, MQUEUE:
		p.next()
		c := p.parseCondParts(true)
		var r Rule
		switch kw {
		case SIGNAL:
			r = &SignalRule{Meta: Meta{From: start}, Qual: q, Access: c.access, Conds: c.conds}
		case PTRACE:
			r = &PtraceRule{Meta: Meta{From: start}, Qual: q, Access: c.access, Conds: c.conds}
		case UNIX:
			r = &UnixRule{Meta: Meta{From: start}, Qual: q, Access: c.access, Conds: c.conds}
		case DBUS:
			r = &DbusRule{Meta: Meta{From: start}, Qual: q, Access: c.access, Conds: c.conds}
		case IO_URING:
			r = &IOUringRule{Meta: Meta{From: start}, Qual: q, Access: c.access, Conds: c.conds}
		case USERNS:
			if len(c.conds) > 0 {
				p.fail(c.conds[0].Pos(), "userns takes no conditionals")
			}
			r = &UsernsRule{Meta: Meta{From: start}, Qual: q, Access: c.access}
		case MQUEUE:
			mq := &MqueueRule{Meta: Meta{From: start}, Qual: q, Access: c.access, Conds: c.conds}
			if len(c.args) > 0 {
				mq.Name = c.args[0]
				c.args = c.args[1:]
			}
			r = mq
		}
		if len(c.args) > 0 && !p.failed {
			p.fail(c.args[0].Pos(), "unexpected %q in %s rule", c.args[0].Raw, kw)
		}
		if c.arrow && !p.failed {
			p.fail(c.arrowPos, "unexpected '->' in %s rule", kw)
		}
		p.endRule(r.meta())
		return r
	case MOUNT, REMOUNT, UMOUNT:
		return p.parseMount(start, q, kw)
	case PIVOT_ROOT:
		p.next()
		c := p.parseCondParts(false)
		r := &PivotRootRule{Meta: Meta{From: start}, Qual: q, Conds: c.conds, ArrowPos: c.arrowPos, Profile: c.target}
		if len(c.args) > 0 {
			r.NewRoot = c.args[0]
		}
		if len(c.args) > 1 {
			p.fail(c.args[1].Pos(), "pivot_root takes one new root, found another: %q", c.args[1].Raw)
		}
		p.endRule(&r.Meta)
		return r
	case CHANGE_PROFILE:
		return p.parseChangeProfile(start, q)
	case ALL:
		if next := p.sc.peek(0, 1); next[0] == WORD {
			break // AppArmor 3.0 lexes "all" as the permissions a, l, l: "all /foo,"
		}
		p.next()
		r := &AllRule{Meta: Meta{From: start}, Qual: q}
		p.endRule(&r.Meta)
		return r
	}
	if isBareName(p.lit) {
		// A bare name is a file rule when permissions follow ("foo r,"):
		// apparmor_parser does not require a path to be absolute. Other
		// words after a name are an unknown rule ("newkind a b,").
		if next := p.sc.peek(0, 2); next[0] == modesTok && len(next) == 2 && (next[1] == COMMA || next[1] == ARROW) {
			w := &Word{ValuePos: p.pos, Raw: p.lit}
			p.next()
			return p.parsePathFirst(start, q, w)
		}
	}
	if isPerms(p.lit) {
		perms := &Word{ValuePos: p.pos, Raw: p.lit}
		p.next()
		if p.tok == WORD && isFileName(p.lit) {
			r := &FileRule{Meta: Meta{From: start}, Qual: q, Perms: perms, PermsFirst: true}
			r.Path = p.word()
			p.parseExecTarget(r)
			p.endRule(&r.Meta)
			return r
		}
		p.fail(perms.Pos(), "unknown rule %q: a file rule starts with a path ('/', '@{', '\"') or with permissions followed by a path", perms.Raw)
		return nil
	}
	return p.parseRaw(start)
}

// splitGluedKeyword reads "profile#x", "hat/x", "abi<abi/3.0>" and
// "alias/usr/" as the keyword and what follows: apparmor_parser's lexer
// ends these keywords at the first character that cannot continue an
// identifier.
func (p *parser) splitGluedKeyword() {
	for _, kw := range [...]string{"profile", "hat", "abi", "alias"} {
		if len(p.lit) > len(kw) && strings.HasPrefix(p.lit, kw) && !isIdentByte(p.lit[len(kw)]) {
			p.sc.off = p.file.Offset(p.pos) + len(kw)
			p.lit = kw
			return
		}
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// parseRaw keeps an unknown keyword rule that ends in ',' as a RawRule.
func (p *parser) parseRaw(start token.Pos) Rule {
	kw := p.lit
	if !isIdent(kw) {
		p.fail(p.pos, "unexpected %q: expected a rule (a path, or a keyword such as capability, network, profile)", kw)
		return nil
	}
	depth := 0
	for {
		switch p.tok {
		case LPAREN:
			depth++
		case RPAREN:
			depth--
		case COMMA:
			if depth <= 0 {
				r := &RawRule{Meta: Meta{From: start, To: p.pos + 1, Comma: p.pos}}
				r.Text = p.text(start, r.To)
				p.pending, p.lineComment = nil, nil // comments inside are part of Text
				p.next()
				r.Line = p.takeLine()
				return r
			}
		case EOF, LBRACE, RBRACE, INCLUDE:
			p.fail(start, "unknown rule %q: expected a keyword such as file, capability, network, profile", kw)
			return nil
		}
		p.next()
	}
}

var varNameRx = regexp.MustCompile(`^(@\{[^{}\s,=]*\}|@[A-Za-z][A-Za-z0-9_]*|\$[^{}\s,=()]+|\$\{[^{}\s,=()]+\})$`)

// condKeyRx matches the key of a conditional: peer, set, addr,
// security.apparmor (xattrs), attach_disconnected.path (flags).
var condKeyRx = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*$`)

// condKey fails unless w can be the key of a conditional.
func (p *parser) condKey(w *Word) bool {
	if !condKeyRx.MatchString(w.Raw) {
		p.fail(w.Pos(), "%q cannot be the name of a conditional (key=value)", w.Raw)
		return false
	}
	return true
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (p *parser) parseQualifiers() Qualifiers {
	var q Qualifiers
	rank := -1
	for p.tok == WORD && !p.failed {
		var r int
		switch Lookup(p.lit) {
		case PRIORITY:
			r = 0
		case AUDIT:
			r = 1
		case ALLOW, DENY:
			r = 2
		case OWNER:
			r = 3
		default:
			return q
		}
		if r <= rank {
			p.fail(p.pos, "qualifier %q out of order or repeated: write them as priority=N audit allow|deny owner", p.lit)
			return q
		}
		rank = r
		switch Lookup(p.lit) {
		case PRIORITY:
			p.next()
			p.expect(ASSIGN)
			q.Priority = p.word()
			continue
		case AUDIT:
			q.Audit = true
		case ALLOW:
			q.Allow = true
		case DENY:
			q.Deny = true
		case OWNER:
			q.Owner = true
		}
		p.next()
	}
	return q
}

func (p *parser) parseInclude(hash bool) Rule {
	r := &Include{Meta: Meta{From: p.pos}, Hash: hash}
	kwEnd := p.pos + token.Pos(len(p.lit))
	p.next()
	if p.tok == WORD && p.lit == "if" {
		p.next()
		if p.tok != WORD || p.lit != "exists" {
			p.fail(p.pos, "expected 'exists' after 'include if', found %s", p.found())
			return nil
		}
		kwEnd = p.pos + token.Pos(len(p.lit))
		p.next()
		r.IfExists = true
	}
	// apparmor_parser's lexer ends an include that only blanks separate
	// from the end of the file without a complaint: it includes nothing.
	if t := p.text(kwEnd, p.pos); p.tok == EOF && t != "" && strings.Trim(t, " \t") == "" {
		return nil
	}
	if p.tok != WORD {
		p.fail(p.pos, "expected the included file as <name> or \"/path\", found %s", p.found())
		return nil
	}
	r.Path = &Word{ValuePos: p.pos, Raw: p.lit}
	r.To = r.Path.End()
	p.innerComments(&r.Meta)
	p.next()
	r.Line = p.takeLine()
	return r
}

// parseAssign parses the rest of "@{X} = values" or "$b = value"; the
// values run to the end of the line.
func (p *parser) parseAssign(start token.Pos, name *Word) Rule {
	add := p.tok == ADD
	opEnd := p.pos + token.Pos(len(p.lit)) // "=" or "+="
	p.nextMode(scanLines | scanValue)
	var vals []*Word
	for p.tok == WORD {
		vals = append(vals, &Word{ValuePos: p.pos, Raw: p.lit})
		p.nextMode(scanLines | scanValue)
	}
	switch p.tok {
	case NEWLINE, EOF:
	case COMMA:
		p.fail(p.pos, "unexpected ',' after the value of %s: an assignment ends at the end of the line, without ','", name.Raw)
		p.skipLine()
		return nil
	default:
		p.fail(p.pos, "unexpected %s in the value of %s", p.found(), name.Raw)
		p.skipLine()
		return nil
	}
	end := opEnd
	if len(vals) > 0 {
		end = vals[len(vals)-1].End()
	}
	m := Meta{From: start, To: end}
	p.innerComments(&m)
	m.Line = p.takeLine()
	if p.tok == NEWLINE {
		p.next()
	}
	if name.Raw[0] == '$' {
		if add || len(vals) != 1 {
			p.fail(start, "a boolean takes one value, true or false: $name = true")
			p.synced = true
			return nil
		}
		return &Boolean{Meta: m, Name: name, Value: vals[0]}
	}
	return &Variable{Meta: m, Name: name, Append: add, Values: vals}
}

// skipLine skips the rest of an assignment's line after an error.
func (p *parser) skipLine() {
	for p.tok != NEWLINE && p.tok != EOF {
		p.nextMode(scanLines)
	}
	if p.tok == NEWLINE {
		p.next()
	}
	p.synced = true
}

// nest counts one more level of nesting and aborts the parse past maxDepth.
func (p *parser) nest() {
	p.depth++
	if p.depth > maxDepth {
		p.error(p.pos, fmt.Sprintf("blocks nested more than %d deep", maxDepth))
		panic(bailout{})
	}
}

func (p *parser) parseIf() Rule {
	p.nest()
	defer func() { p.depth-- }()
	r := &If{Meta: Meta{From: p.pos}}
	p.next()
	for p.tok == WORD {
		r.Cond = append(r.Cond, p.word())
	}
	if len(r.Cond) == 0 {
		p.fail(p.pos, "expected a condition after 'if', found %s", p.found())
		return nil
	}
	r.Lbrace = p.pos
	if p.expect(LBRACE); p.failed {
		return nil
	}
	p.innerComments(&r.Meta)
	r.Body = p.parseBody(false)
	r.Rbrace = p.pos
	r.To = p.pos + 1
	if p.tok == EOF {
		p.fail(r.Lbrace, "missing '}' to close this 'if' block")
		return r
	}
	p.next()
	if p.tok == WORD && p.lit == "else" {
		elsePos := p.pos
		p.next()
		if p.tok == WORD && p.lit == "if" {
			e := p.parseIf()
			if e == nil {
				return r
			}
			r.Else = e
			r.To = e.End()
			r.Line = e.meta().Line
			e.meta().Line = nil
			return r
		}
		b := &Block{Meta: Meta{From: elsePos}, Lbrace: p.pos}
		if p.expect(LBRACE); p.failed {
			return r
		}
		b.Body = p.parseBody(false)
		b.Rbrace = p.pos
		b.To = p.pos + 1
		p.expect(RBRACE)
		r.Else = b
		r.To = b.To
	}
	r.Line = p.takeLine()
	return r
}

func (p *parser) parseProfile(start token.Pos) Rule {
	r := &Profile{Meta: Meta{From: start}}
	switch Lookup(p.lit) {
	case PROFILE:
		r.Keyword = PROFILE
		p.nextMode(scanName)
	case HAT:
		r.Keyword = HAT
		p.nextMode(scanName)
	}
	if p.tok != WORD {
		p.fail(p.pos, "expected a profile name, found %s", p.found())
		return nil
	}
	r.Name = p.word()
	return p.parseProfileRest(r)
}

func (p *parser) parseProfileRest(r *Profile) Rule {
	for !p.failed {
		switch {
		case p.tok == WORD && p.lit == "flags":
			if r.Flags != nil {
				p.fail(p.pos, "flags given twice")
				return nil
			}
			key := p.word()
			opPos := p.expect(ASSIGN)
			r.Flags = p.parseFlags(key, opPos)
		case p.tok == WORD && p.lit == "xattrs":
			key := p.word()
			opPos := p.expect(ASSIGN)
			r.Xattrs = &Cond{Key: key, OpPos: opPos}
			p.parseCondValue(r.Xattrs)
		case p.tok == LPAREN:
			if r.Flags != nil {
				p.fail(p.pos, "flags given twice")
				return nil
			}
			r.Flags = p.parseFlags(nil, token.NoPos)
		case p.tok == WORD && (r.Keyword == PROFILE || r.IsHat()) && r.Attach == nil && r.Flags == nil && r.Xattrs == nil:
			r.Attach = p.word()
		case p.tok == LBRACE:
			r.Lbrace = p.pos
			p.innerComments(&r.Meta)
			p.next()
			r.Open = p.takeLine()
			r.Body = p.parseBody(false)
			r.Rbrace = p.pos
			r.To = p.pos + 1
			if p.tok == EOF {
				p.fail(r.Lbrace, "missing '}' to close the profile %s opened here", r.Name.Raw)
				return r
			}
			p.next()
			r.Line = p.takeLine()
			return r
		default:
			p.fail(p.pos, "expected '{' to open the profile %s, found %s", r.Name.Raw, p.found())
		}
	}
	return r
}

// parseFlags parses flags=(a, b, k=v) or (a b); "k=v" items are kept as one
// word each.
func (p *parser) parseFlags(key *Word, opPos token.Pos) *Cond {
	c := &Cond{Key: key, OpPos: opPos, Value: &List{}}
	if p.tok == WORD { // flags=complain
		c.Value.Words = append(c.Value.Words, p.word())
		return c
	}
	c.Value.Paren = true
	c.Value.Lparen = p.expect(LPAREN)
	for !p.failed && p.tok != RPAREN {
		if p.unclosed() {
			return c
		}
		switch p.tok {
		case COMMA:
			c.Value.Commas = true
			p.next()
		case WORD:
			w := p.word()
			if p.tok == ASSIGN {
				if !p.condKey(w) {
					return c
				}
				p.next()
				if p.tok != WORD {
					p.fail(p.pos, "expected a value after %s=, found %s", w.Raw, p.found())
					return c
				}
				w.Raw += "=" + p.lit
				p.next()
			}
			c.Value.Words = append(c.Value.Words, w)
		default:
			p.fail(p.pos, "expected a profile flag or ')', found %s", p.found())
			return c
		}
	}
	c.Value.Rparen = p.expect(RPAREN)
	c.Value.Commas = c.Value.Commas && len(c.Value.Words) > 1 // a separator needs two items
	return c
}

// parsePathFirst parses a rule that starts with a path: a file rule, or an
// unnamed profile "/path [flags] {".
func (p *parser) parsePathFirst(start token.Pos, q Qualifiers, path *Word) Rule {
	if q.IsZero() && (p.tok == LBRACE || p.tok == LPAREN || p.tok == WORD && (p.lit == "flags" || p.lit == "xattrs")) {
		return p.parseProfileRest(&Profile{Meta: Meta{From: start}, Name: path})
	}
	r := &FileRule{Meta: Meta{From: start}, Qual: q, Path: path}
	if p.tok != WORD {
		p.fail(p.pos, "expected permissions after %s, found %s", path.Raw, p.found())
		return nil
	}
	r.Perms = p.word()
	p.parseExecTarget(r)
	p.endRule(&r.Meta)
	return r
}

func (p *parser) parseExecTarget(r *FileRule) {
	if p.tok == ARROW {
		r.ArrowPos = p.pos
		p.nextMode(scanGlob)
		r.Target = p.word()
	}
}

func (p *parser) parseFile(start token.Pos, q Qualifiers) Rule {
	p.next()
	r := &FileRule{Meta: Meta{From: start}, Qual: q, Keyword: true}
	switch {
	case p.tok == COMMA:
	case p.tok == WORD && (isPathStart(p.lit) || isBareName(p.lit)):
		r.Path = p.word()
		r.Perms = p.word()
		p.parseExecTarget(r)
	case p.tok == WORD:
		r.Perms = p.word()
		r.PermsFirst = true
		r.Path = p.word()
		p.parseExecTarget(r)
	default:
		p.fail(p.pos, "expected a path or ',' after 'file', found %s", p.found())
		return nil
	}
	p.endRule(&r.Meta)
	return r
}

func (p *parser) parseLink(start token.Pos, q Qualifiers) Rule {
	p.next()
	r := &LinkRule{Meta: Meta{From: start}, Qual: q}
	if p.tok == WORD && p.lit == "subset" {
		r.Subset = true
		p.next()
	}
	r.Path = p.word()
	p.glob = true
	r.ArrowPos = p.expect(ARROW)
	r.Target = p.word()
	p.endRule(&r.Meta)
	return r
}

func (p *parser) parseRlimit(start token.Pos) Rule {
	p.next()
	if p.tok != WORD || p.lit != "rlimit" {
		p.fail(p.pos, "expected 'rlimit' after 'set', found %s", p.found())
		return nil
	}
	p.next()
	r := &RlimitRule{Meta: Meta{From: start}}
	r.Resource = p.word()
	p.expect(LEQ)
	r.Value = p.word()
	// apparmor_parser lexes "1s" as a number and a unit, so a blank may
	// separate them: keep "1 s" as written, one word.
	if r.Value != nil && p.tok == WORD && isNumber(r.Value.Raw) && isLetters(p.lit) {
		end := p.pos + token.Pos(len(p.lit))
		r.Value = &Word{ValuePos: r.Value.ValuePos, Raw: p.text(r.Value.ValuePos, end)}
		p.next()
	}
	p.endRule(&r.Meta)
	return r
}

func isNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

func (p *parser) parseChangeProfile(start token.Pos, q Qualifiers) Rule {
	p.next()
	r := &ChangeProfileRule{Meta: Meta{From: start}, Qual: q}
	p.glob = true
	p.rescanGlob()
	if p.tok == WORD && (p.lit == "safe" || p.lit == "unsafe") {
		w := p.word()
		if p.tok == WORD {
			r.ExecMode = w
		} else {
			r.Exec = w
		}
	}
	if r.Exec == nil && p.tok == WORD {
		r.Exec = p.word()
	}
	if p.tok == ARROW {
		r.ArrowPos = p.pos
		p.nextMode(scanGlob)
		r.Profile = p.word()
	}
	p.endRule(&r.Meta)
	return r
}

var (
	netTypes  = map[string]bool{"stream": true, "dgram": true, "seqpacket": true, "rdm": true, "raw": true, "packet": true}
	netAccess = map[string]bool{"create": true, "bind": true, "listen": true, "accept": true, "connect": true,
		"shutdown": true, "getattr": true, "setattr": true, "getopt": true, "setopt": true, "send": true,
		"receive": true, "r": true, "w": true, "rw": true, "read": true, "write": true}
)

func (p *parser) parseNetwork(start token.Pos, q Qualifiers) Rule {
	p.next()
	r := &NetworkRule{Meta: Meta{From: start}, Qual: q}
	p.glob = true
	p.rescanGlob()
	if p.tok == LPAREN {
		r.Access = p.parseList()
	}
	for !p.failed && p.tok == WORD {
		w := p.word()
		if p.tok == ASSIGN {
			if !p.condKey(w) {
				break
			}
			c := &Cond{Key: w, OpPos: p.pos}
			p.next()
			p.parseCondValue(c)
			r.Conds = append(r.Conds, c)
			continue
		}
		switch {
		case len(r.Conds) > 0:
			p.fail(w.Pos(), "unexpected %q after the network conditionals", w.Raw)
		case r.Access == nil && r.Family == nil && r.Type == nil && netAccess[w.Raw]:
			r.Access = &List{Words: []*Word{w}}
		case r.Family == nil && r.Type == nil && r.Protocol == nil && !netTypes[w.Raw]:
			r.Family = w
		case r.Type == nil && r.Protocol == nil && netTypes[w.Raw]:
			r.Type = w
		case r.Protocol == nil:
			r.Protocol = w
		default:
			p.fail(w.Pos(), "unexpected %q in network rule", w.Raw)
		}
	}
	p.endRule(&r.Meta)
	return r
}

func (p *parser) parseMount(start token.Pos, q Qualifiers, kind Token) Rule {
	r := &MountRule{Meta: Meta{From: start}, Qual: q, Kind: kind}
	r.Keyword = p.word()
	c := p.parseCondParts(false)
	r.Conds = c.conds
	args := c.args
	if kind == MOUNT {
		if len(args) > 0 {
			r.Source = args[0]
			args = args[1:]
		}
		r.Arrow, r.ArrowPos = c.arrow, c.arrowPos
		r.MountPoint = c.target
	} else {
		if c.arrow {
			p.fail(c.arrowPos, "unexpected '->' in %s rule", r.Keyword.Raw)
		}
		if len(args) > 0 {
			r.MountPoint = args[0]
			args = args[1:]
		}
	}
	if len(args) > 0 {
		p.fail(args[0].Pos(), "unexpected %q in %s rule", args[0].Raw, r.Keyword.Raw)
	}
	p.endRule(&r.Meta)
	return r
}

type condParts struct {
	access   *List
	conds    []*Cond
	args     []*Word
	arrow    bool
	arrowPos token.Pos
	target   *Word
}

// parseCondParts parses the common tail of the IPC and mount rules: an
// optional access word or list, conditionals key=value, key=(...),
// "key in (...)", positional words and "-> target", up to ','.
func (p *parser) parseCondParts(access bool) condParts {
	var c condParts
	p.glob = true
	p.rescanGlob()
	for !p.failed {
		switch p.tok {
		case COMMA:
			return c
		case LPAREN:
			if !access || c.access != nil || len(c.conds) > 0 || len(c.args) > 0 {
				p.fail(p.pos, "unexpected '('")
				return c
			}
			c.access = p.parseList()
		case ARROW:
			if c.arrow {
				p.fail(p.pos, "unexpected second '->'")
				return c
			}
			c.arrow, c.arrowPos = true, p.pos
			p.next()
			if p.tok == WORD {
				c.target = p.word()
			}
		case WORD:
			if c.target != nil {
				p.fail(p.pos, "unexpected %q after the '->' target", p.lit)
				return c
			}
			w := p.word()
			if (p.tok == ASSIGN || p.tok == WORD && p.lit == "in") && len(c.args) > 0 {
				p.fail(w.Pos(), "conditional %s must come before %q, as apparmor_parser requires", w.Raw, c.args[0].Raw)
				return c
			}
			switch {
			case p.tok == ASSIGN:
				if !p.condKey(w) {
					return c
				}
				cd := &Cond{Key: w, OpPos: p.pos}
				p.next()
				p.parseCondValue(cd)
				c.conds = append(c.conds, cd)
			case p.tok == WORD && p.lit == "in" && (w.Raw == "options" || w.Raw == "fstype" || w.Raw == "vfstype"):
				cd := &Cond{Key: w, OpPos: p.pos, In: true}
				p.next()
				p.parseCondValue(cd)
				c.conds = append(c.conds, cd)
			case access && c.access == nil && len(c.conds) == 0 && len(c.args) == 0 && !isPathStart(w.Raw):
				c.access = &List{Words: []*Word{w}}
			default:
				c.args = append(c.args, w)
			}
		default:
			p.fail(p.pos, "expected ',' at the end of the rule, found %s", p.found())
			return c
		}
	}
	return c
}

// unclosed reports (and fails on) a '(' list running into the next rule:
// a keyword, path or '}' at the start of a line.
func (p *parser) unclosed() bool {
	if p.firstOnLine && p.looksLikeRuleStart() && !(p.tok == WORD && p.lit[0] == '/') {
		p.fail(p.prevEnd, "missing ')' (found %s on the next line)", p.found())
		return true
	}
	return false
}

// parseList parses "(a b)" or "(a, b)".
func (p *parser) parseList() *List {
	l := &List{Paren: true, Lparen: p.pos}
	p.next()
	for !p.failed && p.tok != RPAREN {
		if p.unclosed() {
			return l
		}
		switch p.tok {
		case COMMA:
			l.Commas = true
			p.next()
		case WORD:
			l.Words = append(l.Words, p.word())
		default:
			p.fail(p.pos, "expected a word or ')', found %s", p.found())
			return l
		}
	}
	l.Rparen = p.expect(RPAREN)
	l.Commas = l.Commas && len(l.Words) > 1 // a separator needs two items
	return l
}

// parseCondValue parses what follows "key=": a word, a list "(a b)" or
// nested conditionals "(k=v k2=(x y))".
func (p *parser) parseCondValue(c *Cond) {
	p.nest()
	defer func() { p.depth-- }()
	switch p.tok {
	case WORD:
		c.Value = &List{Words: []*Word{p.word()}}
		return
	case LPAREN:
	default:
		p.fail(p.pos, "expected a value after %s=, found %s", c.KeyName(), p.found())
		return
	}
	lparen := p.pos
	p.next()
	var words []*Word
	nested := false
	commas := false
	for !p.failed && p.tok != RPAREN {
		if p.unclosed() {
			return
		}
		switch p.tok {
		case COMMA:
			commas = true
			p.next()
		case WORD:
			w := p.word()
			if p.tok == ASSIGN {
				if !p.condKey(w) {
					return
				}
				if len(words) > 0 {
					p.fail(w.Pos(), "cannot mix values and conditionals in ( )")
					return
				}
				nested = true
				sub := &Cond{Key: w, OpPos: p.pos}
				p.next()
				p.parseCondValue(sub)
				c.Conds = append(c.Conds, sub)
				continue
			}
			if nested {
				p.fail(w.Pos(), "expected key=value inside %s=( ), found %q", c.KeyName(), w.Raw)
				return
			}
			words = append(words, w)
		default:
			p.fail(p.pos, "expected a value or ')', found %s", p.found())
			return
		}
	}
	rparen := p.expect(RPAREN)
	if nested {
		c.Lparen, c.Rparen, c.Commas = lparen, rparen, commas && len(c.Conds) > 1
		return
	}
	c.Value = &List{Paren: true, Lparen: lparen, Words: words, Rparen: rparen, Commas: commas && len(words) > 1}
}
