package learn

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// execString spells a learned exec transition as a rule does ("ix",
// "Px", "Cx"): learn writes only these, with the environment scrubbed.
func execString(k aare.ExecKind) string {
	switch k {
	case aare.ExecInherit:
		return "ix"
	case aare.ExecProfile:
		return "Px"
	case aare.ExecChild:
		return "Cx"
	}
	return ""
}

// ParseExecMode reads "ix", "px"/"Px", "cx"/"Cx".
func ParseExecMode(s string) (aare.ExecKind, error) {
	switch strings.ToLower(s) {
	case "ix", "inherit":
		return aare.ExecInherit, nil
	case "px", "profile":
		return aare.ExecProfile, nil
	case "cx", "child":
		return aare.ExecChild, nil
	}
	return aare.ExecNone, fmt.Errorf("exec mode %q: want ix, px or cx (never ux)", s)
}

// rule is a rule being learned, flat so that accesses merge cheaply; it
// leaves learn as a policy AST node (node). Only the fields of its Class
// are set.
type rule struct {
	Class Class

	// File rules.
	Owner      bool
	Path       string // an AppArmor pattern
	Perms      aare.Perm
	Exec       aare.ExecKind // when Perms has PermExec
	ExecTarget string        // Cx/Px -> target name, "" for the default

	Capability string

	// Network and unix rules.
	Family, SockType string
	Addr, PeerAddr   string

	// Signal, ptrace, unix, dbus: permissions (sorted), signals (sorted),
	// peer label.
	Mask    []string
	Signals []string
	Peer    string

	// DBus rules.
	// Name is the bus name a bind rule owns (name=); PeerName the
	// message peer's (peer=(name=…)).
	Bus, DBusPath, Interface, Member, PeerName, Name string

	// Mount rules: Path is the mount point.
	FSType, Options, Source string

	// Mqueue rules: "sysv" or "" (POSIX); Path is the queue name.
	MqType string

	// ChangeProfile: the target profile.
	Target string

	Evidence Evidence
	// Glob says, for a glob that replaced several observed names, why
	// and which (--explain); nil for a rule that names what it saw.
	Glob *Globbed

	// escaped: the non-file names are patterns already (collapsePeers),
	// node writes them as they are; replaced are the observed names a
	// collapsed name stands for.
	escaped  bool
	replaced []string
}

// Learned is a learned rule: the policy AST node that allows what was
// observed, and the events it stands for.
type Learned struct {
	Node     policy.Rule
	Evidence Evidence
	// Glob says why a glob replaced the observed names, and which; nil
	// for a rule that names what was observed.
	Glob *Globbed
}

// Globbed is why a learned glob replaced observed names, and which.
type Globbed struct {
	Why      string   // "digit run", "siblings", "data directory", "content tree", "subtree"
	Replaced []string // the observed names (literal patterns), sorted; the profile's own rules marked
	// Owner: the glob is owner, because every path it replaced was
	// (every event on them had fsuid == ouid).
	Owner bool
}

// String is the --explain line: "glob (digit run) replaces /dev/hidraw0,
// /dev/hidraw1".
func (g *Globbed) String() string {
	const show = 8
	list := strings.Join(g.Replaced[:min(len(g.Replaced), show)], ", ")
	if len(g.Replaced) > show {
		list += fmt.Sprintf(", … (%d paths)", len(g.Replaced))
	}
	s := fmt.Sprintf("glob (%s) replaces %s", g.Why, list)
	if g.Owner {
		s += "; owner: each was the process's own (fsuid == ouid on every event)"
	}
	return s
}

// Explained returns the node with its evidence as the doc comment (what
// --explain writes above each learned rule), and for a glob the names it
// replaced.
func (l Learned) Explained() policy.Rule {
	var lines []string
	if l.Evidence.Count > 0 {
		lines = append(lines, l.Evidence.Comment())
	}
	if l.Glob != nil {
		lines = append(lines, l.Glob.String())
	}
	if len(lines) > 0 {
		setDoc(l.Node, lines...)
	}
	return l.Node
}

func (l Learned) node(explain bool) policy.Rule {
	if explain {
		return l.Explained()
	}
	return l.Node
}

