// Package policy reads, edits and prints AppArmor policy: profiles,
// abstractions and tunables, in the union of the AppArmor 3.0 and 4.x
// syntax.
//
// # Parsing
//
// ParseFile parses one file into a *File. Positions are go/token positions:
// use one token.FileSet per load, so every file (and every include pulled
// in) has its own base and errors print as file:line:col.
//
//	fset := token.NewFileSet()
//	f, err := policy.ParseFile(fset, "usr.bin.foo", src, policy.ParseComments)
//
// ParseFile always returns the tree it could build. On syntax errors err is
// an ErrorList (a go/scanner.ErrorList, sorted by position) and each broken
// rule is a *BadRule holding its source text. Parsing stops after 10 errors
// unless the AllErrors mode bit is set.
//
// # The tree
//
// A *File holds a list of Rule values in source order; so do the bodies of
// *Profile (profiles, child profiles and hats), *If/*Block (conditionals),
// and *QualBlock (`owner { ... }`). Every Rule embeds Meta (reach it with
// r.RuleMeta()): its span (From, To), its Doc comment (whole lines just
// above it, plus any comments written inside a multi-line rule), its Line
// comment (after it on the same line) and its Layout hint (NewSection: a
// blank line before it; the parser sets it from the source, programs set
// it on the rules they build). Comments that belong to no rule (followed by
// a blank line, or at the end of a block) are *CommentBlock rules. Nothing
// is free-floating: moving or deleting a rule moves or deletes its
// comments.
//
// Rule kinds, each a struct with typed fields:
//
//	preamble:  *Abi, *Include, *Variable (@{X} = / +=), *Boolean ($b = true),
//	           *Alias, *If (with *Block for else), *CommentBlock
//	blocks:    *Profile (Keyword PROFILE/HAT/none, Name, Attach, Xattrs, Flags),
//	           *QualBlock
//	rules:     *FileRule, *LinkRule, *CapabilityRule, *NetworkRule, *SignalRule,
//	           *PtraceRule, *UnixRule, *DbusRule, *MountRule (mount, remount,
//	           umount), *PivotRootRule, *ChangeProfileRule, *RlimitRule,
//	           *UsernsRule, *IOUringRule, *MqueueRule, *AllRule
//	other:     *RawRule (a keyword the parser does not model, ending in ',';
//	           printed verbatim) and *BadRule (a syntax error)
//
// Rules that take qualifiers implement Qualified; Qualifiers holds
// priority=N (AppArmor 4.1), audit, allow, deny and owner. Literals are
// *Word values that keep their spelling (Raw: quotes, <magic>, @{vars});
// Word.Value unquotes. Parenthesised lists are *List; conditionals such as
// peer=(label=x), set=(hup kill), options in (ro) and flags=(complain) are
// *Cond. Which keywords, families, flags or permissions are valid for a
// given AppArmor version is not decided here: the parser accepts the
// union and the validation pass (check) judges.
//
// Walk, Inspect and Preorder traverse the tree; Fprint dumps it for
// debugging.
//
// The lexer follows apparmor_parser where that matters: "#include" is a
// directive even when glued to more text ("# include" is a comment), a
// comma inside a path ("/tmp/a,b") or a {a,b} alternation belongs to the
// word, "->" glued to a word is part of it, and '{' opens a block where a
// rule or file path starts but begins an alternation where a value is
// expected (member={A,B}, px -> {a,b}).
//
// # Printing
//
// Format and Config.Fprint print a *File or a single Rule in the canonical
// style of `armorer fmt`: two spaces of indentation per level, one rule per
// line, single spaces between tokens, at most one blank line between rules
// (kept from the source), comments before the rule they are attached to.
// The printer never reorders rules nor changes a spelling (`#include` stays,
// quotes stay), so the compiled policy is unchanged.
//
// # Editing
//
// Profile.AddRule and File.AddRule insert a rule next to the most similar
// existing rule; DropRule marks a rule removed (the printer skips it) and
// Cleanup compacts the tree (Walk still visits dropped rules until then;
// Dropped tells them apart). Built rules carry no positions; their
// Meta.Hint says whether a blank line comes before them. A built rule must
// be what the parser would produce: e.g. a file rule's path cannot start
// with '{', which apparmor_parser reads as a block.
//
// Edits turns an edited tree into minimal TextEdits of the text it was
// parsed from, and ApplyEdits applies them: rules the program did not touch
// keep every byte (odd spacing, tabs, #include spellings), a changed rule or
// profile header is printed in the canonical style in its place, new rules
// go on their own lines next to their neighbours. That is how learn adds
// rules to a hand-written profile and how a mode change rewrites only the
// flags of a header. The parser records what this needs: each rule's span,
// the ',' that ends it (Meta.Comma), each "->" (ArrowPos) and each block's
// braces.
package policy
