package policy

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"go/token"
	"reflect"
	"slices"
)

// TextEdit replaces the bytes from Pos to End with NewText; Pos == End
// inserts. It has the shape of golang.org/x/tools/go/analysis.TextEdit, so
// lint's suggested fixes and Edits' patches are applied the same way.
type TextEdit struct {
	Pos     token.Pos
	End     token.Pos
	NewText []byte
}

// Edits returns the text edits that turn src into the text of f after the
// program has edited f. f must have been parsed from src, with
// ParseComments, into fset. Edits compares f with the tree src parses to,
// so any change counts: rules added (AddRule, or appended to a body),
// dropped (DropRule, or removed from a body) or moved, and fields changed
// in place.
//
// The edits are minimal at the level of rules: a rule the program did not
// change keeps every byte of its text, comments and layout; a changed rule
// is printed in the canonical style in place of its old text (for a
// profile, hat or block only its header: the body is compared rule by
// rule); a new rule is printed on its own lines after the rule before it,
// with that rule's indentation; a dropped rule's lines are deleted with
// its comments. A changed comment replaces only the comment.
func Edits(fset *token.FileSet, src []byte, f *File) ([]TextEdit, error) {
	tf := fset.File(f.Pos())
	if tf == nil || tf.Size() != len(src) {
		return nil, errors.New("policy.Edits: f was not parsed from src through fset")
	}
	if f.mode&ParseComments == 0 {
		return nil, errors.New("policy.Edits: f was parsed without ParseComments; its comments would be lost")
	}
	orig, _ := ParseFile(token.NewFileSet(), tf.Name(), src, ParseComments)
	e := &editor{fset: fset, tf: tf, src: src, obase: orig.Pos()}
	e.body(f.Rules, orig.Rules, 0, len(src), "")
	e.flushRemovals()
	if e.err != nil {
		return nil, e.err
	}
	slices.SortStableFunc(e.edits, func(a, b TextEdit) int { return cmp.Compare(a.Pos, b.Pos) })
	return e.edits, nil
}

// ApplyEdits returns a copy of src with the edits applied. The edits are
// positions in src's file of fset; they must not overlap (insertions at
// the same position are applied in the order given).
func ApplyEdits(fset *token.FileSet, src []byte, edits []TextEdit) ([]byte, error) {
	if len(edits) == 0 {
		return append([]byte{}, src...), nil
	}
	tf := fset.File(edits[0].Pos)
	if tf == nil || tf.Size() != len(src) {
		return nil, errors.New("policy.ApplyEdits: the edits are not positions in src")
	}
	sorted := slices.Clone(edits)
	slices.SortStableFunc(sorted, func(a, b TextEdit) int { return cmp.Compare(a.Pos, b.Pos) })
	out := make([]byte, 0, len(src))
	last := 0
	for _, ed := range sorted {
		lo, hi, ok := offsets(tf, ed)
		if !ok || lo < last {
			return nil, fmt.Errorf("policy.ApplyEdits: edit %d..%d %q is outside the file or overlaps another", lo, hi, ed.NewText)
		}
		out = append(append(out, src[last:lo]...), ed.NewText...)
		last = hi
	}
	return append(out, src[last:]...), nil
}

func offsets(tf *token.File, ed TextEdit) (lo, hi int, ok bool) {
	base := token.Pos(tf.Base())
	if ed.Pos < base || ed.End < ed.Pos || int(ed.End-base) > tf.Size() {
		return 0, 0, false
	}
	return int(ed.Pos - base), int(ed.End - base), true
}

// editor collects the edits of one file. Offsets index src; edited rules
// carry positions of tf, the original tree's positions start at obase.
type editor struct {
	fset  *token.FileSet
	tf    *token.File
	src   []byte
	obase token.Pos
	edits []TextEdit
	// removals are the spans of dropped rules, made edits at the end.
	removals [][2]int
	err      error
}

// off is the offset of an original tree's position.
func (e *editor) off(p token.Pos) int { return int(p - e.obase) }

