package policy

import (
	"go/token"
	"strconv"
	"strings"
)

// Node is any node of the syntax tree.
type Node interface {
	Pos() token.Pos // first character of the node
	End() token.Pos // first character after the node
}

// Rule is an element of a file or of a block body: a rule, a preamble
// statement, a profile, a conditional or a detached comment block.
type Rule interface {
	Node
	RuleMeta() *Meta // the embedded Meta: comments, span, layout hint
	ruleNode()
	meta() *Meta
}

// Layout says whether a blank line comes before a rule. The parser sets it
// from the source; a program that builds or moves rules sets it as it
// wants the result to look.
type Layout int

const (
	Newline    Layout = iota // on the next line (default)
	NewSection               // after one blank line
)

// Meta is embedded in every Rule: its span, its attached comments and its
// layout hint.
type Meta struct {
	From token.Pos     // first character of the rule (qualifier or keyword)
	To   token.Pos     // first character after the rule (after ',' or '}')
	Doc  *CommentGroup // whole-line comments just before the rule, and comments inside it
	Line *CommentGroup // comment after the rule on its last line
	Hint Layout        // NewSection: a blank line before (set by the parser from the source)
	// Comma is the ',' that ends the rule (To-1), NoPos for rules that
	// end without one: blocks, includes, variables, booleans.
	Comma token.Pos
	dead  bool // marked by DropRule, removed by Cleanup
}

func (m *Meta) meta() *Meta { return m }

// RuleMeta returns m, so that code outside the package reaches the Meta
// embedded in any Rule.
func (m *Meta) RuleMeta() *Meta { return m }

// Pos returns the position of the rule's first character.
func (m *Meta) Pos() token.Pos { return m.From }

// End returns the position just after the rule.
func (m *Meta) End() token.Pos { return m.To }

// Comment is a single '#' comment; Text includes the '#'.
type Comment struct {
	Hash token.Pos
	Text string
}

func (c *Comment) Pos() token.Pos { return c.Hash }
func (c *Comment) End() token.Pos { return endOf(c.Hash, c.Text) }

// CommentGroup is a sequence of comments on consecutive lines.
type CommentGroup struct{ List []*Comment }

func (g *CommentGroup) Pos() token.Pos {
	if g == nil || len(g.List) == 0 {
		return token.NoPos
	}
	return g.List[0].Pos()
}

func (g *CommentGroup) End() token.Pos {
	if g == nil || len(g.List) == 0 {
		return token.NoPos
	}
	return g.List[len(g.List)-1].End()
}

// Text returns the comments' text without '#' markers, one line each.
func (g *CommentGroup) Text() string {
	if g == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range g.List {
		b.WriteString(strings.TrimSpace(strings.TrimPrefix(c.Text, "#")))
		b.WriteByte('\n')
	}
	return b.String()
}

func endOf(p token.Pos, s string) token.Pos {
	if !p.IsValid() {
		return token.NoPos
	}
	return p + token.Pos(len(s))
}

// Word is a literal as spelled in the source: a bare word, a path or glob,
// a "quoted string", a <magic/path>, a @{variable} or a number.
type Word struct {
	ValuePos token.Pos
	Raw      string // as written, including quotes or angle brackets
}

func (w *Word) Pos() token.Pos { return w.ValuePos }
func (w *Word) End() token.Pos { return endOf(w.ValuePos, w.Raw) }

// Quoted reports whether the word is a "quoted string".
func (w *Word) Quoted() bool { return len(w.Raw) >= 2 && w.Raw[0] == '"' && w.Raw[len(w.Raw)-1] == '"' }

// Magic reports whether the word is a <path> relative to the include
// search path.
func (w *Word) Magic() bool { return len(w.Raw) >= 2 && w.Raw[0] == '<' && w.Raw[len(w.Raw)-1] == '>' }

// Value returns the word without quotes or angle brackets, with the
// escapes of a quoted string resolved.
func (w *Word) Value() string {
	switch {
	case w.Magic():
		return strings.TrimSpace(w.Raw[1 : len(w.Raw)-1])
	case w.Quoted():
		if s, err := strconv.Unquote(w.Raw); err == nil {
			return s
		}
		return w.Raw[1 : len(w.Raw)-1]
	}
	return w.Raw
}

// Pattern returns the word as an AARE pattern: a quoted string loses its
// quotes but keeps its escapes, which the pattern syntax decodes into
// literal bytes. apparmor_parser reads "/a\x5b" as the path "/a[" with a
// literal '[', where Value's decoded "/a[" would open a character class.
func (w *Word) Pattern() string {
	if w.Quoted() {
		return w.Raw[1 : len(w.Raw)-1]
	}
	return w.Raw
}

// NewWord returns a Word without position, for building trees.
func NewWord(raw string) *Word { return &Word{Raw: raw} }

