package policy

import (
	"fmt"
	"go/token"
	"strings"
)

// lexer splits policy text into tokens. It is pulled by the parser one
// token at a time; the parser passes the lexing mode that the context needs
// (see scanMode), which is how the context-sensitive AppArmor grammar is
// lexed without a table of start conditions.
type lexer struct {
	file *token.File
	src  []byte
	err  func(pos token.Pos, msg string)
	off  int // next byte to read
	// parens counts the '(' tokens not yet closed. Inside a list such as
	// flags=(…) or peer=(…) a ')' ends a word; elsewhere apparmor_parser
	// reads parentheses as part of a path or name ("/tmp/f(1)" is a path,
	// "profile t(complain)" names the profile "t(complain)").
	parens int
}

// scanMode selects context-dependent lexing.
type scanMode uint

const (
	// scanLines makes newlines significant (variable and boolean
	// assignments end at the end of the line; "\\\n" continues it).
	scanLines scanMode = 1 << iota
	// scanGlob makes a '{' at the start of a token begin a word (a glob
	// alternation) rather than a block.
	scanGlob
	// scanValue reads the values of a variable assignment: apparmor_parser
	// takes any run of non-blank characters there, so '=', '(' and ')'
	// begin or continue a value ("@{X} = =a (b)").
	scanValue
	// scanName reads the name after "profile", "hat" or '^', where a
	// leading '#' is part of the name, not a comment ("profile #x {").
	scanName
)

func (s *lexer) init(file *token.File, src []byte, err func(token.Pos, string)) {
	s.file, s.src, s.err, s.off, s.parens = file, src, err, 0, 0
}

func (s *lexer) pos(off int) token.Pos { return s.file.Pos(off) }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'
}

// scan returns the next token. Comments are returned as tokens so that the
// parser can attach them to nodes.
func (s *lexer) scan(mode scanMode) (token.Pos, Token, string) {
	src := s.src
	for s.off < len(src) {
		c := src[s.off]
		if c == '\n' && mode&scanLines != 0 {
			s.off++
			return s.pos(s.off - 1), NEWLINE, "\n"
		}
		if c == '\\' && mode&scanLines != 0 && s.off+1 < len(src) && (src[s.off+1] == '\n' || src[s.off+1] == '\r') {
			s.off += 2
			if src[s.off-1] == '\r' && s.off < len(src) && src[s.off] == '\n' {
				s.off++
			}
			continue
		}
		if !isSpace(c) {
			break
		}
		if c == '\f' || c == '\v' || c == '\r' && (s.off+1 == len(src) || src[s.off+1] != '\n') {
			// apparmor_parser's blanks are space and tab, its line ends \n
			// and \r\n: anything else stops its lexer.
			s.err(s.pos(s.off), fmt.Sprintf("unexpected character %q between words: apparmor_parser takes only spaces, tabs and line ends there; remove it", c))
		}
		s.off++
	}
	if s.off >= len(src) {
		return s.pos(len(src)), EOF, ""
	}
	start := s.off
	pos := s.pos(start)
	c := src[start]
	next := byte(0)
	if start+1 < len(src) {
		next = src[start+1]
	}
	if mode&(scanValue|scanName) != 0 && !(c == '\n' || c == '}' || c == ',' && (next == 0 || isSpace(next))) && !(c == '#' && mode&scanValue != 0) && !(c == '{' && mode&scanName != 0) {
		s.scanWord(mode)
		return pos, WORD, string(src[start:s.off])
	}
	switch c {
	case '#':
		if isIncludeDirective(src[start:]) {
			s.off += len("#include")
			return pos, INCLUDE, "#include"
		}
		end := start
		for end < len(src) && src[end] != '\n' {
			end++
		}
		s.off = end
		return pos, COMMENT, strings.TrimRight(string(src[start:end]), " \t\r")
	case ',':
		s.off++
		return pos, COMMA, ","
	case '(':
		s.off++
		s.parens++
		return pos, LPAREN, "("
	case ')':
		s.off++
		if s.parens > 0 {
			s.parens--
		}
		return pos, RPAREN, ")"
	case '}':
		s.parens = 0 // a block never opens inside a list: recover from a bad one
		s.off++
		return pos, RBRACE, "}"
	case '=':
		s.off++
		return pos, ASSIGN, "="
	case '{':
		// Where a rule or a file path starts, '{' opens a block even glued
		// to the next word ("profile foo {/etc/passwd r,}"), as in
		// apparmor_parser; where the parser expects a value (scanGlob:
		// after '=', after '->', in the arguments of mount and IPC rules)
		// and in variable values it starts an alternation: member={A,B},
		// "px -> {a,b}".
		if next == 0 || isSpace(next) || next == '}' || mode&(scanLines|scanGlob) == 0 {
			s.parens = 0
			s.off++
			return pos, LBRACE, "{"
		}
	case '+':
		if next == '=' {
			s.off += 2
			return pos, ADD, "+="
		}
	case '-':
		if next == '>' {
			s.off += 2
			return pos, ARROW, "->"
		}
	case '<':
		if next == '=' {
			s.off += 2
			return pos, LEQ, "<="
		}
		end := start + 1
		for end < len(src) && src[end] != '>' && src[end] != '\n' {
			end++
		}
		if end < len(src) && src[end] == '>' {
			s.off = end + 1
			return pos, WORD, string(src[start:s.off])
		}
		s.err(pos, "unterminated <...> path: add the closing '>'")
		s.off = end
		return pos, WORD, string(src[start:end])
	}
	s.scanWord(mode)
	if s.off == start { // a lone '\\' before a newline or the end
		s.off++
		s.err(pos, "stray '\\': a line continuation is only allowed in a variable assignment")
	}
	return pos, WORD, string(src[start:s.off])
}

