package learn

import (
	"bytes"
	"cmp"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/lint"
	"github.com/armorer-dev/armorer/policy"
)

// SessionOptions configure one learning run over a profile directory:
// what armorer learn and armorer record do. The zero value of each knob
// is the documented default (--glob safe, --exec cx, abi 3.0, …).
type SessionOptions struct {
	// Dir is the profile directory; Include the include search path
	// (default: Dir).
	Dir     string
	Include []string
	// Options are the learning knobs; WithProfiles completes them from
	// the profile directory.
	Options Options
	// Abstractions names the candidate abstractions (nil:
	// DefaultAbstractions; "all": every abstraction of the search path).
	Abstractions []string
	// Profile, when set, learns only the events of that profile, its
	// children and hats, and stacks that contain it.
	Profile string
	// Merge says how the learned rules go into files.
	Merge MergeOptions
	// Warn receives problems that do not stop learning (unreadable
	// profiles, coverage failures). Nil drops them.
	Warn func(error)
	// Accept grants the findings a human decided (finding.go).
	Accept Accept
}

// Session is a profile directory loaded for learning.
type Session struct {
	opts     SessionOptions
	Profiles *host.ProfileSet
}

// OpenSession loads the profile directory (its problems go to Warn).
func OpenSession(opts SessionOptions) (*Session, error) {
	if opts.Warn == nil {
		opts.Warn = func(error) {}
	}
	pol, err := host.LoadProfileSet(opts.Dir, opts.Include...)
	if err != nil {
		return nil, err
	}
	for _, p := range pol.Problems {
		opts.Warn(p)
	}
	return &Session{opts: opts, Profiles: pol}, nil
}

// SessionResult is what a session learned.
type SessionResult struct {
	Events   int        // events of the profile read (all events without SessionOptions.Profile)
	Profiles []*Profile // the learned profiles, with their findings
	Findings []Finding  // every profile's findings: accesses held back for a human
	Changes  []Change   // the files to write, sorted by path
	// Accounting says what became of each event (the summary and
	// --json print it).
	Accounting Accounting
	// Accept says which findings SessionOptions.Accept granted.
	Accept AcceptResult
}

// Accounting says what became of every event a session read: each is
// counted under one outcome. (An event of a stack a//&b counts once per
// profile of the stack, as each had to allow it.)
type Accounting struct {
	Events int `json:"events"`
	// Learned events are allowed by the learned rules (Rules of them)
	// and chosen includes (Includes).
	Learned  int `json:"learned"`
	Rules    int `json:"rules"`
	Includes int `json:"includes"`
	// Removed rules of the profiles are covered by a learned rule that
	// replaces them (Change.Removed says which).
	Removed int `json:"removed_rules,omitempty"`
	// Allowed events the profile (or an audit rule: apparmor="AUDIT")
	// already allowed.
	Allowed int `json:"already_allowed"`
	// HeldBack events became findings (SessionResult.Findings). An event
	// partly held back and partly learned (r of an rk under /etc) counts
	// here only, the most cautious of its outcomes; PartlyLearned says how
	// many of them are.
	HeldBack      int `json:"held_back"`
	PartlyLearned int `json:"partly_learned,omitempty"`
	// NeedABI counts, per class, events the target ABI cannot express.
	NeedABI map[string]int `json:"not_expressible,omitempty"`
	// Unlearnable counts, per class, events armorer has no rule for.
	Unlearnable map[string]int `json:"unlearnable,omitempty"`
	// NotWritten counts, per profile, events learned into rules that no
	// change writes (a child whose parent has no file here).
	NotWritten map[string]int `json:"not_written,omitempty"`
	// NotAccess records ask for nothing: status, hints, errors, optional
	// capability probes.
	NotAccess int `json:"not_access"`
}

// NothingNew says whether every event is already allowed (or asks for
// nothing): only then is there nothing to learn.
func (a Accounting) NothingNew() bool {
	return a.Learned == 0 && a.HeldBack == 0 && len(a.NeedABI) == 0 && len(a.Unlearnable) == 0 && len(a.NotWritten) == 0
}

