package policy

import (
	"bytes"
	"fmt"
	"go/token"
	"io"
	"strings"
	"sync"
)

// Config controls the printer. The zero Config prints armorer's canonical
// style: two spaces of indentation per level, one rule per line, single
// spaces between tokens and at most one blank line between rules, kept
// from the source.
type Config struct {
	Indent int // spaces per nesting level; 0 means 2
}

// Format prints node in the canonical style. node is a *File or a Rule.
func Format(w io.Writer, fset *token.FileSet, node Node) error {
	return (&Config{}).Fprint(w, fset, node)
}

// FormatFile returns the canonical text of f.
func FormatFile(fset *token.FileSet, f *File) []byte {
	var b bytes.Buffer
	_ = Format(&b, fset, f)
	return append([]byte{}, b.Bytes()...)
}

type printer struct {
	cfg    *Config
	fset   *token.FileSet
	buf    bytes.Buffer
	header bool // print blocks without their body: "profile x flags=(complain)"
}

var printerPool = sync.Pool{New: func() any { return new(printer) }}

// Fprint prints node (a *File or a Rule) to w. The printer reads only the
// tree and fset (for line numbers), never the source text.
func (c *Config) Fprint(w io.Writer, fset *token.FileSet, node Node) error {
	p := printerPool.Get().(*printer)
	defer func() {
		p.cfg, p.fset = nil, nil
		p.buf.Reset()
		printerPool.Put(p)
	}()
	p.cfg, p.fset = c, fset
	switch n := node.(type) {
	case *File:
		if n == nil {
			return fmt.Errorf("policy: cannot print a nil *File")
		}
		p.body(n.Rules, 0)
	case Rule:
		p.body([]Rule{n}, 0)
	default:
		return fmt.Errorf("policy: cannot print %T", node)
	}
	_, err := w.Write(p.buf.Bytes())
	return err
}

func (p *printer) line(pos token.Pos) int {
	if !pos.IsValid() || p.fset == nil {
		return 0
	}
	f := p.fset.File(pos)
	if f == nil {
		return 0
	}
	return f.Line(pos)
}

func (p *printer) indent(level int) {
	n := p.cfg.Indent
	if n <= 0 {
		n = 2
	}
	for range level * n {
		p.buf.WriteByte(' ')
	}
}

// ruleStart is where a rule's text, including its doc comment, begins.
func ruleStart(r Rule) token.Pos {
	m := r.meta()
	if m.Doc != nil && len(m.Doc.List) > 0 && m.Doc.Pos().IsValid() && m.Doc.Pos() < m.From {
		return m.Doc.Pos()
	}
	return m.From
}

func (p *printer) body(rules []Rule, level int) {
	lastEnd := token.NoPos
	first := true
	carry := false // a dropped rule's blank line passes to the next rule
	for _, r := range rules {
		m := r.meta()
		// A blank line when the source had one since the last parsed rule
		// (rules inserted in between do not hide it), or when a rule says
		// so by its hint.
		start := ruleStart(r)
		blank := start.IsValid() && lastEnd.IsValid() && p.line(start)-p.line(lastEnd) > 1 || m.Hint == NewSection
		if m.To.IsValid() {
			lastEnd = m.To - 1
			if m.Line != nil && m.Line.End() > lastEnd {
				lastEnd = m.Line.End()
			}
		}
		if m.dead {
			carry = carry || blank
			continue
		}
		if !first && (blank || carry) {
			p.buf.WriteByte('\n')
		}
		first, carry = false, false
		p.comments(m.Doc, level)
		p.indent(level)
		p.rule(r, level)
		p.lineComment(m.Line)
		p.buf.WriteByte('\n')
	}
}

func (p *printer) comments(g *CommentGroup, level int) {
	if g == nil {
		return
	}
	for _, c := range g.List {
		p.indent(level)
		p.buf.WriteString(strings.TrimRight(c.Text, " \t\r"))
		p.buf.WriteByte('\n')
	}
}

func (p *printer) lineComment(g *CommentGroup) {
	if g == nil {
		return
	}
	for i, c := range g.List {
		if i == 0 {
			p.buf.WriteByte(' ')
		} else {
			p.buf.WriteByte('\n')
		}
		p.buf.WriteString(strings.TrimRight(c.Text, " \t\r"))
	}
}

