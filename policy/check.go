package policy

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Version is an AppArmor policy language version: what apparmor_parser of
// that version accepts. Check supports 3.0 (Debian 12) and 4.1 (Debian 13,
// Ubuntu 24.04 and later).
type Version struct{ Major, Minor int }

var (
	V3_0 = Version{3, 0}
	V4_1 = Version{4, 1}
)

// DefaultTarget is the target of a file without an abi line that names a
// known ABI: Debian 12's parser, the oldest armorer supports.
var DefaultTarget = V3_0

// ParseVersion parses "3.0" or "4.1" (also "3", "4", "4.0").
func ParseVersion(s string) (Version, error) {
	maj, min, _ := strings.Cut(s, ".")
	a, err1 := strconv.Atoi(maj)
	var err2 error
	if min != "" {
		_, err2 = strconv.Atoi(min)
	}
	if err1 != nil || err2 != nil {
		return Version{}, fmt.Errorf("invalid AppArmor version %q: use 3.0 or 4.1", s)
	}
	switch {
	case a == 3:
		return V3_0, nil
	case a == 4:
		return V4_1, nil
	}
	return Version{}, fmt.Errorf("unsupported AppArmor version %q: armorer checks against 3.0 or 4.1", s)
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// IsZero reports whether v is unset.
func (v Version) IsZero() bool { return v == Version{} }

// Before reports whether v is an earlier version than w.
func (v Version) Before(w Version) bool {
	return v.Major < w.Major || v.Major == w.Major && v.Minor < w.Minor
}

// atLeast4 reports whether the AppArmor 4 language applies.
func (v Version) atLeast4() bool { return v.Major >= 4 }

// TargetOf returns the version a file's abi line selects: abi/4.x means
// 4.1, abi/3.x and the kernel-5.4 ABIs mean 3.0. ok is false without an
// abi line.
func TargetOf(f *File) (v Version, ok bool) {
	for _, r := range f.Rules {
		a, isAbi := r.(*Abi)
		if !isAbi || a.Path == nil {
			continue
		}
		name := a.Path.Value()
		base := name[strings.LastIndexByte(name, '/')+1:]
		switch {
		case strings.HasPrefix(base, "4."):
			return V4_1, true
		case strings.HasPrefix(base, "3.") || strings.HasPrefix(base, "kernel-"):
			return V3_0, true
		}
	}
	return Version{}, false
}

// Severity says whether a diagnostic makes the policy invalid.
type Severity int

const (
	SeverityError   Severity = iota // apparmor_parser would reject the policy
	SeverityWarning                 // valid policy, but worth a look (lint findings)
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one finding of Check, at a position of the load's FileSet.
type Diagnostic struct {
	Pos      token.Position
	Severity Severity
	// Category groups diagnostics: "syntax", "include", "variable",
	// "capability", "exec", "permission", "version", "profile", "rule",
	// or a lint check's ID.
	Category string
	Message  string
}

// String formats d as file:line:col: message (warnings say so).
func (d Diagnostic) String() string {
	prefix := ""
	if d.Severity == SeverityWarning {
		prefix = "warning: "
	}
	if d.Pos.IsValid() || d.Pos.Filename != "" {
		return d.Pos.String() + ": " + prefix + d.Message
	}
	return prefix + d.Message
}

// CheckConfig configures Check.
type CheckConfig struct {
	// Target is the version to check against; zero means the file's abi
	// line, else DefaultTarget, raised to MinTarget.
	Target Version
	// MinTarget is the oldest version a defaulted target may be: the
	// installed apparmor_parser's. A file that declares abi 3.0 on a
	// machine with parser 4.1 is compiled by 4.1, and the abstractions it
	// includes may say abi 4.0.
	MinTarget Version
}

// CheckResult is the outcome of checking one file.
type CheckResult struct {
	File        *File
	Target      Version
	Vars        *Vars
	Diagnostics []Diagnostic // sorted by position
}

// Valid reports whether no diagnostic is an error.
func (r *CheckResult) Valid() bool {
	for _, d := range r.Diagnostics {
		if d.Severity == SeverityError {
			return false
		}
	}
	return true
}

// Errors returns the error diagnostics.
func (r *CheckResult) Errors() []Diagnostic {
	var out []Diagnostic
	for _, d := range r.Diagnostics {
		if d.Severity == SeverityError {
			out = append(out, d)
		}
	}
	return out
}

// CheckFile loads path (or src, when not nil) through l and checks it:
// syntax, includes, variables and the semantics apparmor_parser enforces,
// for cfg.Target. It never fails: every problem is a diagnostic.
func CheckFile(l *Loader, path string, src []byte, cfg CheckConfig) *CheckResult {
	f, err := l.Load(path, src)
	if f == nil {
		res := &CheckResult{Target: cmp.Or(cfg.Target, DefaultTarget), Vars: NewVars()}
		res.Diagnostics = []Diagnostic{{Pos: token.Position{Filename: path}, Category: "io", Message: err.Error()}}
		return res
	}
	c := newChecker(l, f, cfg)
	c.syntaxErrors(err)
	c.run()
	return c.result()
}

// Check checks a file that l has already loaded (syntax errors of the file
// itself are not repeated; use CheckFile to get them too).
func Check(l *Loader, f *File, cfg CheckConfig) *CheckResult {
	c := newChecker(l, f, cfg)
	c.run()
	return c.result()
}

type checker struct {
	l       *Loader
	fset    *token.FileSet
	file    *File
	target  Version
	vars    *Vars
	diags   []Diagnostic
	seen    map[string]bool // de-duplicates diagnostics (shared includes)
	reached map[*File]bool  // files whose syntax errors were reported

	topScope     map[string]bool // files included at the top level
	eofChecked   map[*token.File]bool
	mainReread   bool // the checked file included itself once
	seenProfile  bool
	topProfiles  map[string]token.Pos
	includeStack []string
}

func newChecker(l *Loader, f *File, cfg CheckConfig) *checker {
	if l.Fset == nil {
		l.Fset = token.NewFileSet()
	}
	target := cfg.Target
	if target.IsZero() {
		if v, ok := TargetOf(f); ok {
			target = v
		} else {
			target = DefaultTarget
		}
		if target.Before(cfg.MinTarget) {
			target = cfg.MinTarget
		}
	}
	return &checker{
		l: l, fset: l.Fset, file: f, target: target, vars: NewVars(),
		seen: map[string]bool{}, reached: map[*File]bool{f: true},
		topScope: map[string]bool{}, topProfiles: map[string]token.Pos{}, eofChecked: map[*token.File]bool{},
	}
}

func (c *checker) result() *CheckResult {
	slices.SortStableFunc(c.diags, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Pos.Filename, b.Pos.Filename), cmp.Compare(a.Pos.Offset, b.Pos.Offset))
	})
	return &CheckResult{File: c.file, Target: c.target, Vars: c.vars, Diagnostics: c.diags}
}