// String is the one-line summary for stderr.
func (a Accounting) String() string {
	if a.NothingNew() {
		return fmt.Sprintf("%d events: nothing new to learn (%d already allowed)", a.Events, a.Allowed)
	}
	var parts []string
	if a.Learned > 0 {
		parts = append(parts, fmt.Sprintf("%d learned into %d rules and %d includes", a.Learned, a.Rules, a.Includes))
	}
	switch {
	case a.Removed == 1:
		parts = append(parts, "1 existing rule removed (covered by a learned rule)")
	case a.Removed > 1:
		parts = append(parts, fmt.Sprintf("%d existing rules removed (each covered by a learned rule)", a.Removed))
	}
	if a.Allowed > 0 {
		parts = append(parts, fmt.Sprintf("%d already allowed", a.Allowed))
	}
	if a.HeldBack > 0 {
		held := fmt.Sprintf("%d held back as findings", a.HeldBack)
		if a.PartlyLearned > 0 {
			held += fmt.Sprintf(" (%d of them partly learned)", a.PartlyLearned)
		}
		parts = append(parts, held)
	}
	for _, c := range slices.Sorted(maps.Keys(a.NeedABI)) {
		parts = append(parts, fmt.Sprintf("%d %s not expressible at this abi (use --abi 4.0)", a.NeedABI[c], c))
	}
	for _, c := range slices.Sorted(maps.Keys(a.Unlearnable)) {
		parts = append(parts, fmt.Sprintf("%d of class %s armorer cannot learn", a.Unlearnable[c], c))
	}
	for _, p := range slices.Sorted(maps.Keys(a.NotWritten)) {
		parts = append(parts, fmt.Sprintf("%d learned for %s but not written (no file for it here)", a.NotWritten[p], p))
	}
	if a.NotAccess > 0 {
		parts = append(parts, fmt.Sprintf("%d not accesses", a.NotAccess))
	}
	return fmt.Sprintf("%d events: %s", a.Events, strings.Join(parts, ", "))
}

// count adds the learned profiles' outcomes.
func (a *Accounting) count(profiles []*Profile) {
	for _, p := range profiles {
		a.Allowed += p.Allowed
		a.Learned += p.Included
		a.Includes += len(p.Abstractions)
		a.Rules += len(p.Rules)
		for _, r := range p.Rules {
			a.Learned += r.Evidence.counted()
			a.PartlyLearned += r.Evidence.held
		}
		for _, f := range p.Findings {
			if f.ID == "abi" {
				if a.NeedABI == nil {
					a.NeedABI = map[string]int{}
				}
				a.NeedABI[f.r.Class.String()] += f.Evidence.counted()
				continue
			}
			a.HeldBack += f.Evidence.counted()
		}
	}
}

// notWritten moves the events of learned profiles no change writes from
// Learned to NotWritten: learned but not output is not learned.
func (a *Accounting) notWritten(profiles []*Profile, changes []Change) {
	written := map[string]bool{}
	for _, c := range changes {
		for _, p := range c.Profiles {
			written[p] = true
		}
	}
	for _, p := range profiles {
		if written[p.Name] || (p.Parent != "" && written[p.Parent]) || written[strings.SplitN(p.Name, "//", 2)[0]] {
			continue
		}
		n := p.Included
		for _, r := range p.Rules {
			n += r.Evidence.counted()
		}
		if n == 0 {
			continue
		}
		if a.NotWritten == nil {
			a.NotWritten = map[string]int{}
		}
		a.NotWritten[p.Name] += n
		a.Learned -= n
		a.Rules -= len(p.Rules)
	}
}

// skipped counts an event the Mapper found nothing to learn from.
func (a *Accounting) skipped(ev *auditlog.Event) {
	switch {
	case ev.Kind != auditlog.KindEvent:
		a.NotAccess++
	case ev.Outcome() == auditlog.OutcomeAudit:
		a.Allowed++
	case ev.Outcome() != auditlog.OutcomeAllowed && !ev.Denied():
		a.NotAccess++
	case ev.Class() == auditlog.ClassCap && strings.HasPrefix(ev.String(auditlog.KeyInfo), "optional"):
		a.NotAccess++
	default:
		if a.Unlearnable == nil {
			a.Unlearnable = map[string]int{}
		}
		a.Unlearnable[cmp.Or(string(ev.Class()), ev.String(auditlog.KeyOperation), "unknown")]++
	}
}