// editedOff is the offset of a position of the edited tree, or -1 when it
// has none or belongs to another file.
func (e *editor) editedOff(p token.Pos) int {
	base := e.tf.Base()
	if !p.IsValid() || int(p) < base || int(p) > base+e.tf.Size() {
		return -1
	}
	return int(p) - base
}

func (e *editor) add(lo, hi int, text string) {
	if lo < 0 || hi < lo || hi > len(e.src) {
		if e.err == nil {
			e.err = fmt.Errorf("policy.Edits: bad span %d..%d in %s", lo, hi, e.tf.Name())
		}
		return
	}
	if string(e.src[lo:hi]) == text {
		return
	}
	e.edits = append(e.edits, TextEdit{Pos: e.tf.Pos(lo), End: e.tf.Pos(hi), NewText: []byte(text)})
}

// lineStart is the offset of the first byte of off's line.
func (e *editor) lineStart(off int) int {
	return e.tf.Offset(e.tf.LineStart(e.tf.Line(e.tf.Pos(off))))
}

// lineEnd is the offset after the '\n' that ends off's line (len(src)
// on a last line without one).
func (e *editor) lineEnd(off int) int {
	if l := e.tf.Line(e.tf.Pos(off)); l < e.tf.LineCount() {
		return e.tf.Offset(e.tf.LineStart(l + 1))
	}
	return len(e.src)
}

func blank(b []byte) bool { return len(bytes.Trim(b, " \t\r\n")) == 0 }

// indentAt is the leading white space of off's line.
func (e *editor) indentAt(off int) string {
	ls := e.lineStart(off)
	i := ls
	for i < len(e.src) && (e.src[i] == ' ' || e.src[i] == '\t') {
		i++
	}
	return string(e.src[ls:i])
}

// ruleIndent is the indentation of an original rule: its line's, when the
// rule starts the line, else def.
func (e *editor) ruleIndent(r Rule, def string) string {
	if off := e.off(r.meta().From); e.firstOnLine(off) {
		return e.indentAt(off)
	}
	return def
}

// firstOnLine reports whether only white space precedes off on its line.
func (e *editor) firstOnLine(off int) bool { return blank(e.src[e.lineStart(off):off]) }

// extent is an original rule's text with its comments: from its doc
// comment (or first character) to the end of its line comment.
func (e *editor) extent(r Rule) (lo, hi int) {
	m := r.meta()
	lo, hi = e.off(ruleStart(r)), e.off(m.To)
	if m.Line != nil && e.off(m.Line.End()) > hi {
		hi = e.off(m.Line.End())
	}
	return lo, min(hi, len(e.src))
}

// pair is a rule of an edited body with the original rule it still is
// (nil when the program added it).
type pair struct {
	edited, orig Rule
}

// body computes the edits of one body. prevEnd is where the text before
// the first rule ends (after the '{' and its comment, or 0 for a file);
// close is the offset of the body's '}' (len(src) for a file); indent is
// the indentation of the body's rules when none of them tells.
func (e *editor) body(edited, orig []Rule, prevEnd, close int, indent string) {
	byOff := make(map[int]Rule, len(orig))
	for _, r := range orig {
		byOff[e.off(r.meta().From)] = r
	}
	kept := map[Rule]bool{}
	var seq []pair
	last := -1
	for _, r := range edited {
		if r == nil || r.meta().dead {
			continue
		}
		o := byOff[e.editedOff(r.meta().From)]
		if off := e.editedOff(r.meta().From); o != nil && off > last && sameKind(r, o) {
			seq = append(seq, pair{r, o})
			kept[o] = true
			last = off
			continue
		}
		seq = append(seq, pair{r, nil})
	}
	for _, p := range seq {
		if p.orig != nil {
			indent = e.ruleIndent(p.orig, indent)
			break
		}
	}
	var pending []Rule
	for _, p := range seq {
		if p.orig == nil {
			pending = append(pending, p.edited)
			continue
		}
		lo, hi := e.extent(p.orig)
		e.insert(pending, prevEnd, lo, indent, indent)
		pending = pending[:0]
		indent = e.ruleIndent(p.orig, indent)
		e.rule(p.edited, p.orig)
		prevEnd = hi
	}
	closeIndent := ""
	if close < len(e.src) {
		closeIndent = e.indentAt(close)
	}
	e.insert(pending, prevEnd, close, indent, closeIndent)
	for _, o := range orig {
		if !kept[o] {
			e.remove(o)
		}
	}
}