func (c *checker) report(sev Severity, pos token.Pos, cat, format string, args ...any) {
	d := Diagnostic{Pos: c.fset.Position(pos), Severity: sev, Category: cat, Message: fmt.Sprintf(format, args...)}
	key := d.String()
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.diags = append(c.diags, d)
}

func (c *checker) errorf(pos token.Pos, cat, format string, args ...any) {
	c.report(SeverityError, pos, cat, format, args...)
}

func (c *checker) warnf(pos token.Pos, cat, format string, args ...any) {
	c.report(SeverityWarning, pos, cat, format, args...)
}

// syntaxErrors turns a ParseFile error into diagnostics.
func (c *checker) syntaxErrors(err error) {
	if err == nil {
		return
	}
	var list ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			d := Diagnostic{Pos: e.Pos, Category: "syntax", Message: e.Msg}
			if !c.seen[d.String()] {
				c.seen[d.String()] = true
				c.diags = append(c.diags, d)
			}
		}
		return
	}
	c.diags = append(c.diags, Diagnostic{Category: "io", Message: err.Error()})
}

func (c *checker) run() {
	c.top(c.file, 0)
}

// Errors returns the error diagnostics so far.
func (c *checker) Errors() []Diagnostic {
	var out []Diagnostic
	for _, d := range c.diags {
		if d.Severity == SeverityError {
			out = append(out, d)
		}
	}
	return out
}

// maxIncludeDepth bounds nested includes; apparmor_parser's de-duplication
// already breaks cycles, this only stops pathological trees.
const maxIncludeDepth = 64