// Learn turns the events into rules and merges them into the profile
// directory's files, in memory: the caller previews or writes Changes.
func (s *Session) Learn(events iter.Seq[*source.Event]) (*SessionResult, error) {
	abstractions := s.opts.Abstractions
	if len(abstractions) == 1 && abstractions[0] == "all" {
		abstractions = s.Profiles.AbstractionNames()
	}
	l := New(WithProfiles(s.opts.Options, s.Profiles, abstractions, s.opts.Warn))
	res := &SessionResult{}
	var a Access
	m := &l.ids // Add finds labels and paths by the numbers it gives them
	for ev := range events {
		if s.opts.Profile != "" && !auditlog.LabelMatches(string(ev.Label()), s.opts.Profile) {
			continue
		}
		res.Events++
		if m.Map(ev.Event, ev.Source, ev.Line(), &a) {
			l.Add(&a)
		} else {
			res.Accounting.skipped(ev.Event)
		}
	}
	profiles, err := l.finish()
	if err != nil {
		return nil, err
	}
	res.Accept = s.opts.Accept.apply(profiles)
	s.selfCheck(profiles, l.opts.ABI)
	res.Profiles = profiles
	res.Accounting.Events = res.Events
	res.Accounting.count(profiles)
	n := 0
	for _, p := range profiles {
		n += len(p.Findings)
	}
	if n > 0 {
		res.Findings = make([]Finding, 0, n)
	}
	for _, p := range profiles {
		res.Findings = append(res.Findings, p.Findings...)
	}
	if res.Changes, err = Merge(s.Profiles, profiles, s.opts.Merge); err != nil {
		return nil, err
	}
	res.Accounting.notWritten(profiles, res.Changes)
	for _, c := range res.Changes {
		res.Accounting.Removed += len(c.Removed)
	}
	return res, nil
}

// selfCheck turns every learned rule policy.Check rejects at the ABI into
// a finding, so that learn never writes a profile the compiler refuses.
// The profiles are checked together, in one file (one pass over the
// tunables, not one per profile); only a profile with errors is checked
// rule by rule, to find the culprits.
func (s *Session) selfCheck(profiles []*Profile, abi string) {
	var checked []*Profile
	for _, p := range profiles {
		if p.Name == "unconfined" {
			// Not a profile: the events name a program that needs one
			// (on Ubuntu, unprivileged_userns lines say which needs userns,).
			for _, r := range p.Rules {
				p.Findings = append(p.Findings, Finding{Profile: p.Name, Rule: r.Node, Evidence: r.Evidence, ID: "unconfined",
					Severity: lint.SeverityMedium, Reason: "an unconfined program needs this; give it a profile with the rule (armorer new)",
					r: rule{Class: ClassUnknown, Path: ruleText(r.Node)}})
			}
			p.Rules = nil
			continue
		}
		if len(p.Rules) > 0 {
			checked = append(checked, p)
		}
	}
	l := s.checkLoader()
	// In files of selfCheckBatch profiles: one pass over the tunables per
	// file, and not the whole output's syntax tree at once. A profile of
	// plain rules (plainRule) is checked as its syntax tree, which is what
	// the printer writes; the others, and each batch with errors (to find
	// the profiles that hold them), as the printed text.
	bad := map[*Profile]bool{}
	var plain, text []*Profile
	for _, p := range checked {
		if plainProfile(p) {
			plain = append(plain, p)
		} else {
			text = append(text, p)
		}
	}
	for i := 0; i < len(plain); i += selfCheckBatch {
		batch := plain[i:min(i+selfCheckBatch, len(plain))]
		if treeErrors(l, abi, batch) {
			text = append(text, batch...)
		}
	}
	for i := 0; i < len(text); i += selfCheckBatch {
		batch := text[i:min(i+selfCheckBatch, len(text))]
		for j, b := range profileErrors(l, abi, batch) {
			if b {
				bad[batch[j]] = true
			}
		}
	}
	for _, p := range checked {
		if !bad[p] {
			continue
		}
		kept := p.Rules[:0]
		for _, r := range p.Rules {
			errs := ruleErrors(l, abi, r)
			if len(errs) == 0 {
				kept = append(kept, r)
				continue
			}
			p.Findings = append(p.Findings, invalidFinding(p.Name, r, errs))
		}
		p.Rules = kept
	}
}

