package learn

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/armorer-dev/armorer/policy/aare"
)

// GlobMode is how far learn generalises concrete paths into patterns.
//
//	none        every rule names exactly the paths the events named.
//	safe        (default) the rewrites below, each of which only replaces
//	            parts of a path that are known to vary between runs:
//	              /proc/1234/...            → @{PROC}/@{pid}/... (task/5678 → task/@{tid})
//	              /home/alice/...           → @{HOME}/..., or @{HOMEDIRS}/*/...
//	                                          when @{HOME} (which has /root/) would
//	                                          reach a sensitive path
//	              (owner, when every event on a path had fsuid == ouid, under
//	              @{HOME}, @{PROC}/@{pid} and the temp directories)
//	              a component of digits      → [0-9]*
//	              a run of 6+ digits         → [0-9]*      (app-20261125.log → app-[0-9]*.log; --min-digits)
//	              a uuid component           → [0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*
//	              a hex component (8+ chars) → [0-9a-f]*   (--min-hex)
//	              name.log.3                 → name.log.[0-9]*
//	              mkstemp names in temp dirs → the 6 random characters become ??????
//	              libfoo.so.1.2.3 (read/map) → libfoo.so*
//	              pids and counters in temp and spill names → [0-9]*
//	                                          (pgsql_tmp1234.5, temp-1234.rdb)
//	            and, together with the profile's own literal rules
//	            (collapse.go): a digit run in which at least Siblings
//	            (default 4) names of one directory vary → [0-9]*; at least
//	            Siblings names in one directory → dir/*; a directory the
//	            application writes 2+ files in under its own places → dir/*
//	            or dir/** (owner when every event on every path it replaces
//	            had fsuid == ouid); 3+ files read spread over subdirectories of
//	            /var/www or /srv/NAME → root/**. What merges gets the union
//	            of its permissions (Options.NoPermUnion: equal ones only).
//	aggressive  safe, and also dir/** when at least Siblings paths in at
//	            least two subdirectories of dir have the same permissions.
//
// In every mode a pattern is rejected (the concrete paths are kept) when its
// language, decided on the automata, has a sensitive path (lint's table)
// that the events did not name,
// and learn never writes /**, /* or @{HOME}/**.
type GlobMode uint8

const (
	GlobSafe GlobMode = iota
	GlobNone
	GlobAggressive
)

func (m GlobMode) String() string {
	switch m {
	case GlobNone:
		return "none"
	case GlobAggressive:
		return "aggressive"
	}
	return "safe"
}

// ParseGlobMode reads "none", "safe" or "aggressive".
func ParseGlobMode(s string) (GlobMode, error) {
	switch s {
	case "none":
		return GlobNone, nil
	case "safe", "":
		return GlobSafe, nil
	case "aggressive":
		return GlobAggressive, nil
	}
	return GlobSafe, fmt.Errorf("glob mode %q: want none, safe or aggressive", s)
}

// tempDirs are directories whose entries are expected to be short-lived
// files with random names. A directory named tmp, temp or .tmp anywhere
// counts too.
var tempDirs = []string{"/tmp/", "/var/tmp/", "/dev/shm/"}

// generalise rewrites one concrete path by the safe rules. ownable
// reports whether the path lies where files of several users meet, so
// that owner is worth writing when every event had fsuid == ouid: a home
// directory replaced by @{HOME}, a process directory replaced by
// @{PROC}/@{pid}, or a temp directory. perms decides whether the shared
// library rule applies.
func generalise(p string, perms aare.Perm) (pattern string, ownable bool) {
	return generaliseWith(p, perms, thresholds{})
}

// Default thresholds of the safe rules (--min-digits, --min-hex).
const (
	DefaultMinDigits = 6 // a run of this many digits inside a name is variable
	DefaultMinHex    = 8 // a hex name this long (with a digit and a letter) is an id
)

// thresholds are the tunable lengths of the safe rules; zero fields mean
// the defaults.
type thresholds struct{ minDigits, minHex int }

func (t thresholds) digits() int {
	if t.minDigits > 0 {
		return t.minDigits
	}
	return DefaultMinDigits
}

func (t thresholds) hex() int {
	if t.minHex > 0 {
		return t.minHex
	}
	return DefaultMinHex
}