// include resolves inc and returns the files to read, skipping those that
// scope already read: apparmor_parser includes a file once per profile
// (and once at the top level), which also breaks include cycles. A cycle
// is reported as a warning naming the chain.
func (c *checker) include(inc *Include, scope map[string]bool, depth int, inProfile bool) []*File {
	if depth >= maxIncludeDepth {
		c.errorf(inc.Pos(), "include", "includes nested more than %d deep (through %s)", maxIncludeDepth, inc.Path.Raw)
		return nil
	}
	paths, err := c.l.Resolve(inc)
	if err != nil {
		c.errorf(inc.Pos(), "include", "%v", err)
		return nil
	}
	var files []*File
	for _, p := range paths {
		// The file being checked is not in apparmor_parser's include cache:
		// including it reads it once more (its profiles are then defined
		// twice), and only its includes of itself after that are skipped.
		i := slices.IndexFunc(c.includeStack, func(s string) bool { return samePath(s, p) })
		switch {
		case i == 0 && inProfile:
			c.errorf(inc.Pos(), "include", "include %s: a profile that includes the file it is in makes apparmor_parser recurse until it runs out of memory", inc.Path.Raw)
			continue
		case i == 0 && !c.mainReread && !scope[p]:
			c.mainReread = true
		case i >= 0:
			chain := append(slices.Clone(c.includeStack[i:]), p)
			c.warnf(inc.Pos(), "include", "include cycle: %s (apparmor_parser skips the repeated include)", strings.Join(chain, " → "))
			continue
		}
		if scope[p] {
			continue
		}
		scope[p] = true
		f, err := c.l.Load(p, nil)
		if f == nil {
			c.errorf(inc.Pos(), "include", "include %s: %v", inc.Path.Raw, err)
			continue
		}
		if !c.reached[f] {
			c.reached[f] = true
			c.syntaxErrors(err)
		}
		files = append(files, f)
	}
	return files
}

// samePath reports whether two paths name one file (as absolute, clean paths).
func samePath(a, b string) bool {
	if a == b {
		return true
	}
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}

// within runs fn with file path pushed on the include stack.
func (c *checker) within(f *File, fn func()) {
	c.eofComment(f)
	c.includeStack = append(c.includeStack, f.Name)
	fn()
	c.includeStack = c.includeStack[:len(c.includeStack)-1]
}

// eofComment reports a comment on the last line of a file that does not
// end in a newline: apparmor_parser's lexer only takes a comment that a
// newline ends (and #include is a comment there too).
func (c *checker) eofComment(f *File) {
	tf := c.fset.File(f.Pos())
	if tf == nil || c.eofChecked[tf] {
		return
	}
	c.eofChecked[tf] = true
	src := c.l.Source(tf.Name())
	if len(src) == 0 || src[len(src)-1] == '\n' {
		return
	}
	start := bytes.LastIndexByte(src, '\n') + 1
	if off := lastLineComment(src[start:]); off >= 0 {
		c.errorf(tf.Pos(start+off), "syntax", "apparmor_parser does not read a comment that ends the file without a newline: add a newline at the end")
	}
	// An include with no name before the end of the file includes nothing
	// in the file being checked; in an included file, the lexer reads the
	// including file's next word as the name.
	if end := src[len(src)-1]; f != c.file && (end == ' ' || end == '\t') {
		switch strings.Join(strings.Fields(string(src[start:])), " ") {
		case "include", "include if exists", "#include", "#include if exists":
			c.errorf(tf.Pos(start), "include", "include without a file name at the end of an included file: apparmor_parser reads the next word of the including file as the name")
		}
	}
}

// lastLineComment returns the offset of a comment in line, or -1: a '#'
// outside quotes where a token can start (after a blank or a ',', '{',
// '}', ')' or an include's '>'), not inside a word such as /tmp/a#b.
func lastLineComment(line []byte) int {
	inQuote := false
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; {
		case ch == '\\' && inQuote:
			i++
		case ch == '"':
			inQuote = !inQuote
		case ch == '#' && !inQuote && (i == 0 || bytes.IndexByte([]byte(" \t,{}>)"), line[i-1]) >= 0):
			return i
		}
	}
	return -1
}