// invalidFinding holds back a rule the checker rejects. A relative file
// path is the kernel's disconnected-path form: allowing it takes
// flags=(attach_disconnected), a decision for a human; the proposed rule
// is the attached path.
func invalidFinding(profile string, r Learned, errs []string) Finding {
	f := Finding{Profile: profile, Rule: r.Node, Evidence: r.Evidence, ID: "invalid-rule", Severity: lint.SeverityMedium,
		Reason: "armorer's checker rejects the learned rule: " + strings.Join(errs, "; ")}
	if fr, ok := r.Node.(*policy.FileRule); ok && fr.Path != nil && !strings.HasPrefix(fr.Path.Value(), "/") && !strings.HasPrefix(fr.Path.Value(), "@") {
		name := fr.Path.Value()
		if isHexName(name) {
			f.ID = "unreadable-name"
			f.Reason = "the kernel logged a name that is neither a path nor valid hex; nothing can be learned from it"
		} else {
			attached := *fr
			attached.Path = word("/" + strings.TrimPrefix(name, "\""))
			if strings.HasPrefix(name, "\"") {
				attached.Path = word("/" + EscapeLiteral(strings.Trim(name, "\"")))
			}
			f.Rule = &attached
			f.ID = "disconnected-path"
			f.Reason = "the kernel could not name the file from the root (disconnected path " + name +
				"); the rule allows it only with flags=(attach_disconnected) on the profile"
		}
	}
	f.r = rule{Class: ClassFile, Path: ruleText(f.Rule)}
	return f
}

// isHexName says whether a name looks like an undecoded hex value (the
// kernel's encoding, of odd length when truncated).
func isHexName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789ABCDEFabcdef", rune(s[i])) {
			return false
		}
	}
	return true
}

// selfCheckBatch is how many profiles selfCheck checks in one file.
const selfCheckBatch = 256

// checkLoader is the loader self-checks use: the session's include path,
// so that the tunables are read once.
func (s *Session) checkLoader() *policy.Loader {
	if len(s.opts.Include) == 0 {
		return policy.NewLoader(s.opts.Dir)
	}
	return policy.NewLoader(s.opts.Include...)
}

// selfCheckHeader starts a self-check file: the variables learned rules
// use (@{PROC}, @{HOME}) are the tunables'.
func selfCheckHeader(b *bytes.Buffer, abi string) {
	fmt.Fprintf(b, "abi <abi/%s>,\ninclude if exists <tunables/global>\n", abi)
}

// profileErrors checks each profile's rules in a profile of its own, all
// in one file, and says which profiles have errors. An error no profile's
// lines hold counts against all of them (each is then checked alone).
func profileErrors(l *policy.Loader, abi string, profiles []*Profile) []bool {
	bad := make([]bool, len(profiles))
	if len(profiles) == 0 {
		return bad
	}
	var b bytes.Buffer
	selfCheckHeader(&b, abi)
	lines := 1 + bytes.Count(b.Bytes(), []byte("\n")) // the line the next profile starts on
	first := make([]int, len(profiles))               // each profile's first line
	for i, p := range profiles {
		prof := &policy.Profile{Keyword: policy.PROFILE, Name: policy.NewWord("selfcheck" + strconv.Itoa(i))}
		for _, r := range p.Rules {
			prof.Body = append(prof.Body, r.Node)
		}
		n := b.Len()
		if err := policy.Format(&b, nil, &policy.File{Rules: []policy.Rule{prof}}); err != nil {
			bad[i] = true
			b.Truncate(n)
			continue
		}
		first[i] = lines
		lines += bytes.Count(b.Bytes()[n:], []byte("\n"))
	}
	for _, d := range checkErrors(l, b.Bytes()) {
		// The profile whose lines hold the error: the last that starts at
		// or before it.
		i, found := slices.BinarySearch(first, d.Pos.Line)
		if !found {
			i--
		}
		if i < 0 || d.Pos.Line <= 0 || d.Pos.Filename != "learned" {
			for i := range bad {
				bad[i] = true
			}
			return bad
		}
		bad[i] = true
	}
	return bad
}