func (p *printer) word(w *Word) {
	if w == nil {
		return
	}
	if !strings.HasPrefix(w.Raw, "\"") || !strings.Contains(w.Raw, "\n") {
		p.buf.WriteString(w.Raw)
		return
	}
	// A newline inside a quoted name (a tree built from a logged path)
	// would end the line: the next line is indented into the name and
	// the lexer rejects the quote as unterminated. apparmor_parser reads
	// \n in quotes as the newline itself, so write that.
	raw := w.Raw
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			p.buf.WriteByte('\\')
			if i+1 < len(raw) {
				i++
				p.buf.WriteByte(raw[i])
			}
		case '\n':
			p.buf.WriteString(`\n`)
		default:
			p.buf.WriteByte(raw[i])
		}
	}
}

// sp writes a space between two tokens, never in the indentation at the
// start of a line. (A word may end in an escaped space, "a\\ ", so the
// last byte being a space does not mean a separator was written.)
func (p *printer) sp() {
	b := p.buf.Bytes()
	i := len(b) - 1
	for i >= 0 && b[i] == ' ' {
		i--
	}
	if i >= 0 && b[i] != '\n' {
		p.buf.WriteByte(' ')
	}
}

func (p *printer) words(ws ...*Word) {
	for _, w := range ws {
		if w != nil {
			p.sp()
			p.word(w)
		}
	}
}

func (p *printer) qual(q Qualifiers) {
	if q.Priority != nil {
		p.sp()
		p.buf.WriteString("priority=")
		p.word(q.Priority)
	}
	for _, s := range [...]struct {
		on   bool
		text string
	}{{q.Audit, "audit"}, {q.Allow, "allow"}, {q.Deny, "deny"}, {q.Owner, "owner"}} {
		if s.on {
			p.sp()
			p.buf.WriteString(s.text)
		}
	}
}

func (p *printer) kw(s string) {
	p.sp()
	p.buf.WriteString(s)
}

func (p *printer) list(l *List) {
	if l == nil {
		return
	}
	if !l.Paren {
		for i, w := range l.Words {
			if i > 0 {
				p.buf.WriteByte(' ')
			}
			p.word(w)
		}
		return
	}
	p.buf.WriteByte('(')
	for i, w := range l.Words {
		if i > 0 {
			if l.Commas {
				p.buf.WriteString(", ")
			} else {
				p.buf.WriteByte(' ')
			}
		}
		p.word(w)
	}
	p.buf.WriteByte(')')
}

func (p *printer) cond(c *Cond) {
	if c == nil {
		return
	}
	p.sp()
	if c.Key != nil {
		p.word(c.Key)
		if c.In {
			p.buf.WriteString(" in ")
		} else {
			p.buf.WriteByte('=')
		}
	}
	if c.Value != nil {
		p.list(c.Value)
		return
	}
	p.buf.WriteByte('(')
	for i, sub := range c.Conds {
		if i > 0 && c.Commas {
			p.buf.WriteByte(',')
		}
		if i == 0 {
			p.condNoSpace(sub)
		} else {
			p.cond(sub)
		}
	}
	p.buf.WriteByte(')')
}

func (p *printer) condNoSpace(c *Cond) {
	mark := p.buf.Len()
	p.cond(c)
	b := p.buf.Bytes()
	if p.buf.Len() > mark && b[mark] == ' ' {
		copy(b[mark:], b[mark+1:])
		p.buf.Truncate(p.buf.Len() - 1)
	}
}

func (p *printer) conds(cs []*Cond) {
	for _, c := range cs {
		p.cond(c)
	}
}

func (p *printer) access(l *List) {
	if l != nil {
		p.sp()
		p.list(l)
	}
}

func (p *printer) comma() { p.buf.WriteByte(',') }

func (p *printer) block(body []Rule, open *CommentGroup, level int) {
	if p.header {
		return
	}
	p.sp()
	p.buf.WriteByte('{')
	p.lineComment(open)
	p.buf.WriteByte('\n')
	p.body(body, level+1)
	p.indent(level)
	p.buf.WriteByte('}')
}