// top checks the top level of a file: the preamble and its profiles.
func (c *checker) top(f *File, depth int) {
	c.within(f, func() {
		for _, r := range f.Rules {
			c.topRule(r, depth)
		}
	})
}

func (c *checker) topRule(r Rule, depth int) {
	switch r := r.(type) {
	case *CommentBlock, *BadRule:
	case *Abi:
		if c.seenProfile {
			c.errorf(r.Pos(), "syntax", "abi after a profile: the abi line comes first in the file")
		}
		c.abi(r)
	case *Include:
		for _, f := range c.include(r, c.topScope, depth, false) {
			c.top(f, depth+1)
		}
	case *Variable:
		if c.seenProfile {
			c.errorf(r.Pos(), "variable", "variable %s is defined after a profile: move it to the preamble, before the first profile", r.Name.Raw)
		}
		if err := c.vars.Define(r); err != nil {
			c.varError(r.Pos(), err)
		}
		// A '\' continues the value only after a space: glued to a value it
		// is part of it, and the next line is a rule of its own.
		if text, off := c.span(r.Pos(), r.End()); text != nil {
			if i := bytes.Index(text, []byte("\\\n")); i > 0 && !isSpace(text[i-1]) {
				c.errorf(r.Pos()+token.Pos(i), "syntax", "apparmor_parser reads this '\\' as part of the value, not as a line continuation: put a space before it")
			}
			_ = off
		}
	case *Boolean:
		if c.seenProfile {
			c.errorf(r.Pos(), "variable", "boolean %s is defined after a profile: move it to the preamble", r.Name.Raw)
		}
		if err := c.vars.DefineBool(r); err != nil {
			c.varError(r.Pos(), err)
		}
		if r.Line != nil && !c.target.atLeast4() { // 3.0's boolean lexer mode takes no comment
			c.errorf(r.Line.Pos(), "syntax", "apparmor_parser does not read a comment after a boolean's value: put it on its own line")
		}
	case *Alias:
		c.alias(r)
	case *Profile:
		c.seenProfile = true
		c.profile(r, nil, c.topProfiles, 0)
	case *If:
		c.errorf(r.Pos(), "rule", "a conditional must be inside a profile")
	default:
		c.errorf(r.Pos(), "rule", "rule outside a profile: put it inside profile NAME { … }")
	}
}

func (c *checker) varError(pos token.Pos, err error) {
	var ve *VarError
	if errors.As(err, &ve) && ve.Pos.IsValid() {
		pos = ve.Pos
	}
	c.errorf(pos, "variable", "%v", err)
}

func (c *checker) abi(a *Abi) {
	if a.Path == nil {
		c.errorf(a.Pos(), "include", "abi without a file: write abi <abi/3.0>,")
		return
	}
	// The ABIs armorer knows are checked against the target, not looked up:
	// a Debian 12 machine has no abi/4.0 file, yet can check for 4.1.
	if a.Path.Magic() {
		switch a.Path.Value() {
		case "abi/3.0":
			return
		case "abi/4.0":
			if !c.target.atLeast4() {
				c.errorf(a.Path.Pos(), "version", "abi %s needs target 4.1 (apparmor_parser %s ships only <abi/3.0>): use abi <abi/3.0>, or --target 4.1", a.Path.Raw, c.target)
			}
			return
		}
	}
	if !a.Path.Magic() && !strings.HasPrefix(a.Path.Value(), "/") {
		c.errorf(a.Path.Pos(), "include", "abi %s: a quoted or bare abi path is opened as given (relative to the working directory): write abi <%s>,", a.Path.Raw, a.Path.Value())
		return
	}
	paths, err := c.l.Resolve(&Include{Meta: a.Meta, Path: a.Path})
	if err != nil {
		c.errorf(a.Path.Pos(), "include", "abi %s: no such ABI file in the search path (apparmor_parser %s ships %s)", a.Path.Raw, c.target, abiFor(c.target))
		return
	}
	if len(paths) != 1 || !strings.HasSuffix(paths[0], "/"+strings.TrimLeft(a.Path.Value(), "/")) {
		c.errorf(a.Path.Pos(), "include", "abi %s names a directory, not an ABI file", a.Path.Raw)
	}
}