func generaliseWith(p string, perms aare.Perm, th thresholds) (pattern string, ownable bool) {
	pattern, ownable = generaliseRules(p, perms, th)
	for _, t := range tempDirs {
		if strings.HasPrefix(p, t) {
			ownable = true
		}
	}
	return pattern, ownable || strings.HasPrefix(pattern, "@{PROC}/@{pid}/")
}

func generaliseRules(p string, perms aare.Perm, th thresholds) (pattern string, home bool) {
	var b strings.Builder
	b.Grow(len(p) + 16)
	rest := p
	switch {
	case strings.HasPrefix(p, "/proc/"):
		pid, after, ok := strings.Cut(p[len("/proc/"):], "/")
		if ok && isPid(pid) {
			b.WriteString("@{PROC}/@{pid}/")
			rest = after
			if tid, after2, ok := strings.Cut(strings.TrimPrefix(rest, "task/"), "/"); ok && strings.HasPrefix(rest, "task/") && isPid(tid) {
				b.WriteString("task/@{tid}/")
				rest = after2
			}
		} else {
			b.WriteString("/")
			rest = p[1:]
		}
	case strings.HasPrefix(p, "/home/"):
		user, after, ok := strings.Cut(p[len("/home/"):], "/")
		if ok && user != "" {
			b.WriteString("@{HOME}/")
			rest = after
			home = true
		} else {
			b.WriteString("/")
			rest = p[1:]
		}
	default:
		if !strings.HasPrefix(p, "/") {
			return EscapeLiteral(p), false
		}
		b.WriteString("/")
		rest = p[1:]
	}
	temp := isTempDir(b.String())
	spill := false // below a temporary directory of the service's own
	for i := 0; ; i++ {
		c, after, more := strings.Cut(rest, "/")
		rest = after
		if i > 0 {
			b.WriteByte('/')
		}
		last := !more
		g := generaliseComponent(c, temp, last && perms&^(aare.PermRead|aare.PermMmap) == 0, th)
		if (spill || isSpillName(c)) && g == EscapeLiteral(c) {
			g = spillDigits(g)
		}
		b.WriteString(g)
		if last {
			break
		}
		temp = temp || isTempName(c) || isTempDirOf(b.String())
		spill = spill || isSpillName(c) && !isTempDirOf(b.String())
	}
	return b.String(), home
}

// isTempDirOf is isTempDir(dir + "/"), without the string.
func isTempDirOf(dir string) bool {
	for _, t := range tempDirs {
		if len(t) == len(dir)+1 && t[len(dir)] == '/' && strings.HasPrefix(t, dir) {
			return true
		}
	}
	return false
}

func isTempDir(dir string) bool {
	for _, t := range tempDirs {
		if dir == t {
			return true
		}
	}
	return false
}

func isTempName(c string) bool {
	switch c {
	case "tmp", "temp", ".tmp", "TMP", "TEMP":
		return true
	}
	return false
}

// generaliseComponent applies the per-component rules to one path
// component. inTemp says whether its directory holds temporary files; lib
// whether the shared-library rule may apply (read/map access of a leaf).
func generaliseComponent(c string, inTemp, lib bool, th thresholds) string {
	switch {
	case c == "":
		return c
	case isDigits(c):
		return "[0-9]*"
	case isUUID(c):
		return "[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*"
	case isHexID(c, th.hex()):
		return "[0-9a-f]*"
	}
	if lib {
		if base, ok := sharedLibBase(c); ok {
			return EscapeLiteral(base) + "*"
		}
	}
	if i := strings.Index(c, ".log."); i >= 0 && isDigits(c[i+len(".log."):]) {
		return EscapeLiteral(c[:i]) + ".log.[0-9]*"
	}
	if i, n := digitRun(c, th.digits()); n > 0 {
		return EscapeLiteral(c[:i]) + "[0-9]*" + EscapeLiteral(c[i+n:])
	}
	if inTemp {
		if i, ok := mkstempSuffix(c); ok {
			return EscapeLiteral(c[:i]) + "??????" + EscapeLiteral(c[i+6:])
		}
	}
	return EscapeLiteral(c)
}

