package policy

import "strconv"

// Token is a lexical token or a keyword of the AppArmor policy language.
// The scanner returns only the punctuation tokens, WORD, COMMENT, NEWLINE,
// INCLUDE (the "#include" spelling) and EOF; keywords are words that the
// parser recognises by position with Lookup, because AppArmor keywords are
// contextual (a profile may be named "network").
type Token int

const (
	ILLEGAL Token = iota
	EOF
	COMMENT // # text
	NEWLINE // end of line, only inside variable assignments
	WORD    // a bare, quoted or <magic> word, as spelled

	COMMA  // ,
	LBRACE // {
	RBRACE // }
	LPAREN // (
	RPAREN // )
	ARROW  // ->
	ASSIGN // =
	ADD    // +=
	LEQ    // <=

	keywordBeg
	INCLUDE // include or #include
	ABI
	ALIAS
	PROFILE
	HAT
	IF
	ELSE
	AUDIT
	ALLOW
	DENY
	OWNER
	PRIORITY
	FILE
	LINK
	CAPABILITY
	NETWORK
	SIGNAL
	PTRACE
	UNIX
	DBUS
	MOUNT
	REMOUNT
	UMOUNT
	PIVOT_ROOT
	CHANGE_PROFILE
	SET // set rlimit
	USERNS
	IO_URING
	MQUEUE
	ALL
	keywordEnd
)

var tokens = [...]string{
	ILLEGAL: "ILLEGAL",
	EOF:     "EOF",
	COMMENT: "COMMENT",
	NEWLINE: "NEWLINE",
	WORD:    "WORD",

	COMMA:  ",",
	LBRACE: "{",
	RBRACE: "}",
	LPAREN: "(",
	RPAREN: ")",
	ARROW:  "->",
	ASSIGN: "=",
	ADD:    "+=",
	LEQ:    "<=",

	INCLUDE:        "include",
	ABI:            "abi",
	ALIAS:          "alias",
	PROFILE:        "profile",
	HAT:            "hat",
	IF:             "if",
	ELSE:           "else",
	AUDIT:          "audit",
	ALLOW:          "allow",
	DENY:           "deny",
	OWNER:          "owner",
	PRIORITY:       "priority",
	FILE:           "file",
	LINK:           "link",
	CAPABILITY:     "capability",
	NETWORK:        "network",
	SIGNAL:         "signal",
	PTRACE:         "ptrace",
	UNIX:           "unix",
	DBUS:           "dbus",
	MOUNT:          "mount",
	REMOUNT:        "remount",
	UMOUNT:         "umount",
	PIVOT_ROOT:     "pivot_root",
	CHANGE_PROFILE: "change_profile",
	SET:            "set",
	USERNS:         "userns",
	IO_URING:       "io_uring",
	MQUEUE:         "mqueue",
	ALL:            "all",
}

// String returns the token's spelling, or its name for classes such as WORD.
func (t Token) String() string {
	if 0 <= t && int(t) < len(tokens) && tokens[t] != "" {
		return tokens[t]
	}
	return "token(" + strconv.Itoa(int(t)) + ")"
}

// IsKeyword reports whether t is a keyword.
func (t Token) IsKeyword() bool { return keywordBeg < t && t < keywordEnd }

var keywords map[string]Token

func init() {
	keywords = make(map[string]Token, keywordEnd-keywordBeg)
	for t := keywordBeg + 1; t < keywordEnd; t++ {
		keywords[tokens[t]] = t
	}
	keywords["unmount"] = UMOUNT // apparmor_parser accepts both spellings
}

// Lookup maps a word to its keyword token, or WORD if it is not a keyword.
func Lookup(word string) Token {
	if t, ok := keywords[word]; ok {
		return t
	}
	return WORD
}