// List is a list of words, parenthesised or a single bare word:
// "(send, receive)", "(r w)" or "send".
type List struct {
	Lparen token.Pos // NoPos when not parenthesised (see Paren)
	Words  []*Word
	Rparen token.Pos
	Paren  bool // written in parentheses
	Commas bool // items separated by commas rather than spaces (needs two items)
}

func (l *List) Pos() token.Pos {
	if l.Paren {
		return l.Lparen
	}
	if len(l.Words) > 0 {
		return l.Words[0].Pos()
	}
	return token.NoPos
}

func (l *List) End() token.Pos {
	if l.Paren {
		return endOf(l.Rparen, ")")
	}
	if len(l.Words) > 0 {
		return l.Words[len(l.Words)-1].End()
	}
	return token.NoPos
}

// Has reports whether the list contains the word value v.
func (l *List) Has(v string) bool {
	if l == nil {
		return false
	}
	for _, w := range l.Words {
		if w.Value() == v {
			return true
		}
	}
	return false
}

// Cond is a conditional such as set=(hup kill), peer=foo,
// peer=(label=x addr=y), options in (ro, bind) or flags=(complain).
// Exactly one of Value (a word or list) and Conds (nested conditionals in
// parentheses) is set. Key is nil for the bare "(complain)" form of
// profile flags.
type Cond struct {
	Key    *Word
	OpPos  token.Pos
	In     bool  // "in" rather than "="
	Value  *List // the value, parenthesised or a single word
	Conds  []*Cond
	Lparen token.Pos // for Conds
	Rparen token.Pos // for Conds
	Commas bool      // Conds separated by commas
}

func (c *Cond) Pos() token.Pos {
	if c.Key != nil {
		return c.Key.Pos()
	}
	if c.Value != nil {
		return c.Value.Pos()
	}
	return c.Lparen
}

func (c *Cond) End() token.Pos {
	if c.Value != nil {
		return c.Value.End()
	}
	if c.Rparen.IsValid() {
		return c.Rparen + 1
	}
	if c.Key != nil {
		return c.Key.End()
	}
	return token.NoPos
}

// KeyName returns the key, or "" for a keyless conditional.
func (c *Cond) KeyName() string {
	if c == nil || c.Key == nil {
		return ""
	}
	return c.Key.Raw
}

// FindCond returns the first conditional in cs with the given key.
func FindCond(cs []*Cond, key string) *Cond {
	for _, c := range cs {
		if c.KeyName() == key {
			return c
		}
	}
	return nil
}

// Qualifiers are the rule prefixes, always in the order
// priority=N audit allow|deny owner.
type Qualifiers struct {
	Priority *Word // the N of priority=N (AppArmor 4.1), or nil
	Audit    bool
	Allow    bool
	Deny     bool
	Owner    bool
}

// IsZero reports whether no qualifier is set.
func (q Qualifiers) IsZero() bool { return q == Qualifiers{} }

// ---------------------------------------------------------------- files

// File is a parsed policy file: a profile file, an abstraction or a
// tunables file. Rules holds its top-level statements in source order.
type File struct {
	Name  string
	Rules []Rule
	Start token.Pos // position of the first byte of the file
	EOF   token.Pos // position of the end of the file
	mode  Mode      // how ParseFile parsed it
}

func (f *File) Pos() token.Pos { return f.Start }
func (f *File) End() token.Pos { return f.EOF }

// ---------------------------------------------------------------- preamble

// CommentBlock is a group of comments that belongs to no rule: separated
// from the next rule by a blank line, or at the end of a block.
type CommentBlock struct {
	Meta
	Comments *CommentGroup
}

// Abi is `abi <abi/3.0>,`.
type Abi struct {
	Meta
	Path *Word
}

// Include is `include <x>`, `#include "x"` or `include if exists <x>`.
type Include struct {
	Meta
	Hash     bool // spelled "#include"
	IfExists bool
	Path     *Word
}

// Variable is `@{NAME} = values` or `@{NAME} += values`.
type Variable struct {
	Meta
	Name   *Word // @{NAME}
	Append bool  // +=
	Values []*Word
}

// Boolean is `$NAME = true|false`.
type Boolean struct {
	Meta
	Name  *Word // $NAME
	Value *Word
}

// Alias is `alias /from -> /to,`.
type Alias struct {
	Meta
	Path     *Word
	ArrowPos token.Pos // the "->"
	Target   *Word
}

// If is `if COND { ... } [else if COND { ... }] [else { ... }]`. Cond holds
// the condition's words as written (e.g. "not", "defined", "$x").
type If struct {
	Meta
	Cond   []*Word
	Body   []Rule
	Lbrace token.Pos
	Rbrace token.Pos
	Else   Rule // nil, *If (else if) or *Block (else)
}