func (p *printer) rule(r Rule, level int) {
	switch r := r.(type) {
	case *CommentBlock:
		// The caller has indented the first line.
		if r.Comments == nil {
			break
		}
		for i, c := range r.Comments.List {
			if i > 0 {
				p.buf.WriteByte('\n')
				p.indent(level)
			}
			p.buf.WriteString(strings.TrimRight(c.Text, " \t\r"))
		}
	case *Abi:
		p.kw("abi")
		p.words(r.Path)
		p.comma()
	case *Include:
		if r.Hash {
			p.kw("#include")
		} else {
			p.kw("include")
		}
		if r.IfExists {
			p.kw("if exists")
		}
		p.words(r.Path)
	case *Variable:
		p.word(r.Name)
		if r.Append {
			p.buf.WriteString(" +=")
		} else {
			p.buf.WriteString(" =")
		}
		p.words(r.Values...)
	case *Boolean:
		p.word(r.Name)
		p.buf.WriteString(" =")
		p.words(r.Value)
	case *Alias:
		p.kw("alias")
		p.words(r.Path)
		p.kw("->")
		p.words(r.Target)
		p.comma()
	case *If:
		p.kw("if")
		p.words(r.Cond...)
		p.block(r.Body, nil, level)
		if p.header || r.Else != nil && r.Else.meta().dead {
			break
		}
		switch e := r.Else.(type) {
		case *If:
			p.buf.WriteString(" else")
			p.rule(e, level)
		case *Block:
			p.buf.WriteString(" else")
			p.block(e.Body, nil, level)
		}
	case *Block:
		p.block(r.Body, nil, level)
	case *QualBlock:
		p.qual(r.Qual)
		p.block(r.Body, nil, level)
	case *Profile:
		switch r.Keyword {
		case PROFILE:
			p.kw("profile")
		case HAT:
			p.kw("hat")
		}
		p.words(r.Name, r.Attach)
		p.cond(r.Xattrs)
		p.cond(r.Flags)
		p.block(r.Body, r.Open, level)
	case *FileRule:
		p.qual(r.Qual)
		if r.Keyword {
			p.kw("file")
		}
		if r.PermsFirst {
			p.words(r.Perms, r.Path)
		} else {
			p.words(r.Path, r.Perms)
		}
		if r.Target != nil {
			p.kw("->")
			p.words(r.Target)
		}
		p.comma()
	case *LinkRule:
		p.qual(r.Qual)
		p.kw("link")
		if r.Subset {
			p.kw("subset")
		}
		p.words(r.Path)
		p.kw("->")
		p.words(r.Target)
		p.comma()
	case *CapabilityRule:
		p.qual(r.Qual)
		p.kw("capability")
		p.words(r.Names...)
		p.comma()
	case *NetworkRule:
		p.qual(r.Qual)
		p.kw("network")
		p.access(r.Access)
		p.words(r.Family, r.Type, r.Protocol)
		p.conds(r.Conds)
		p.comma()
	case *SignalRule:
		p.ipc("signal", r.Qual, r.Access, r.Conds)
	case *PtraceRule:
		p.ipc("ptrace", r.Qual, r.Access, r.Conds)
	case *UnixRule:
		p.ipc("unix", r.Qual, r.Access, r.Conds)
	case *DbusRule:
		p.ipc("dbus", r.Qual, r.Access, r.Conds)
	case *IOUringRule:
		p.ipc("io_uring", r.Qual, r.Access, r.Conds)
	case *UsernsRule:
		p.ipc("userns", r.Qual, r.Access, nil)
	case *MqueueRule:
		p.qual(r.Qual)
		p.kw("mqueue")
		p.access(r.Access)
		p.conds(r.Conds)
		p.words(r.Name)
		p.comma()
	case *MountRule:
		p.qual(r.Qual)
		if r.Keyword != nil {
			p.words(r.Keyword)
		} else {
			p.kw(r.Kind.String())
		}
		p.conds(r.Conds)
		if r.Kind == MOUNT {
			p.words(r.Source)
			if r.Arrow || r.MountPoint != nil {
				p.kw("->")
				p.words(r.MountPoint)
			}
		} else {
			p.words(r.MountPoint)
		}
		p.comma()
	case *PivotRootRule:
		p.qual(r.Qual)
		p.kw("pivot_root")
		p.conds(r.Conds)
		p.words(r.NewRoot)
		if r.Profile != nil {
			p.kw("->")
			p.words(r.Profile)
		}
		p.comma()
	case *ChangeProfileRule:
		p.qual(r.Qual)
		p.kw("change_profile")
		p.words(r.ExecMode, r.Exec)
		if r.Profile != nil {
			p.kw("->")
			p.words(r.Profile)
		}
		p.comma()
	case *RlimitRule:
		p.kw("set rlimit")
		p.words(r.Resource)
		p.kw("<=")
		p.words(r.Value)
		p.comma()
	case *AllRule:
		p.qual(r.Qual)
		p.kw("all")
		p.comma()
	case *RawRule:
		p.buf.WriteString(r.Text)
	case *BadRule:
		p.buf.WriteString(r.Text)
	}
}

func (p *printer) ipc(kw string, q Qualifiers, access *List, conds []*Cond) {
	p.qual(q)
	p.kw(kw)
	p.access(access)
	p.conds(conds)
	p.comma()
}