func abiFor(v Version) string {
	if v.atLeast4() {
		return "<abi/3.0> and <abi/4.0>"
	}
	return "<abi/3.0>"
}

func (c *checker) alias(a *Alias) {
	if c.seenProfile {
		c.errorf(a.Pos(), "rule", "alias after a profile: move it to the preamble")
	}
	for _, w := range []*Word{a.Path, a.Target} {
		if w == nil {
			c.errorf(a.Pos(), "rule", "alias needs two paths: alias /from/ -> /to/,")
			return
		}
		// apparmor_parser does not expand variables in aliases.
		if v := w.Value(); !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "@{") {
			c.errorf(w.Pos(), "rule", "alias path %s must be absolute", w.Raw)
		}
	}
}

// profileCtx is the state of one profile (or hat) body being checked.
type profileCtx struct {
	p        *Profile
	scope    map[string]bool      // files included in this profile
	children map[string]token.Pos // child profile and hat names
	execs    []execUse            // file rules with an exec permission, for conflicts
	changes  []execUse            // change_profile rules, for safe/unsafe conflicts
	dead     int                  // inside a conditional branch the parser does not take
	depth    int
}

func (c *checker) profile(p *Profile, parent *profileCtx, siblings map[string]token.Pos, depth int) {
	c.profileHeader(p, parent)
	if p.Name != nil {
		name := strings.TrimPrefix(p.Name.Value(), "^") // hats and children share names
		if prev, dup := siblings[name]; dup {
			c.errorf(p.Name.Pos(), "profile", "profile %s is defined twice (first at %s): rename one", name, c.fset.Position(prev))
		} else {
			siblings[name] = p.Name.Pos()
		}
	}
	ctx := &profileCtx{p: p, scope: map[string]bool{}, children: map[string]token.Pos{}}
	prev := c.vars.profileName
	if p.Name != nil {
		c.vars.SetProfileName(p.Name.Value())
	}
	c.body(p.Body, ctx, Qualifiers{}, depth)
	c.execConflicts(ctx)
	c.vars.SetProfileName(prev)
}

func (c *checker) profileHeader(p *Profile, parent *profileCtx) {
	c.headerComments(p)
	if p.Name == nil {
		c.errorf(p.Pos(), "profile", "profile without a name: write profile NAME {")
		return
	}
	name := p.Name.Value()
	if name == "" {
		c.errorf(p.Name.Pos(), "profile", "empty profile name")
	}
	if p.Keyword == ILLEGAL && !p.IsHat() {
		switch {
		case parent != nil:
			c.errorf(p.Pos(), "profile", "a child profile needs the profile keyword: profile %s {", name)
		case !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, ":") && !strings.HasPrefix(name, "@{"):
			c.errorf(p.Name.Pos(), "profile", "profile names must begin with '/', a namespace ':ns:' or the keyword profile: write profile %s {", name)
		}
	}
	if p.Attach != nil {
		if v := p.Attach.Value(); !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "@{") {
			c.errorf(p.Attach.Pos(), "profile", "profile attachment %s must begin with '/' or a variable: it is the path of the program the profile confines", p.Attach.Raw)
		}
	}
	for _, w := range []*Word{p.Name, p.Attach} {
		if w != nil && strings.Contains(w.Raw, "@{") {
			c.expand(w)
		}
	}
	if p.Flags != nil {
		c.flags(p.Flags)
		if p.Xattrs != nil && p.Xattrs.Pos() > p.Flags.Pos() {
			c.errorf(p.Xattrs.Pos(), "syntax", "xattrs=(…) comes before flags=(…)")
		}
	}
	if p.Xattrs != nil && p.IsHat() {
		c.errorf(p.Xattrs.Pos(), "profile", "hats cannot match on xattrs")
	}
	if strings.HasPrefix(name, ":") && strings.Count(name, ":") < 2 {
		c.errorf(p.Name.Pos(), "profile", "namespace not terminated in %s: write :ns:name", name)
	}
}