// Evidence says which events a rule stands for.
type Evidence struct {
	Count       int
	First, Last time.Time
	// Examples are up to MaxExamples distinct concrete objects (paths,
	// peers) the rule allows, sorted.
	Examples []string
	// Lines are up to MaxExamples event locations, sorted.
	Lines []Location
	// held of the Count events are counted already by a finding: the
	// rest of their access was held back (r of an rk under /etc). The
	// accounting counts each event once, under its most cautious outcome.
	held int
}

// counted is how many of the events the accounting counts here.
func (e Evidence) counted() int { return e.Count - e.held }

// heldBack marks all the events as counted by a finding already.
func (e Evidence) heldBack() Evidence {
	e.held = e.Count
	return e
}

// MaxExamples bounds Evidence.Examples and Evidence.Lines.
const MaxExamples = 3

// Add counts one more access; example is the concrete object it names
// ("" for none).
func (e *Evidence) Add(a *Access, example string) {
	e.Count++
	widen(&e.First, &e.Last, a.Time, a.Time)
	e.Examples = addBounded(e.Examples, example, strings.Compare)
	if a.Loc != (Location{}) {
		e.Lines = addBounded(e.Lines, a.Loc, compareLocations)
	}
}

func (e *Evidence) merge(o Evidence) {
	e.Count += o.Count
	e.held += o.held
	widen(&e.First, &e.Last, o.First, o.Last)
	e.Examples = mergeBounded(e.Examples, o.Examples, strings.Compare)
	e.Lines = mergeBounded(e.Lines, o.Lines, compareLocations)
}

// mergeBounded is addBounded of each of t (sorted, distinct, as
// addBounded keeps them) to s, in one merge: s itself when t adds
// nothing, else a new array.
func mergeBounded[T comparable](s, t []T, compare func(a, b T) int) []T {
	if len(t) == 0 {
		return s
	}
	if len(s) == 0 && len(t) <= MaxExamples {
		return t[:len(t):len(t)] // addBounded copies t's values into a new array: the same values
	}
	var out []T
	i, j := 0, 0
	var zero T
	for len(out) < MaxExamples && (i < len(s) || j < len(t)) {
		var v T
		switch {
		case j == len(t):
			v, i = s[i], i+1
		case i == len(s):
			v, j = t[j], j+1
		default:
			switch c := compare(s[i], t[j]); {
			case c < 0:
				v, i = s[i], i+1
			case c > 0:
				v, j = t[j], j+1
			default:
				v, i, j = s[i], i+1, j+1
			}
		}
		if v == zero {
			continue
		}
		if out == nil {
			out = make([]T, 0, min(MaxExamples, len(s)+len(t)))
		}
		out = append(out, v)
	}
	if slices.Equal(out, s) {
		return s
	}
	return out
}

// widen extends the time window [*first, *last] to take in [from, to];
// a zero time is no time (an event without a timestamp).
func widen(first, last *time.Time, from, to time.Time) {
	if !from.IsZero() && (first.IsZero() || from.Before(*first)) {
		*first = from
	}
	if to.After(*last) {
		*last = to
	}
}

// addBounded keeps the MaxExamples smallest distinct values, sorted, so
// evidence does not depend on event order. It never writes into s's
// array: copies of an Evidence (a finding's, the rule entry's that goes
// on to merge) share it.
func addBounded[T comparable](s []T, v T, compare func(a, b T) int) []T {
	var zero T
	if v == zero {
		return s
	}
	i, found := slices.BinarySearchFunc(s, v, compare)
	if found || (len(s) >= MaxExamples && i >= MaxExamples) {
		return s
	}
	s = slices.Insert(s[:len(s):len(s)], i, v)
	if len(s) > MaxExamples {
		s = s[:MaxExamples]
	}
	return s
}

// Comment is the --explain evidence for a rule: how many events, when,
// and examples.
func (e Evidence) Comment() string {
	var b strings.Builder
	fmt.Fprintf(&b, "learned from %d event", e.Count)
	if e.Count != 1 {
		b.WriteByte('s')
	}
	if !e.First.IsZero() {
		const layout = "2006-01-02T15:04:05Z"
		first, last := e.First.UTC().Format(layout), e.Last.UTC().Format(layout)
		if first == last {
			fmt.Fprintf(&b, " at %s", first)
		} else {
			fmt.Fprintf(&b, ", %s to %s", first, last)
		}
	}
	if len(e.Examples) > 0 {
		fmt.Fprintf(&b, "; e.g. %s", strings.Join(e.Examples, ", "))
	}
	return b.String()
}