func sameKind(a, b Rule) bool { return reflect.TypeOf(a) == reflect.TypeOf(b) }

// insert prints new rules after prevEnd, the end of the text before them,
// and before next, the start of the text after them. They go on their own
// lines after prevEnd's line; when something follows on that line (a '}'
// or a rule), they are put between on lines of their own.
func (e *editor) insert(rules []Rule, prevEnd, next int, indent, nextIndent string) {
	if len(rules) == 0 {
		return
	}
	var text []byte
	for _, r := range rules {
		if r.meta().Hint == NewSection {
			text = append(text, '\n')
		}
		text = append(text, e.print(r, indent)...)
	}
	if prevEnd == 0 {
		e.add(0, 0, string(text))
		return
	}
	at := e.lineEnd(prevEnd)
	if at <= next && e.src[at-1] == '\n' {
		e.add(at, at, string(text))
		return
	}
	// Mid-line: after prevEnd, replacing the white space up to next.
	hi := next
	if !blank(e.src[prevEnd:hi]) {
		hi = prevEnd
	}
	text = append([]byte{'\n'}, text...)
	if next < len(e.src) {
		text = append(text, nextIndent...)
	}
	e.add(prevEnd, hi, string(text))
}

// print prints r in the canonical style, its comments included, every
// non-empty line indented by indent.
func (e *editor) print(r Rule, indent string) []byte {
	var b bytes.Buffer
	if err := Format(&b, e.fset, r); err != nil && e.err == nil {
		e.err = err
	}
	var out []byte
	for line := range bytes.Lines(b.Bytes()) {
		if !blank(line) {
			out = append(out, indent...)
		}
		out = append(out, line...)
	}
	return out
}

// remove deletes an original rule that the edited body no longer has:
// its whole lines when it has them to itself (and a blank line, so that
// the rules around keep one), else just its text.
func (e *editor) remove(r Rule) {
	lo, hi := e.extent(r)
	if !e.firstOnLine(lo) || !blank(e.src[hi:e.lineEnd(hi)]) {
		e.removals = append(e.removals, [2]int{lo, hi})
		return
	}
	lo, hi = e.lineStart(lo), e.lineEnd(hi)
	blankLine := func(off int) bool { return off < len(e.src) && blank(e.src[off:e.lineEnd(off)]) }
	prevBlank := lo > 0 && blankLine(e.lineStart(lo-1))
	prevOpen := lo > 0 && bytes.HasSuffix(bytes.TrimRight(e.src[e.lineStart(lo-1):lo], " \t\r\n"), []byte("{"))
	nextClose := hi >= len(e.src) || bytes.HasPrefix(bytes.TrimLeft(e.src[hi:], " \t"), []byte("}"))
	switch {
	case blankLine(hi) && (prevBlank || prevOpen):
		hi = e.lineEnd(hi)
	case prevBlank && nextClose:
		lo = e.lineStart(lo - 1)
	}
	e.removals = append(e.removals, [2]int{lo, hi})
}