// Block is the `else { ... }` branch of an If; From is the "else".
type Block struct {
	Meta
	Lbrace token.Pos
	Body   []Rule
	Rbrace token.Pos
}

// QualBlock is a qualifier applied to a block of rules: `owner { ... }`.
type QualBlock struct {
	Meta
	Qual   Qualifiers
	Lbrace token.Pos
	Body   []Rule
	Rbrace token.Pos
}

// Profile is a profile, child profile or hat:
//
//	profile NAME [ATTACH] [xattrs=(...)] [flags=(...)] { ... }
//	/path/to/bin flags=(complain) { ... }
//	^hat { ... }   hat name { ... }
type Profile struct {
	Meta
	Keyword Token // PROFILE, HAT or ILLEGAL when absent
	Name    *Word // as written; a hat's name keeps its '^'
	Attach  *Word // attachment glob, or nil
	Xattrs  *Cond // xattrs=(...), or nil
	Flags   *Cond // flags=(...) or (...) (Key nil), or nil
	Lbrace  token.Pos
	Open    *CommentGroup // comment after '{' on the same line
	Body    []Rule
	Rbrace  token.Pos
}

// IsHat reports whether the profile is a hat (^name or hat name).
func (p *Profile) IsHat() bool {
	return p.Keyword == HAT || p.Name != nil && strings.HasPrefix(p.Name.Raw, "^")
}

// ---------------------------------------------------------------- rules

// FileRule is a file rule: `[qual] [file] PATH PERMS [-> TARGET],`, the
// leading-permission form `PERMS PATH`, or the bare `file,`.
type FileRule struct {
	Meta
	Qual       Qualifiers
	Keyword    bool      // spelled with "file"
	Path       *Word     // nil for the bare "file,"
	Perms      *Word     // permission letters, e.g. "rw", "mrix", "Px"
	PermsFirst bool      // leading-permission form
	ArrowPos   token.Pos // the "->" before Target
	Target     *Word     // exec target after "->", or nil
}

// LinkRule is `[qual] link [subset] PATH -> TARGET,`.
type LinkRule struct {
	Meta
	Qual     Qualifiers
	Subset   bool
	Path     *Word
	ArrowPos token.Pos // the "->"
	Target   *Word
}

// CapabilityRule is `capability [NAME...],`.
type CapabilityRule struct {
	Meta
	Qual  Qualifiers
	Names []*Word
}

// NetworkRule is `network [ACCESS] [FAMILY] [TYPE|PROTOCOL] [conds],`;
// the access and conditionals are AppArmor 4 forms.
type NetworkRule struct {
	Meta
	Qual     Qualifiers
	Access   *List
	Family   *Word
	Type     *Word
	Protocol *Word
	Conds    []*Cond
}

// SignalRule is `signal [ACCESS] [set=(...)] [peer=...],`.
type SignalRule struct {
	Meta
	Qual   Qualifiers
	Access *List
	Conds  []*Cond
}

// PtraceRule is `ptrace [ACCESS] [peer=...],`.
type PtraceRule struct {
	Meta
	Qual   Qualifiers
	Access *List
	Conds  []*Cond
}

// UnixRule is `unix [ACCESS] [type=] [protocol=] [addr=] [label=] [attr=] [opt=] [peer=(...)],`.
type UnixRule struct {
	Meta
	Qual   Qualifiers
	Access *List
	Conds  []*Cond
}

// DbusRule is `dbus [ACCESS] [bus=] [path=] [interface=] [member=] [name=] [peer=(...)],`.
type DbusRule struct {
	Meta
	Qual   Qualifiers
	Access *List
	Conds  []*Cond
}

// MountRule is a mount, remount or umount rule:
//
//	mount [conds] [SOURCE] [-> MOUNTPOINT],
//	remount [conds] MOUNTPOINT,   umount [conds] MOUNTPOINT,
type MountRule struct {
	Meta
	Qual       Qualifiers
	Kind       Token // MOUNT, REMOUNT or UMOUNT
	Keyword    *Word // the keyword as spelled ("umount" or "unmount")
	Conds      []*Cond
	Source     *Word     // mount only
	Arrow      bool      // mount only: "->" present
	ArrowPos   token.Pos // the "->", when parsed
	MountPoint *Word
}

// PivotRootRule is `pivot_root [oldroot=PATH] [NEWROOT] [-> PROFILE],`.
type PivotRootRule struct {
	Meta
	Qual     Qualifiers
	Conds    []*Cond
	NewRoot  *Word
	ArrowPos token.Pos // the "->" before Profile
	Profile  *Word
}

