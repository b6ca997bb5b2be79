package learn

import (
	"regexp"
	"strings"
	"sync"
)

// matcher reports whether an AppArmor pattern matches a concrete path. It
// is used for the guard "a glob never reaches a sensitive path the events
// did not name", where a false "matches" only keeps a rule narrower.
//
// Interim: until policy/aare lands, patterns are translated to Go regular
// expressions with the handful of variables learn itself writes; unknown
// variables match anything (the conservative answer for the guard).
type matcher func(pattern, path string) bool

var globRegexps sync.Map // pattern → *regexp.Regexp

func regexpMatch(pattern, path string) bool {
	v, ok := globRegexps.Load(pattern)
	if !ok {
		v, _ = globRegexps.LoadOrStore(pattern, regexp.MustCompile("^"+globToRegexp(pattern)+"$"))
	}
	return v.(*regexp.Regexp).MatchString(cleanSlashes(path))
}

var knownVars = map[string]string{
	"PROC":      "/proc/",
	"pid":       "[1-9][0-9]*",
	"pids":      "[1-9][0-9]*",
	"tid":       "[1-9][0-9]*",
	"uid":       "[0-9]+",
	"HOME":      "(/home/[^/]+/|/root/)",
	"HOMEDIRS":  "/home/",
	"sys":       "/sys/",
	"run":       "(/run/|/var/run/)",
	"multiarch": "[^/]*-linux-gnu[^/]*",
}

// globToRegexp translates AppArmor glob syntax: ** crosses /, * and ? do
// not, [..] and [^..] are classes, {a,b} alternation, \ escapes.
func globToRegexp(p string) string {
	var b strings.Builder
	depth := 0
	afterDirVar := false // the previous token was a variable ending in "/"
	for i := 0; i < len(p); i++ {
		c := p[i]
		wasDirVar := afterDirVar
		afterDirVar = false
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				b.WriteString(`\[`)
				continue
			}
			cls := p[i+1 : i+j]
			if strings.HasPrefix(cls, "^") {
				cls = "^/" + cls[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(cls, `\`, `\\`) + "]")
			i += j
		case c == '{':
			depth++
			b.WriteString("(?:")
		case c == '}' && depth > 0:
			depth--
			b.WriteString(")")
		case c == ',' && depth > 0:
			b.WriteString("|")
		case c == '@' && i+1 < len(p) && p[i+1] == '{':
			j := strings.IndexByte(p[i:], '}')
			if j < 0 {
				b.WriteString("@")
				continue
			}
			if re, ok := knownVars[p[i+2:i+j]]; ok {
				b.WriteString(re)
				afterDirVar = strings.HasSuffix(re, "/") || strings.HasSuffix(re, "/)")
			} else {
				b.WriteString(".*")
			}
			i += j
		case c == '/':
			if !wasDirVar {
				b.WriteString("/")
			}
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	for ; depth > 0; depth-- {
		b.WriteString(")")
	}
	return b.String()
}

func cleanSlashes(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}
