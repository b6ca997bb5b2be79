// Package aare implements AppArmor's path globbing ("AppArmor regular
// expressions") with the semantics of apparmor_parser: parsing a pattern into a
// small tree, compiling it to a DFA, matching paths without allocation, and
// deciding on automata whether one pattern (or a set of file rules) covers
// another.
//
// The semantics follow apparmor_parser 3.0's conversion of a rule's path into
// a regular expression (convert_aaregex_to_pcre in parser/parser_regex.c, used
// as a design reference only) and were checked case by case against the real
// compiler (see oracle_test.go):
//
//   - `?` matches one byte other than `/`; `*` any run of bytes without `/`;
//     `**` any run of bytes.
//   - A run of stars that is a whole path component (it follows a `/` and is
//     followed by `/` or the end of the pattern) matches at least one byte, and
//     that byte is not `/`: `/tmp/*` does not match `/tmp/`, `/tmp/**` does not
//     match `/tmp//x`. `***` is `**`.
//   - `[abc]`, `[^abc]`, `[a-z]`: a class may contain `/`; a reversed range
//     `[c-a]` is `[a-c]`; `]` right after `[` or `[^` closes the (then empty,
//     hence invalid) class; `-` is literal only as the first member.
//   - `{a,b,c}` alternation, nested up to MaxAlternationDepth; it needs at least
//     two alternatives (`{a}` is an error, as in apparmor_parser); `,` outside
//     braces is a literal.
//   - `\` escapes: `\a \e \f \n \r \t` are control bytes, `\xH`/`\xHH` hex,
//     `\N`..`\NNN` octal, `\dN`..`\dNNN` decimal (digits stop before the
//     value would pass 255: `\d300` is byte 30, then '0'); any other escaped byte is
//     itself (`\*`, `\{`, `\q`).
//   - `@{name}` is replaced first, textually: by its value, or by
//     `{v1,v2,...}` when it has several (see expand for the slashes at the
//     edges). Then runs of `/` are collapsed to one (a leading `//` followed
//     by a non-slash is kept), as apparmor_parser does to every file rule.
//
// Refused on purpose (ErrUnsupported): a `*` or `?` inside `[...]`, and an
// empty class `[]`/`[^]`. apparmor_parser accepts them, but its two passes
// disagree about where the class ends, which gives a meaning nobody intends.
//
// Rules (Rule, Set) follow the compiler's merge of overlapping file rules:
// permissions of matching allow rules add up; deny rules take permissions
// away and make the refusal quiet unless audited; `owner` rules apply only to
// files the process owns; `w` includes `a`; `ix`, `pix` and `cix` include
// `m`; exec modes must agree (an exact, glob-free path overrides globs). Set.Covers
// answers "would adding this rule change the compiled policy?", which is
// exactly what apparmor_parser -S shows; oracle_test.go checks it on
// thousands of generated cases.
package aare