// EscapeLiteral escapes the characters AppArmor patterns treat as glob
// syntax, so that a concrete path from an event matches only itself; and
// writes the bytes profile syntax cannot carry in a word (control bytes,
// quotes, comment signs, backslashes, bytes of invalid UTF-8) as \xHH, which
// apparmor_parser and policy/aare decode to that byte.
func EscapeLiteral(s string) string {
	// Most paths are plain ASCII: one pass over the bytes says so.
	plain, ascii := true, true
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = !escapedByte[c]
		ascii = ascii && c < 0x80
	}
	if plain && (ascii || utf8.ValidString(s)) {
		return s
	}
	valid := utf8.ValidString(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte("*?[]{}", c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f || c == '"' || c == '#' || c == '\\' || (c >= 0x80 && !valid):
			// A backslash too: apparmor_parser's lexer misreads \\ before a ','.
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escapedSyntax are the printable characters EscapeLiteral escapes.
const escapedSyntax = "\\*?[]{}\"#"

// escapedByte: the ASCII bytes EscapeLiteral always escapes (control
// bytes, DEL and escapedSyntax).
var escapedByte = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t[0x7f] = true
	for i := 0; i < len(escapedSyntax); i++ {
		t[escapedSyntax[i]] = true
	}
	return t
}()

// digitRun finds the first run of at least min digits in c.
func digitRun(c string, min int) (start, n int) {
	for i := 0; i < len(c); {
		if !isDigit(c[i]) {
			i++
			continue
		}
		j := i
		for j < len(c) && isDigit(c[j]) {
			j++
		}
		if j-i >= min {
			return i, j - i
		}
		i = j
	}
	return 0, 0
}

// mkstempSuffix finds the six random characters mkstemp(3) puts in place
// of XXXXXX: the last 6 characters of the last alphanumeric run of 6 or
// more, when they mix at least two of lower case, upper case and digits.
func mkstempSuffix(c string) (int, bool) {
	end := len(c)
	for end > 0 {
		// Find the last alphanumeric run ending at or before end.
		j := end
		for j > 0 && !isAlnum(c[j-1]) {
			j--
		}
		i := j
		for i > 0 && isAlnum(c[i-1]) {
			i--
		}
		if j-i >= 6 && looksRandom(c[j-6:j]) {
			return j - 6, true
		}
		end = i
	}
	return 0, false
}

func looksRandom(s string) bool {
	var lower, upper, digit bool
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch >= 'a' && ch <= 'z':
			lower = true
		case ch >= 'A' && ch <= 'Z':
			upper = true
		case isDigit(ch):
			digit = true
		}
	}
	n := 0
	for _, b := range []bool{lower, upper, digit} {
		if b {
			n++
		}
	}
	return n >= 2
}

// sharedLibBase returns "libfoo.so" for "libfoo.so.1.2.3".
func sharedLibBase(c string) (string, bool) {
	i := strings.Index(c, ".so.")
	if i < 0 {
		return "", false
	}
	for _, v := range strings.Split(c[i+len(".so."):], ".") {
		if !isDigits(v) {
			return "", false
		}
	}
	return c[:i+len(".so")], true
}

func isUUID(c string) bool {
	if len(c) != 36 {
		return false
	}
	for i := 0; i < len(c); i++ {
		switch i {
		case 8, 13, 18, 23:
			if c[i] != '-' {
				return false
			}
		default:
			if !isLowerHex(c[i]) {
				return false
			}
		}
	}
	return true
}

// isHexID: min (default 8) or more lower-case hex digits with at least one digit and one
// letter, as in cache keys and content hashes; plain words such as
// "facade" are too short or lack a digit.
func isHexID(c string, min int) bool {
	if len(c) < min {
		return false
	}
	var digit, letter bool
	for i := 0; i < len(c); i++ {
		switch {
		case isDigit(c[i]):
			digit = true
		case c[i] >= 'a' && c[i] <= 'f':
			letter = true
		default:
			return false
		}
	}
	return digit && letter
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isLowerHex(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') }
func isAlnum(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// isPid: what @{pid} matches (tunables/kernelvars): 1 to 4999999 without
// leading zeros.
func isPid(s string) bool {
	return isDigits(s) && s[0] != '0' && (len(s) < 7 || len(s) == 7 && s[0] <= '4')
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// hasGlob reports whether a pattern contains AppArmor glob characters or
// variables.
func hasGlob(p string) bool { return strings.ContainsAny(p, "*?[{@") }