func (c *checker) flags(f *Cond) {
	if f.Value == nil || len(f.Value.Words) == 0 {
		c.errorf(f.Pos(), "profile", "empty flags=(): remove it or name a flag such as complain")
		return
	}
	if !f.Value.Paren {
		c.errorf(f.Pos(), "syntax", "flags take parentheses: flags=(%s)", f.Value.Words[0].Raw)
	}
	modes := map[string]bool{}
	set := map[string]*Word{}
	for _, w := range f.Value.Words {
		v := w.Value()
		key, val, hasVal := strings.Cut(v, "=")
		set[key] = w
		switch {
		case profileModes[v]:
			modes[v] = true // repeating one mode is fine
		case profileFlags3[v]:
		case !c.target.atLeast4() && (profileFlags4[v] || hasVal && profileFlags4[key+"="]):
			c.errorf(w.Pos(), "version", "profile flag %s needs AppArmor 4 (target %s)", v, c.target)
		case profileFlags4[v]:
		case hasVal && profileFlags4[key+"="]:
			c.flagValue(w, key, val)
		default:
			c.errorf(w.Pos(), "profile", "unknown profile flag %q (known: complain, enforce, kill, unconfined, audit, attach_disconnected, mediate_deleted, chroot_relative, …)", v)
		}
	}
	if len(modes) > 1 {
		c.errorf(f.Pos(), "profile", "conflicting profile modes in flags: use only one of enforce, complain, kill, unconfined")
	}
	for _, pair := range profileFlagConflicts {
		if a, b := set[pair[0]], set[pair[1]]; a != nil && b != nil && (pair[2] == "" || c.target.atLeast4()) {
			c.errorf(b.Pos(), "profile", "profile flag %s conflicts with %s: keep one", pair[1], pair[0])
		}
	}
}

// profileFlagConflicts are the flags apparmor_parser refuses together; a
// third field "4" marks a conflict only AppArmor 4 has (3.0 lacks the flag).
var profileFlagConflicts = [][3]string{
	{"mediate_deleted", "delegate_deleted", ""}, {"chroot_relative", "namespace_relative", ""},
	{"attach_disconnected", "no_attach_disconnected", ""}, {"chroot_attach", "chroot_no_attach", ""},
	{"prompt", "complain", "4"}, {"default_allow", "enforce", "4"},
}

// errnoNames are the error= values apparmor_parser 4 knows.
var errnoNames = set("EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF", "ECHILD",
	"EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR", "EISDIR",
	"EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE", "EROFS", "EMLINK", "EPIPE",
	"EDOM", "ERANGE")

// flagValue checks error=, kill.signal= and attach_disconnected.path=.
func (c *checker) flagValue(w *Word, key, val string) {
	switch key {
	case "error":
		if !errnoNames[val] {
			c.errorf(w.Pos(), "profile", "error=%s: not an error name such as EPERM or EACCES", val)
		}
	case "kill.signal":
		if !signalNames[val] || val == "exists" {
			c.errorf(w.Pos(), "profile", "kill.signal=%s: not a signal name such as hup or kill", val)
		}
	case "attach_disconnected.path":
		if val != "" && !strings.HasPrefix(val, "/") && !strings.HasPrefix(val, "@{") {
			c.errorf(w.Pos(), "profile", "attach_disconnected.path=%s must begin with /", val)
		}
	}
}

// expand expands the variables of w and reports problems; it returns the
// alternatives (nil on error).
func (c *checker) expand(w *Word) []string {
	return c.expandText(w, w.Value())
}

// expandPattern is expand for a word that is an AARE pattern (see
// Word.Pattern): the escapes of a quoted path stay for the glob check.
func (c *checker) expandPattern(w *Word) []string {
	return c.expandText(w, w.Pattern())
}

func (c *checker) expandText(w *Word, text string) []string {
	vals, err := c.vars.Expand(text)
	if err != nil {
		c.errorf(w.Pos(), "variable", "%v", err)
		return nil
	}
	return vals
}

// body checks the rules of a profile, hat, conditional or qualifier block.
func (c *checker) body(rules []Rule, ctx *profileCtx, q Qualifiers, depth int) {
	for _, r := range rules {
		c.bodyRule(r, ctx, q, depth)
	}
}