// String is the rule in profile syntax, as the printer writes it: for
// messages, keys and ordering.
func (r rule) String() string { return ruleText(r.node()) }

// ruleText prints one rule node on one line.
func ruleText(n policy.Rule) string {
	var b bytes.Buffer
	if err := policy.Format(&b, nil, n); err != nil {
		return fmt.Sprintf("# %v", err)
	}
	return strings.TrimSpace(b.String())
}

// filePerms spells a file rule's permissions with its exec mode: "mr",
// "rw", "mrix", "Px".
func (r rule) filePerms() string {
	s := permString(r.Perms &^ aare.PermExec)
	if r.Perms&aare.PermExec != 0 {
		s += execString(r.Exec)
	}
	return s
}

// classOrder is the order rules of each class appear in a profile
// (indexed by Class; 0 for an unknown class).
var classOrder = func() (o [256]int) {
	for i, c := range []Class{ClassCapability, ClassNetwork, ClassUnix, ClassSignal, ClassPtrace, ClassDBus,
		ClassMount, ClassUmount, ClassPivotRoot, ClassChangeProfile, ClassUserns, ClassIOUring, ClassMqueue, ClassFile} {
		o[c] = i + 1
	}
	return o
}()

// compareRules orders rules for output: by class, then by their text
// (a file rule by its path first).
func compareRules(a, b rule) int {
	if c := classOrder[a.Class] - classOrder[b.Class]; c != 0 {
		return c
	}
	if a.Class == ClassFile && a.Path != b.Path {
		return strings.Compare(a.Path, b.Path)
	}
	return strings.Compare(a.String(), b.String())
}

// ruleOrder returns the indexes of n rules in compareRules' order (then
// by tie, when not nil): rule(i) is the i-th rule and text(i) its
// String, asked at most once per rule and only when needed (formatting
// a rule builds and prints its AST).
func ruleOrder(n int, ruleOf func(i int) *rule, text func(i int) string, tie func(i, j int) int) []int {
	type key struct {
		ord  int
		file bool
		path string
	}
	keys := make([]key, n)
	for i := range keys {
		r := ruleOf(i)
		keys[i] = key{ord: classOrder[r.Class], file: r.Class == ClassFile, path: r.Path}
	}
	texts := make([]string, n)
	done := make([]bool, n)
	textOf := func(i int) string {
		if !done[i] {
			texts[i], done[i] = text(i), true
		}
		return texts[i]
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int {
		a, b := &keys[i], &keys[j]
		c := a.ord - b.ord
		if c == 0 {
			if a.file && a.path != b.path {
				c = strings.Compare(a.path, b.path)
			} else {
				c = strings.Compare(textOf(i), textOf(j))
			}
		}
		if c == 0 && tie != nil {
			c = tie(i, j)
		}
		return c
	})
	return idx
}

// sortFindings sorts a profile's findings by their rules (compareRules),
// then by ID.
func sortFindings(fs []Finding) {
	idx := ruleOrder(len(fs), func(i int) *rule { return &fs[i].r }, func(i int) string {
		if fs[i].textOf != nil {
			return fs[i].text // newFinding's: ruleText(r.node())
		}
		return fs[i].r.String()
	}, func(i, j int) int { return strings.Compare(fs[i].ID, fs[j].ID) })
	sorted := make([]Finding, len(fs))
	for k, i := range idx {
		sorted[k] = fs[i]
	}
	copy(fs, sorted)
}

// learnedSorted builds the learned rules, in compareRules' order.
func learnedSorted(rules []rule) []Learned {
	built := make([]Learned, len(rules))
	for i := range rules {
		built[i] = rules[i].learned()
	}
	idx := ruleOrder(len(rules), func(i int) *rule { return &rules[i] }, func(i int) string { return ruleText(built[i].Node) }, nil)
	out := make([]Learned, len(rules))
	for k, i := range idx {
		out[k] = built[i]
	}
	return out
}
