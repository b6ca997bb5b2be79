package policy

import (
	"bytes"
	"go/token"
)

// apparmor_parser's lexer switches into special modes after some rule
// keywords (network, signal, dbus, mount, …), after "->" and inside
// profile flags. In those modes '#' does not start a comment and a ','
// glued to the next character is part of a word. armorer's lexer is
// uniform, so these rules are checked here, on the source text; the
// differential corpus (testdata/corpus/tricky.txtar) pins them down.

// span returns the source of [from, to) and the offset of from.
func (c *checker) span(from, to token.Pos) ([]byte, int) {
	tf := c.fset.File(from)
	if tf == nil || !to.IsValid() || to < from {
		return nil, 0
	}
	src := c.l.Source(tf.Name())
	a, b := tf.Offset(from), tf.Offset(to)
	if src == nil || b > len(src) {
		return nil, 0
	}
	return src[a:b], a
}

// commentsIn returns the offsets (relative to the span) of the comments in
// text: a '#' outside quotes at the start of a token.
func commentsIn(text []byte) []int {
	var out []int
	inQuote := false
	for i := 0; i < len(text); i++ {
		switch ch := text[i]; {
		case ch == '\\' && inQuote:
			i++
		case ch == '"':
			inQuote = !inQuote
		case ch == '#' && !inQuote && (i == 0 || isSpace(text[i-1])):
			out = append(out, i)
			for i < len(text) && text[i] != '\n' {
				i++
			}
		}
	}
	return out
}

// modalKeyword is the keyword after which a rule kind is lexed in a mode
// where '#' is not a comment, or "" when comments may appear anywhere.
func modalKeyword(r Rule) string {
	switch r := r.(type) {
	case *NetworkRule:
		return "network"
	case *SignalRule:
		return "signal"
	case *PtraceRule:
		return "ptrace"
	case *UnixRule:
		return "unix"
	case *DbusRule:
		return "dbus"
	case *MountRule:
		return r.Kind.String()
	case *ChangeProfileRule:
		return "change_profile"
	case *RlimitRule:
		return "rlimit"
	case *UsernsRule:
		return "userns"
	case *MqueueRule:
		return "mqueue"
	}
	return ""
}

// lexical checks the comments and the closing comma of a rule.
func (c *checker) lexical(r Rule) {
	text, _ := c.span(r.Pos(), r.End())
	if text == nil {
		return
	}
	// Where the special lexing starts: after the keyword, or after "->".
	modeStart := -1
	if kw := modalKeyword(r); kw != "" {
		if i := bytes.Index(text, []byte(kw)); i >= 0 {
			modeStart = i + len(kw)
		}
	}
	if arrow := c.arrowOffset(r, text); arrow >= 0 && (modeStart < 0 || arrow < modeStart) {
		modeStart = arrow
	}
	if modeStart >= 0 {
		for _, off := range commentsIn(text) {
			if off > modeStart {
				c.errorf(r.Pos()+token.Pos(off), "syntax", "apparmor_parser does not read '#' as a comment here: move the comment after the rule's comma")
				break
			}
		}
	}
	c.gluedComma(r, text)
}

// arrowOffset returns the offset of "->" in a file or link rule's text,
// or -1.
func (c *checker) arrowOffset(r Rule, text []byte) int {
	var after *Word
	switch r := r.(type) {
	case *FileRule:
		if r.Target == nil {
			return -1
		}
		after = r.Target
	case *LinkRule:
		if r.Target == nil {
			return -1
		}
		after = r.Target
	default:
		return -1
	}
	end := int(after.Pos() - r.Pos())
	if end < 0 || end > len(text) {
		return -1
	}
	return bytes.LastIndex(text[:end], []byte("->"))
}

// gluedComma: in the modal rules, a ',' followed directly by a character
// (no space) is read as part of the last word, unless that word is ')' or
// the bare keyword; network takes any glued comma as a word.
func (c *checker) gluedComma(r Rule, text []byte) {
	tf := c.fset.File(r.End())
	if tf == nil || len(text) == 0 || text[len(text)-1] != ',' {
		return
	}
	src := c.l.Source(tf.Name())
	end := tf.Offset(r.End())
	if src == nil || end >= len(src) || isSpace(src[end]) {
		return
	}
	before := text[:len(text)-1]
	trimmed := bytes.TrimRight(before, " \t")
	glued := false
	switch r.(type) {
	case *NetworkRule:
		glued = true
	case *SignalRule, *PtraceRule, *UnixRule, *DbusRule, *MountRule, *PivotRootRule,
		*ChangeProfileRule, *LinkRule, *UsernsRule, *MqueueRule, *IOUringRule:
		kw := modalKeyword(r)
		bare := kw != "" && bytes.HasSuffix(trimmed, []byte(kw))
		glued = len(trimmed) == len(before) && !bytes.HasSuffix(trimmed, []byte(")")) && !bare
	case *FileRule:
		glued = c.arrowOffset(r, text) >= 0
	}
	if glued {
		c.errorf(r.End()-1, "syntax", "apparmor_parser reads this ',' as part of the word before it: put a space or a newline after the comma")
	}
}

// headerComments rejects comments between "profile" and the name, and
// inside flags=(…) or xattrs=(…).
func (c *checker) headerComments(p *Profile) {
	if !p.Lbrace.IsValid() {
		return
	}
	text, _ := c.span(p.Pos(), p.Lbrace)
	for _, off := range commentsIn(text) {
		pos := p.Pos() + token.Pos(off)
		inside := func(cd *Cond) bool { return cd != nil && pos > cd.Pos() && pos < cd.End() }
		if (p.Name != nil && pos < p.Name.Pos()) || inside(p.Flags) || inside(p.Xattrs) {
			c.errorf(pos, "syntax", "apparmor_parser does not read '#' as a comment inside a profile header: move the comment after '{'")
			return
		}
	}
}