// ChangeProfileRule is `change_profile [safe|unsafe] [EXEC] [-> PROFILE],`.
type ChangeProfileRule struct {
	Meta
	Qual     Qualifiers
	ExecMode *Word // safe or unsafe, or nil
	Exec     *Word
	ArrowPos token.Pos // the "->" before Profile
	Profile  *Word
}

// RlimitRule is `set rlimit RESOURCE <= VALUE,`.
type RlimitRule struct {
	Meta
	Resource *Word
	Value    *Word
}

// UsernsRule is `userns [create],` (AppArmor 4).
type UsernsRule struct {
	Meta
	Qual   Qualifiers
	Access *List
}

// IOUringRule is `io_uring [ACCESS] [label=...],` (AppArmor 4).
type IOUringRule struct {
	Meta
	Qual   Qualifiers
	Access *List
	Conds  []*Cond
}

// MqueueRule is `mqueue [ACCESS] [type=] [label=] [NAME],` (AppArmor 4).
type MqueueRule struct {
	Meta
	Qual   Qualifiers
	Access *List
	Conds  []*Cond
	Name   *Word
}

// AllRule is `all,` (AppArmor 4).
type AllRule struct {
	Meta
	Qual Qualifiers
}

// RawRule is a plausible rule the parser does not model (a keyword it does
// not know, ending in ','). Its text is printed verbatim; validation
// decides whether the target version accepts it.
type RawRule struct {
	Meta
	Text string
}

// BadRule is source text with a syntax error; the error is reported in the
// ErrorList returned by ParseFile. Text is kept so that printing never
// loses user text.
type BadRule struct {
	Meta
	Text string
}

func (*CommentBlock) ruleNode()      {}
func (*Abi) ruleNode()               {}
func (*Include) ruleNode()           {}
func (*Variable) ruleNode()          {}
func (*Boolean) ruleNode()           {}
func (*Alias) ruleNode()             {}
func (*If) ruleNode()                {}
func (*Block) ruleNode()             {}
func (*QualBlock) ruleNode()         {}
func (*Profile) ruleNode()           {}
func (*FileRule) ruleNode()          {}
func (*LinkRule) ruleNode()          {}
func (*CapabilityRule) ruleNode()    {}
func (*NetworkRule) ruleNode()       {}
func (*SignalRule) ruleNode()        {}
func (*PtraceRule) ruleNode()        {}
func (*UnixRule) ruleNode()          {}
func (*DbusRule) ruleNode()          {}
func (*MountRule) ruleNode()         {}
func (*PivotRootRule) ruleNode()     {}
func (*ChangeProfileRule) ruleNode() {}
func (*RlimitRule) ruleNode()        {}
func (*UsernsRule) ruleNode()        {}
func (*IOUringRule) ruleNode()       {}
func (*MqueueRule) ruleNode()        {}
func (*AllRule) ruleNode()           {}
func (*RawRule) ruleNode()           {}
func (*BadRule) ruleNode()           {}

// Qualified is implemented by rules that take qualifiers.
type Qualified interface {
	Rule
	Qualifiers() *Qualifiers
}

func (r *QualBlock) Qualifiers() *Qualifiers         { return &r.Qual }
func (r *FileRule) Qualifiers() *Qualifiers          { return &r.Qual }
func (r *LinkRule) Qualifiers() *Qualifiers          { return &r.Qual }
func (r *CapabilityRule) Qualifiers() *Qualifiers    { return &r.Qual }
func (r *NetworkRule) Qualifiers() *Qualifiers       { return &r.Qual }
func (r *SignalRule) Qualifiers() *Qualifiers        { return &r.Qual }
func (r *PtraceRule) Qualifiers() *Qualifiers        { return &r.Qual }
func (r *UnixRule) Qualifiers() *Qualifiers          { return &r.Qual }
func (r *DbusRule) Qualifiers() *Qualifiers          { return &r.Qual }
func (r *MountRule) Qualifiers() *Qualifiers         { return &r.Qual }
func (r *PivotRootRule) Qualifiers() *Qualifiers     { return &r.Qual }
func (r *ChangeProfileRule) Qualifiers() *Qualifiers { return &r.Qual }
func (r *UsernsRule) Qualifiers() *Qualifiers        { return &r.Qual }
func (r *IOUringRule) Qualifiers() *Qualifiers       { return &r.Qual }
func (r *MqueueRule) Qualifiers() *Qualifiers        { return &r.Qual }
func (r *AllRule) Qualifiers() *Qualifiers           { return &r.Qual }

// Body returns the rules of a block-like node (File, Profile, If, Block,
// QualBlock), or nil.
func Body(n Node) *[]Rule {
	switch n := n.(type) {
	case *File:
		return &n.Rules
	case *Profile:
		return &n.Body
	case *If:
		return &n.Body
	case *Block:
		return &n.Body
	case *QualBlock:
		return &n.Body
	}
	return nil
}