func (c *checker) bodyRule(r Rule, ctx *profileCtx, q Qualifiers, depth int) {
	switch r := r.(type) {
	case *CommentBlock, *BadRule:
	case *Abi:
		c.abi(r)
	case *Include:
		for _, f := range c.include(r, ctx.scope, depth, true) {
			c.within(f, func() { c.body(f.Rules, ctx, q, depth+1) })
		}
	case *Variable:
		c.errorf(r.Pos(), "variable", "variable %s is defined inside a profile: variables belong in the preamble, before the profile", r.Name.Raw)
	case *Boolean:
		c.errorf(r.Pos(), "variable", "boolean %s is defined inside a profile: define it in the preamble", r.Name.Raw)
	case *Alias:
		c.errorf(r.Pos(), "rule", "alias inside a profile: aliases belong in the preamble")
	case *Profile:
		if !q.IsZero() {
			c.errorf(r.Pos(), "rule", "qualifiers cannot apply to a profile or hat")
		}
		c.profile(r, ctx, ctx.children, depth)
	case *If:
		c.ifRule(r, ctx, q, depth)
	case *Block:
		c.body(r.Body, ctx, q, depth)
	case *QualBlock:
		if r.Qual.Deny && !c.target.atLeast4() {
			c.errorf(r.Pos(), "version", "a deny { … } block needs AppArmor 4 (target %s): put deny on each rule", c.target)
		}
		if r.Qual.Priority != nil {
			c.priority(r.Qual.Priority)
		}
		c.body(r.Body, ctx, mergeQual(q, r.Qual), depth)
	case *RawRule:
		kw, _, _ := strings.Cut(strings.TrimSpace(r.Text), " ")
		c.errorf(r.Pos(), "rule", "unknown rule %q: not part of the AppArmor %s policy language", kw, c.target)
	default:
		c.lexical(r)
		c.rule(r, ctx, q)
	}
}

func mergeQual(outer, inner Qualifiers) Qualifiers { return inner.Inherit(outer) }

func (c *checker) ifRule(r *If, ctx *profileCtx, q Qualifiers, depth int) {
	taken, known := c.condition(r)
	if known && !taken {
		ctx.dead++
	}
	c.body(r.Body, ctx, q, depth)
	if known && !taken {
		ctx.dead--
	}
	if r.Else != nil {
		if known && taken {
			ctx.dead++
		}
		c.bodyRule(r.Else, ctx, q, depth)
		if known && taken {
			ctx.dead--
		}
	}
}

// condition checks a condition as apparmor_parser 3.0 and 4.1 read it:
// any number of "not", then $BOOL (also ${BOOL}) or defined @{VAR} or
// defined $BOOL; "and", "or" and parentheses are syntax errors in both.
// It returns the condition's value, when known.
func (c *checker) condition(r *If) (value, known bool) {
	ws := r.Cond
	neg := false
	for len(ws) > 0 && ws[0].Raw == "not" {
		neg = !neg
		ws = ws[1:]
	}
	defined := false
	if len(ws) > 0 && ws[0].Raw == "defined" {
		defined = true
		ws = ws[1:]
	}
	if len(ws) != 1 {
		c.errorf(r.Pos(), "rule", "unsupported condition: write if $BOOL, if not $BOOL or if defined @{VAR} (apparmor_parser %s has no and, or or parentheses)", c.target)
		return false, false
	}
	w := ws[0]
	switch {
	case strings.HasPrefix(w.Raw, "$"):
		name := w.Raw[1:]
		if n, ok := strings.CutPrefix(name, "{"); ok && strings.HasSuffix(n, "}") {
			name = n[:len(n)-1]
		}
		v, ok := c.vars.Bool(name)
		if defined {
			if !ok && c.target.atLeast4() {
				c.errorf(w.Pos(), "variable", "if defined %s: boolean %s is not defined, which apparmor_parser %s refuses", w.Raw, w.Raw, c.target)
				return false, false
			}
			return ok != neg, true
		}
		if !ok {
			c.errorf(w.Pos(), "variable", "boolean %s is not defined: define it in the preamble ($%s = true)", w.Raw, name)
			return false, false
		}
		return v != neg, true
	case strings.HasPrefix(w.Raw, "@{") && defined:
		name := strings.TrimSuffix(strings.TrimPrefix(w.Raw, "@{"), "}")
		return c.vars.Defined(name) != neg, true
	default:
		c.errorf(w.Pos(), "rule", "unsupported condition %q: write if $BOOL or if defined @{VAR}", w.Raw)
	}
	return false, false
}