// treeErrors checks the profiles' syntax trees in one file, as
// profileErrors checks their text, and says whether there are errors.
func treeErrors(l *policy.Loader, abi string, profiles []*Profile) bool {
	f := &policy.File{Name: "learned", Rules: []policy.Rule{
		&policy.Abi{Path: policy.NewWord("<abi/" + abi + ">")},
		&policy.Include{IfExists: true, Path: policy.NewWord("<tunables/global>")},
	}}
	for i, p := range profiles {
		prof := &policy.Profile{Keyword: policy.PROFILE, Name: policy.NewWord("selfcheck" + strconv.Itoa(i))}
		prof.Body = make([]policy.Rule, len(p.Rules))
		for j, r := range p.Rules {
			prof.Body[j] = r.Node
		}
		f.Rules = append(f.Rules, prof)
	}
	for _, d := range policy.Check(l, f, policy.CheckConfig{}).Diagnostics {
		if d.Severity == policy.SeverityError && d.Category != "io" && d.Category != "include" {
			return true
		}
	}
	return false
}

// plainProfile says whether every rule of p is plain (plainRule).
func plainProfile(p *Profile) bool {
	for _, r := range p.Rules {
		if !plainRule(r.Node) {
			return false
		}
	}
	return true
}

// plainRule says whether the printed rule parses back to the same tree,
// so that policy.Check says of the tree what it says of the text: the
// rule carries no comment, and each word is one the policy lexer reads
// as one word, the same, wherever it stands (plainWord); a file rule's
// path (inside its quotes) is absolute or starts with a variable.
func plainRule(n policy.Rule) bool {
	if fr, ok := n.(*policy.FileRule); ok {
		if fr.Path == nil {
			return false
		}
		if p := strings.TrimPrefix(fr.Path.Raw, `"`); !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "@{") {
			return false
		}
		// Most learned rules: their words without policy.Inspect's walk.
		if fr.Doc != nil || fr.Line != nil {
			return false
		}
		for _, w := range [...]*policy.Word{fr.Qual.Priority, fr.Path, fr.Perms, fr.Target} {
			if w != nil && !plainWord(w.Raw) {
				return false
			}
		}
		return true
	}
	plain := true
	policy.Inspect(n, func(x policy.Node) bool {
		switch x := x.(type) {
		case *policy.Word:
			plain = plain && plainWord(x.Raw)
		case *policy.Comment, *policy.CommentGroup:
			plain = false
		}
		return plain
	})
	return plain
}

// plainWord: letters, digits, bytes of UTF-8 sequences and
// /._-@:*?[]{}^%~+& only, braces balanced and not first, no "->": none
// of the characters that quote, escape, separate or comment in the
// policy syntax. Or a quoted word (as word quotes one) that the lexer
// reads to its last quote, as its quoted strings: a backslash takes the
// byte after it, and no control character, nor a quote that is not
// escaped, comes before the end.
func plainWord(s string) bool {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		i := 1
		for i < len(s)-1 {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				c = s[i]
			} else if c == '"' {
				return false
			}
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
		}
		return i == len(s)-1
	}
	if s == "" || s[0] == '{' || strings.Contains(s, "->") {
		return false
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c >= 0x80:
		case strings.IndexByte("/._-@:*?[]^%~+&", c) >= 0:
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				return false
			}
			depth--
		default:
			return false
		}
	}
	return depth == 0
}

// ruleErrors checks rules in a profile of their own at the ABI and
// returns the checker's error messages.
func ruleErrors(l *policy.Loader, abi string, rules ...Learned) []string {
	prof := &policy.Profile{Keyword: policy.PROFILE, Name: policy.NewWord("selfcheck")}
	for _, r := range rules {
		prof.Body = append(prof.Body, r.Node)
	}
	var b bytes.Buffer
	selfCheckHeader(&b, abi)
	if err := policy.Format(&b, nil, &policy.File{Rules: []policy.Rule{prof}}); err != nil {
		return []string{err.Error()}
	}
	var errs []string
	for _, d := range checkErrors(l, b.Bytes()) {
		errs = append(errs, d.Message)
	}
	return errs
}

// checkErrors checks a self-check file and returns its errors (not those
// of reading the tunables).
func checkErrors(l *policy.Loader, src []byte) []policy.Diagnostic {
	var errs []policy.Diagnostic
	for _, d := range policy.CheckFile(l, "learned", src, policy.CheckConfig{}).Diagnostics {
		if d.Severity == policy.SeverityError && d.Category != "io" && d.Category != "include" {
			errs = append(errs, d)
		}
	}
	return errs
}