// flushRemovals adds the removals as edits, joining those that overlap
// (two dropped rules may claim the blank line between them).
func (e *editor) flushRemovals() {
	slices.SortFunc(e.removals, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	for i := 0; i < len(e.removals); {
		lo, hi := e.removals[i][0], e.removals[i][1]
		j := i + 1
		for ; j < len(e.removals) && e.removals[j][0] < hi; j++ {
			hi = max(hi, e.removals[j][1])
		}
		e.moveInsertions(lo, hi)
		e.add(lo, hi, "")
		i = j
	}
}

// moveInsertions moves rules inserted inside the removed span lo..hi (a
// dropped rule that shares its first line with the text before the
// insertion point) to the end of the span, on lines of their own.
func (e *editor) moveInsertions(lo, hi int) {
	for i, ed := range e.edits {
		at, end, _ := offsets(e.tf, ed)
		if at != end || at <= lo || at >= hi {
			continue
		}
		text := ed.NewText
		if e.src[hi-1] != '\n' {
			text = append([]byte{'\n'}, text...)
			if hi < len(e.src) && e.src[hi] == '\n' {
				text = bytes.TrimSuffix(text, []byte{'\n'})
			}
		}
		e.edits[i] = TextEdit{Pos: e.tf.Pos(hi), End: e.tf.Pos(hi), NewText: text}
	}
}

// rule computes the edits of an original rule the edited tree still has.
func (e *editor) rule(r, o Rule) {
	m, om := r.meta(), o.meta()
	inner := false // comments inside the rule's text
	if om.Doc != nil {
		for _, c := range om.Doc.List {
			if c.Pos() > om.From {
				inner = true
			}
		}
	}
	own, oown := e.header(r), e.header(o)
	if own != oown && inner && Body(o) == nil {
		// Reprint the rule with its comments in place of its text.
		lo, hi := e.extent(o)
		text := e.print(r, e.indentAt(e.off(om.From)))
		text = bytes.TrimSuffix(bytes.TrimLeft(text, " \t"), []byte("\n"))
		e.add(lo, hi, string(text))
		return
	}
	if own != oown {
		lo, hi, suffix := e.headerSpan(o)
		e.add(lo, hi, own+suffix)
	}
	if !inner && commentText(m.Doc) != commentText(om.Doc) && e.firstOnLine(e.off(om.From)) {
		at := e.lineStart(e.off(om.From))
		lo := at
		if om.Doc != nil {
			lo = e.lineStart(e.off(om.Doc.Pos()))
		}
		var doc []byte
		if m.Doc != nil {
			indent := e.indentAt(e.off(om.From))
			for _, c := range m.Doc.List {
				doc = append(append(append(doc, indent...), trimComment(c.Text)...), '\n')
			}
		}
		e.add(lo, at, string(doc))
	}
	if commentText(m.Line) != commentText(om.Line) {
		lo, hi := e.off(om.To), e.off(om.To)
		if om.Line != nil {
			hi = e.off(om.Line.End())
		}
		e.add(lo, hi, lineCommentText(m.Line))
	}
	switch r := r.(type) {
	case *Profile:
		o := o.(*Profile)
		if commentText(r.Open) != commentText(o.Open) {
			lo, hi := e.off(o.Lbrace)+1, e.off(o.Lbrace)+1
			if o.Open != nil {
				hi = e.off(o.Open.End())
			}
			e.add(lo, hi, lineCommentText(r.Open))
		}
		e.block(r.Body, o.Body, o.Lbrace, o.Open, o.Rbrace, o.From)
	case *QualBlock:
		o := o.(*QualBlock)
		e.block(r.Body, o.Body, o.Lbrace, nil, o.Rbrace, o.From)
	case *If:
		o := o.(*If)
		e.block(r.Body, o.Body, o.Lbrace, nil, o.Rbrace, o.From)
		re, oe := r.Else, o.Else
		if re != nil && re.meta().dead {
			re = nil
		}
		switch {
		case re == nil && oe == nil:
		case re == nil:
			// The else branch dropped: delete " else { … }" after the '}'.
			lo, hi := e.off(o.Rbrace)+1, e.off(oe.End())
			e.removals = slices.DeleteFunc(e.removals, func(r [2]int) bool { return r[0] >= lo && r[1] <= hi })
			e.add(lo, hi, "")
		case re != nil && oe != nil && sameKind(re, oe) && e.editedOff(re.meta().From) == e.off(oe.meta().From):
			if b, ok := re.(*Block); ok {
				ob := oe.(*Block)
				e.block(b.Body, ob.Body, ob.Lbrace, nil, ob.Rbrace, o.From)
			} else {
				e.rule(re, oe)
			}
		default:
			// An else branch added or replaced: print the whole conditional.
			lo, hi := e.off(o.From), e.off(o.To)
			e.edits = slices.DeleteFunc(e.edits, func(ed TextEdit) bool {
				a, b, _ := offsets(e.tf, ed)
				return a >= lo && b <= hi
			})
			e.removals = slices.DeleteFunc(e.removals, func(r [2]int) bool { return r[0] >= lo && r[1] <= hi })
			text := e.print(&If{Cond: r.Cond, Body: r.Body, Else: re}, e.indentAt(e.off(o.From)))
			text = bytes.TrimSuffix(bytes.TrimLeft(text, " \t"), []byte("\n"))
			e.add(e.off(o.From), e.off(o.To), string(text))
		}
	}
}

// block computes the edits of a block's body; from is the start of the
// rule whose line gives the block's indentation.
func (e *editor) block(edited, orig []Rule, lbrace token.Pos, open *CommentGroup, rbrace, from token.Pos) {
	if !lbrace.IsValid() || !rbrace.IsValid() || e.off(rbrace) >= len(e.src) {
		if e.err == nil {
			e.err = fmt.Errorf("policy.Edits: %s: a block without its braces", e.tf.Position(e.tf.Pos(e.off(from))))
		}
		return
	}
	prevEnd := e.off(lbrace) + 1
	if open != nil {
		prevEnd = e.off(open.End())
	}
	e.body(edited, orig, prevEnd, e.off(rbrace), e.indentAt(e.off(from))+"  ")
}

// header is a rule's own text in the canonical style, without comments;
// for a block only its header ("profile x flags=(complain)", "owner").
func (e *editor) header(r Rule) string {
	p := printerPool.Get().(*printer)
	defer func() {
		p.cfg, p.fset, p.header = nil, nil, false
		p.buf.Reset()
		printerPool.Put(p)
	}()
	p.cfg, p.fset, p.header = &Config{}, e.fset, true
	if _, ok := r.(*Block); !ok {
		p.rule(r, 0)
	}
	return p.buf.String()
}

// headerSpan is the original text header replaces, and what must follow
// the new header there.
func (e *editor) headerSpan(o Rule) (lo, hi int, suffix string) {
	lo = e.off(o.meta().From)
	switch o := o.(type) {
	case *Profile:
		end := token.NoPos
		for _, n := range []Node{o.Name, o.Attach, o.Xattrs, o.Flags} {
			if !isNil(n) && n.End() > end {
				end = n.End()
			}
		}
		if !end.IsValid() || e.src[e.off(end)] == '{' {
			return lo, e.off(o.Lbrace), " " // never glue the header to its '{'
		}
		return lo, e.off(end), ""
	case *QualBlock:
		return lo, e.off(o.Lbrace), " "
	case *If:
		if n := len(o.Cond); n > 0 {
			return lo, e.off(o.Cond[n-1].End()), ""
		}
		return lo, e.off(o.Lbrace), " "
	}
	return lo, e.off(o.meta().To), ""
}

func isNil(n Node) bool {
	switch n := n.(type) {
	case *Word:
		return n == nil
	case *Cond:
		return n == nil
	}
	return n == nil
}

func trimComment(s string) string { return string(bytes.TrimRight([]byte(s), " \t\r")) }

// commentText is a comment group's text as the printer writes it.
func commentText(g *CommentGroup) string {
	if g == nil {
		return ""
	}
	var b []byte
	for _, c := range g.List {
		b = append(append(b, trimComment(c.Text)...), '\n')
	}
	return string(b)
}

// lineCommentText is a line comment as the printer writes it after a rule.
func lineCommentText(g *CommentGroup) string {
	if g == nil {
		return ""
	}
	var b []byte
	for i, c := range g.List {
		if i == 0 {
			b = append(b, ' ')
		} else {
			b = append(b, '\n')
		}
		b = append(b, trimComment(c.Text)...)
	}
	return string(b)
}