// peek returns the next n non-comment tokens, lexed in mode m, without
// consuming them; errors are reported when the tokens are read for real.
func (s *lexer) peek(m scanMode, n int) []Token {
	saved := *s
	defer func() { *s = saved }()
	s.err = func(token.Pos, string) {}
	var out []Token
	for len(out) < n {
		_, tok, lit := s.scan(m)
		if tok == COMMENT {
			continue
		}
		if tok == WORD && isModes(lit) {
			tok = modesTok
		}
		out = append(out, tok)
		if tok == EOF {
			break
		}
	}
	return out
}

// isIncludeDirective reports whether b starts with "#include". Like
// apparmor_parser, "#includes" is the directive too (and then an error),
// while "# include" is a comment.
func isIncludeDirective(b []byte) bool {
	const kw = "#include"
	return len(b) >= len(kw) && string(b[:len(kw)]) == kw
}

// scanWord consumes a word: a path, glob, name, number or quoted string.
// Commas inside {a,b} alternations belong to the word; '=' ends a word
// unless it starts with '/' (so "peer=" splits but "/a=b" does not). As in
// apparmor_parser, "->" glued to a word belongs to it ("px->x" is one,
// invalid, word) and so does a '{' ("a{" does not open a block).
func (s *lexer) scanWord(mode scanMode) {
	src := s.src
	start := s.off
	depth := 0
	value := mode&scanValue != 0
	pathLike := src[start] == '/' || value
	commaInPath := src[start] == '/' || src[start] == '@' || value
loop:
	for s.off < len(src) {
		c := src[s.off]
		next := byte(0)
		if s.off+1 < len(src) {
			next = src[s.off+1]
		}
		switch {
		case isSpace(c):
			break loop
		case c == '"':
			s.scanQuoted()
			continue
		case c == '\\':
			if next == '\n' || next == 0 {
				// glued to a word, a backslash is part of it: only one
				// that starts a token continues a line ("@{X}=/a \\")
				if s.off > start {
					s.off++
				}
				break loop
			}
			s.off += escapeLen(src, s.off)
			continue
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				return
			}
			depth--
		case c == ',':
			// apparmor_parser reads "/tmp/a,b" as one path: a comma
			// inside a path ends it only before a space or the end.
			if depth == 0 && !(commaInPath && next != 0 && !isSpace(next) && (next != ')' || s.parens == 0) && next != ',') {
				return
			}
		case c == '(' || c == ')':
			if depth == 0 && s.parens > 0 && !value {
				return
			}
		case c == '=':
			if depth == 0 && !pathLike {
				return
			}
		case c == '+' && next == '=', c == '<' && next == '=':
			if s.off > start && !value {
				break loop
			}
		}
		s.off++
	}
	s.checkBraces(start, depth)
}

// escapeLen is how many bytes the backslash at src[i] takes with what it
// escapes, as apparmor_parser's lexer reads a word: the byte after it,
// but "\\" is no pair there (each backslash escapes what follows it, so
// "/a\\, r," is one word and "/a\\\"" ends in an escaped quote), and a
// backslash at the end escapes nothing.
func escapeLen[S ~string | ~[]byte](src S, i int) int {
	if i+1 >= len(src) || src[i+1] == '\\' {
		return 1
	}
	return 2
}

// checkBraces reports a word that ends inside a {a,b} alternation: its
// commas would otherwise be read differently once the word is reprinted.
func (s *lexer) checkBraces(start, depth int) {
	if depth > 0 {
		s.err(s.pos(start), fmt.Sprintf("unbalanced '{' in %q: close the alternation with '}'", s.src[start:s.off]))
	}
}

// scanQuoted consumes a "..." string with backslash escapes.
func (s *lexer) scanQuoted() {
	src := s.src
	start := s.off
	s.off++
	for s.off < len(src) {
		switch src[s.off] {
		case '\\':
			s.off += 2
			continue
		case '"':
			s.off++
			return
		case '\n':
			s.err(s.pos(start), "unterminated quoted string: add the closing '\"'")
			return
		}
		s.off++
	}
	if s.off > len(src) {
		s.off = len(src)
	}
	s.err(s.pos(start), "unterminated quoted string: add the closing '\"'")
}
