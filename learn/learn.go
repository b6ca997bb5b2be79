package learn

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/armorer-dev/armorer/lint"
	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// DefaultSiblings is how many distinct names in one directory, with the
// same permissions, make learn write dir/* instead (--siblings).
const DefaultSiblings = 4

// Options are learn's policy knobs. The zero value is the documented
// default: --glob safe, --siblings 4, abi 3.0, Cx for foreign helpers,
// sensitive accesses held back.
type Options struct {
	Glob GlobMode
	// NoPermUnion keeps siblings with different permissions apart
	// (--perm-union=false); by default they merge into one rule with the
	// union of their permissions.
	NoPermUnion bool
	// Siblings is the sibling threshold (0: DefaultSiblings; negative:
	// never glob siblings).
	Siblings int
	// MinDigits and MinHex are the lengths from which a digit run inside
	// a name, or a hex name, counts as variable (0: DefaultMinDigits,
	// DefaultMinHex).
	MinDigits, MinHex int
	// ABI is the target policy ABI, "3.0" (default) or "4.0". Rules the
	// ABI cannot express become findings.
	ABI string
	// AllowSensitive writes sensitive rules instead of holding them back
	// as findings.
	AllowSensitive bool
	// DefaultExec is the transition for an executable that is neither in
	// the application's own tree nor has a profile: aare.ExecChild (default)
	// or aare.ExecInherit. Never unconfined.
	DefaultExec aare.ExecKind
	// AppTree returns the application's own directory for a profile (for
	// example /opt/myapp/ for /opt/myapp/bin/myapp); helpers inside it
	// inherit (ix). nil or "" means none.
	AppTree func(profile string) string
	// ProfileFor returns the name of an existing profile that attaches to
	// an executable; execs of it become Px.
	ProfileFor func(executable string) (string, bool)

	// Vars are the variables patterns may use (defaultVars when nil).
	Vars map[string][]string

	// MinAbstraction is how many distinct observed accesses a candidate
	// abstraction must cover to be included (0: DefaultMinAbstraction).
	MinAbstraction int

	// Filled by WithProfiles: what a profile already allows (nil:
	// nothing, a new profile), and the abstractions learn may choose
	// from (those that grant nothing sensitive).
	existing     func(profile string) coverer
	abstractions []candidate
}

// DefaultMinAbstraction is how many distinct observed accesses an
// abstraction must cover to be included (--abstraction-min).
const DefaultMinAbstraction = 3

// candidate is an abstraction learn may include.
type candidate struct {
	Name string // "abstractions/nameservice"
	Cov  coverer
	// Unsafe, if set, says what sensitive thing the abstraction grants;
	// such a candidate is never chosen.
	Unsafe func() (string, bool)
}

func (l *Learner) thresholds() thresholds {
	return thresholds{minDigits: l.opts.MinDigits, minHex: l.opts.MinHex}
}

func (o *Options) siblings() int {
	if o.Siblings == 0 {
		return DefaultSiblings
	}
	return o.Siblings
}

// Finding is an observed access learn did not turn into a rule: a human
// has to decide (sensitive), or the target ABI cannot say it.
type Finding struct {
	Profile  string
	Rule     policy.Rule // the rule that would allow the access
	Evidence Evidence
	ID       string // the lint table's ID ("etc-shadow", "capability", "abi", …)
	Severity lint.Severity
	Reason   string

	r rule // for ordering
	// text is ruleText(textOf), made once with the node: sorting, the
	// key and the message all need it. RuleText uses it only while Rule
	// is still textOf (a caller may set another Rule).
	text   string
	textOf policy.Rule
}

func newFinding(profile string, r rule, id string, sev lint.Severity, why string) Finding {
	n := r.node()
	return Finding{Profile: profile, Rule: n, Evidence: r.Evidence, ID: id, Severity: sev, Reason: why, r: r, text: ruleText(n), textOf: n}
}

func (f Finding) String() string {
	return string(f.appendText(nil, f.RuleText()))
}

// appendText appends String's text, the rule's text given.
func (f *Finding) appendText(b []byte, rule string) []byte {
	b = append(b, f.Profile...)
	b = append(b, ": "...)
	b = append(b, rule...)
	b = append(b, " ["...)
	b = append(b, f.ID...)
	b = append(b, ", "...)
	b = append(b, f.Severity.String()...)
	b = append(b, "]: "...)
	b = append(b, f.Reason...)
	if ev := f.Evidence; ev.Count > 0 {
		b = append(b, " ("...)
		b = strconv.AppendInt(b, int64(ev.Count), 10)
		b = append(b, " event"...)
		if ev.Count != 1 {
			b = append(b, 's')
		}
		if len(ev.Lines) > 0 {
			b = append(b, ", e.g. "...)
			b = append(b, ev.Lines[0].String()...)
		}
		b = append(b, ')')
	}
	return b
}

// Profile is what was learned for one profile: its rules (sorted) and the
// findings held back. Name is the full label; a child profile
// ("myapp//helper") has Parent set, and is nested in Parent's block.
type Profile struct {
	Name         string
	Parent       string
	Abstractions []Abstraction // chosen includes, in the order chosen
	Rules        []Learned
	Findings     []Finding
	// Allowed counts the events the existing profile already allowed;
	// Included those the chosen abstractions allow.
	Allowed, Included int
}

// ExecConflictError reports an executable that the events or the policy
// send through two different transitions in one profile.
type ExecConflictError struct {
	Profile, Path string
	Modes         []string
}

func (e *ExecConflictError) Error() string {
	return fmt.Sprintf("profile %s: conflicting exec modes for %s: %s; decide one in the profile (for example with --exec) and learn again",
		e.Profile, e.Path, strings.Join(e.Modes, " and "))
}

// Learner accumulates accesses. It is not safe for concurrent use.
type Learner struct {
	opts   Options
	labels map[string]*labelAcc
	key    []byte // Add's buffer for appendOtherKey
	m      *matcher

	// ids numbers the labels and paths Add sees (Session.Learn maps
	// events with it, so that Add finds them by number); byID is each
	// label's record by its number; srcs numbers the events' sources.
	ids  Mapper
	byID []*labelAcc
	srcs sources

	unsafeMemo map[string]bool
	// guardMemo: the sensitive guard's answers without named paths.
	// Profiles of one log generalise to the same patterns
	// (@{PROC}/@{pid}/stat, libraries), and each answer is a walk of the
	// pattern's tree through an automaton. (Those with a profile's named
	// paths are its own: no two profiles of the 1M corpus share them.)
	guardMemo map[guardKey]bool
	// globTrees: the parse trees of learned globs with variables, which
	// profiles of one log share (collapser.matchesAll), up to maxGlobTrees.
	globTrees map[string]*aare.Node
	// exampleMemo: lint.Witness per (pattern, entry ID), no paths excepted.
	exampleMemo map[[2]string]exampleAnswer
	// peerCovers: collapsePeers' answers to which name pattern covers
	// which (dropCoveredRules).
	peerCovers coverMemo
}

// anyPath is lint.AnyPath (cheaper than a memo of it: most of a log's
// paths are asked about once).
func (l *Learner) anyPath(p string) bool { return lint.AnyPath(p) }

// guardKey is a question to the guard: a pattern, with the kinds of
// permissions the sensitive table tells apart (lint.Sensitivity).
type guardKey struct {
	pattern string
	perms   aare.Perm
}

// labelAcc is everything seen under one raw label.
type labelAcc struct {
	// files indexes seen by the path's number (Learner.ids): one
	// compact, pointer-free record per distinct path, which the garbage
	// collector need not scan.
	files map[uint32]int32
	seen  []fileSeen
	// linkTo is, by record (seen's index), a sensitive file an event
	// hard-linked the path to.
	linkTo map[int32]string
	// others: the non-file accesses by their key (appendAccessKey's,
	// which ruleOfKey makes their rule from).
	others map[string]*otherSeen
	// execTargets: executable → labels the kernel moved to (null- ones
	// excluded).
	execTargets map[string]map[string]bool
}

// fileSeen is what the events of one label said about one path, kept
// compact while a log is read (a log has a record per distinct access
// and label): the evidence's one example is the path itself.
// fileAccOf makes the fileAcc that profiles are computed from.
type fileSeen struct {
	tally
	path  uint32 // the path's number (Learner.ids)
	perms aare.Perm
	owned bool // every event had fsuid == ouid
}

// add counts one more access of the path, as Evidence.Add does.
func (f *fileSeen) add(a *Access, srcs *sources) {
	f.perms = normal(f.perms | a.Perms)
	f.owned = f.owned && a.Owner
	f.tally.add(a, srcs)
}

// otherSeen is what the events of one label said about one non-file
// access: its rule is the key it is kept under (ruleOfKey), its evidence
// a tally and the examples.
type otherSeen struct {
	tally
	// mask and sigs are the permissions and signals seen, sorted (a few
	// words: a slice, not a map per rule); examples are Evidence's.
	mask, sigs, examples []string
}

// tally is Evidence without its examples, pointer-free so that the
// garbage collector need not scan a log's records: the count, the time
// window, and the locations with their sources by number (Learner.srcs).
type tally struct {
	count int
	// first and last are the time window: seconds since year 1 (zero:
	// no time yet, as time.Time's zero) and nanoseconds.
	firstSec, lastSec   int64
	firstNsec, lastNsec int32
	// lines and srcs are the nlines smallest locations, sorted.
	lines  [MaxExamples]int64
	srcs   [MaxExamples]uint32
	nlines uint8
}

// zeroUnix is time.Time{}.Unix(): tally counts seconds from it, so
// that its zero value is no time.
const zeroUnix = -62135596800

// add counts one more access, as Evidence.Add does.
func (t *tally) add(a *Access, srcs *sources) {
	t.count++
	if !a.Time.IsZero() {
		// widen, on the tally's numbers (instants compare as time.Time's
		// Before and After do without a monotonic reading).
		sec, nsec := a.Time.Unix()-zeroUnix, int32(a.Time.Nanosecond())
		if (t.firstSec == 0 && t.firstNsec == 0) || sec < t.firstSec || (sec == t.firstSec && nsec < t.firstNsec) {
			t.firstSec, t.firstNsec = sec, nsec
		}
		if sec > t.lastSec || (sec == t.lastSec && nsec > t.lastNsec) {
			t.lastSec, t.lastNsec = sec, nsec
		}
	}
	if a.Loc == (Location{}) {
		return
	}
	src := srcs.id(a.Loc.Source)
	n := int(t.nlines)
	if n == MaxExamples && t.compareLine(n-1, a.Loc, src, srcs) <= 0 {
		return // the common case: a later line of the same log
	}
	i, found := 0, false
	for ; i < n; i++ {
		if c := t.compareLine(i, a.Loc, src, srcs); c >= 0 {
			found = c == 0
			break
		}
	}
	if found {
		return
	}
	if n < MaxExamples {
		n++
		t.nlines++
	}
	copy(t.lines[i+1:n], t.lines[i:n-1])
	copy(t.srcs[i+1:n], t.srcs[i:n-1])
	t.lines[i], t.srcs[i] = a.Loc.Line, src
}

// compareLine compares the tally's i-th location with loc, whose
// source is number src: compareLocations(lines[i], loc).
func (t *tally) compareLine(i int, loc Location, src uint32, srcs *sources) int {
	if t.srcs[i] != src {
		return strings.Compare(srcs.names[t.srcs[i]], loc.Source)
	}
	return cmp.Compare(t.lines[i], loc.Line)
}

// evidence is the Evidence the tally counted, without examples.
func (t *tally) evidence(srcs *sources) Evidence {
	ev := Evidence{Count: t.count}
	if t.firstSec != 0 || t.firstNsec != 0 {
		ev.First = time.Unix(t.firstSec+zeroUnix, int64(t.firstNsec)).UTC()
	}
	if t.lastSec != 0 || t.lastNsec != 0 {
		ev.Last = time.Unix(t.lastSec+zeroUnix, int64(t.lastNsec)).UTC()
	}
	if t.nlines > 0 {
		ev.Lines = make([]Location, t.nlines)
		for j := range ev.Lines {
			ev.Lines[j] = Location{Source: srcs.names[t.srcs[j]], Line: t.lines[j]}
		}
	}
	return ev
}

// sources numbers the sources of event locations, for fileSeen.
type sources struct {
	names []string
	ids   map[string]uint32
	// last and lastID: the previous call's (a log is one source).
	last   string
	lastID uint32
	ok     bool
}

func (s *sources) id(name string) uint32 {
	if s.ok && name == s.last {
		return s.lastID
	}
	id, found := s.ids[name]
	if !found {
		if s.ids == nil {
			s.ids = map[string]uint32{}
		}
		id = uint32(len(s.names))
		s.names = append(s.names, name)
		s.ids[name] = id
	}
	s.last, s.lastID, s.ok = name, id, true
	return id
}

// fileAccOf is the path and fileAcc of a label's i-th record, with its
// evidence as Evidence.Add would have counted it.
func (l *Learner) fileAccOf(la *labelAcc, i int32) (string, *fileAcc) {
	f := &la.seen[i]
	path := l.ids.names.strs[f.path]
	ev := f.evidence(&l.srcs)
	if path != "" {
		ev.Examples = []string{path}
	}
	return path, &fileAcc{perms: f.perms, owned: f.owned, evidence: ev, linkTo: la.linkTo[i]}
}

type fileAcc struct {
	perms    aare.Perm
	owned    bool // every event had fsuid == ouid
	exec     aare.ExecKind
	evidence Evidence
	// linkTo is a sensitive file an event hard-linked this path to: the
	// link would reach that file's content under a harmless name.
	linkTo string
}

// otherAcc is a non-file rule being folded into a profile.
type otherAcc struct {
	rule rule
	// mask and sigs are the permissions and signals seen, sorted (a few
	// words: a slice, not a map per rule).
	mask, sigs []string
}

// New returns a Learner with the given options.
func New(opts Options) *Learner {
	if opts.DefaultExec == aare.ExecNone {
		opts.DefaultExec = aare.ExecChild
	}
	if opts.ABI == "" {
		opts.ABI = "3.0"
	}
	return &Learner{opts: opts, labels: map[string]*labelAcc{}, m: newMatcher(opts.Vars), unsafeMemo: map[string]bool{}}
}

// Add records one access. It keeps nothing of a itself (strings are
// shared, slices copied), so the caller may reuse a.
func (l *Learner) Add(a *Access) {
	if a.Profile == "" || a.Class == ClassUnknown {
		return
	}
	if strings.Contains(a.Profile, "//&") {
		// A stack (a//&b): each of its profiles had to allow the access.
		label := a.Profile
		for part := range strings.SplitSeq(label, "//&") {
			a.Profile = strings.TrimPrefix(part, ":")
			l.Add(a)
		}
		a.Profile = label
		return
	}
	la := l.label(a)
	if a.Class == ClassFile {
		if a.Path == "" || a.Perms == 0 {
			return
		}
		id := l.ids.nameID(a.by, a.pathID, a.Path)
		i, ok := la.files[id]
		if !ok {
			i = int32(len(la.seen))
			la.seen = append(la.seen, fileSeen{path: id, owned: true})
			la.files[id] = i
		}
		f := &la.seen[i]
		f.add(a, &l.srcs)
		if a.Perms&aare.PermLink != 0 && a.Target != "" && la.linkTo[i] == "" && lint.AnyPath(a.Target) {
			if la.linkTo == nil {
				la.linkTo = map[int32]string{}
			}
			la.linkTo[i] = a.Target
		}
		if a.Perms&aare.PermExec != 0 && a.Target != "" && !strings.Contains(a.Target, "//null-") {
			t := la.execTargets[a.Path]
			if t == nil {
				t = map[string]bool{}
				la.execTargets[a.Path] = t
			}
			t[a.Target] = true
		}
		return
	}
	l.key = appendAccessKey(l.key[:0], a)
	o := la.others[string(l.key)]
	if o == nil {
		o = &otherSeen{}
		la.others[string(l.key)] = o
	}
	for _, m := range a.Mask {
		o.mask = addSorted(o.mask, m)
	}
	if a.Signal != "" {
		o.sigs = addSorted(o.sigs, a.Signal)
	}
	o.tally.add(a, &l.srcs)
	o.examples = addBounded(o.examples, exampleFor(a), strings.Compare)
}

// label is the record of a's label, found by its number.
func (l *Learner) label(a *Access) *labelAcc {
	id := l.ids.labelID(a.by, a.profileID, a.Profile)
	if int(id) < len(l.byID) && l.byID[id] != nil {
		return l.byID[id]
	}
	name := l.ids.labels.strs[id]
	la := l.labels[name]
	if la == nil {
		la = &labelAcc{files: map[uint32]int32{}, others: map[string]*otherSeen{}, execTargets: map[string]map[string]bool{}}
		l.labels[name] = la
	}
	if int(id) >= len(l.byID) {
		l.byID = append(l.byID, make([]*labelAcc, int(id)+1-len(l.byID))...)
	}
	l.byID[id] = la
	return la
}

// addSorted inserts v into the sorted set s.
func addSorted(s []string, v string) []string {
	if len(s) <= 8 && slices.Contains(s, v) {
		return s // the usual case, cheaper than a search: a few words, most interned
	}
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

// appendAccessKey appends the key of the non-file rule ruleFor(a) makes
// without building it: the class and the fields ruleFor sets for it
// (every field, as appendOtherKey, for dbus and the classes without any),
// so that two accesses have one key exactly when ruleFor gives them the
// same key fields.
func appendAccessKey(b []byte, a *Access) []byte {
	switch a.Class {
	case ClassCapability:
		return appendKey(b, a.Class, a.Capability)
	case ClassNetwork:
		return appendKey(b, a.Class, a.Family, a.SockType)
	case ClassUnix:
		return appendKey(b, a.Class, a.SockType, unixAddr(a.Addr), unixAddr(a.PeerAddr))
	case ClassSignal, ClassPtrace, ClassIOUring:
		return appendKey(b, a.Class, a.Peer)
	case ClassMount:
		return appendKey(b, a.Class, a.FSType, a.Flags, a.Source, a.Path)
	case ClassUmount, ClassPivotRoot:
		return appendKey(b, a.Class, a.Path)
	case ClassMqueue:
		return appendKey(b, a.Class, a.Path, a.MqType)
	case ClassChangeProfile:
		return appendKey(b, a.Class, a.Target)
	}
	r := ruleFor(a)
	return appendOtherKey(b, &r)
}

// ruleOfKey is the rule whose key appendAccessKey made: ruleFor's,
// without building it from an access again.
func ruleOfKey(k string) rule {
	r := rule{Class: Class(k[0])}
	k = k[1:]
	next := func() string { // a uvarint length, then the field
		n, shift := 0, 0
		for {
			c := k[0]
			k = k[1:]
			n |= int(c&0x7f) << shift
			if c < 0x80 {
				break
			}
			shift += 7
		}
		v := k[:n]
		k = k[n:]
		return v
	}
	switch r.Class {
	case ClassCapability:
		r.Capability = next()
	case ClassNetwork:
		r.Family, r.SockType = next(), next()
	case ClassUnix:
		r.SockType, r.Addr, r.PeerAddr = next(), next(), next()
	case ClassSignal, ClassPtrace, ClassIOUring:
		r.Peer = next()
	case ClassMount:
		r.FSType, r.Options, r.Source, r.Path = next(), next(), next(), next()
	case ClassUmount, ClassPivotRoot:
		r.Path = next()
	case ClassMqueue:
		r.Path, r.MqType = next(), next()
	case ClassChangeProfile:
		r.Target = next()
	default: // appendOtherKey's fields, in its order
		for _, f := range []*string{&r.Capability, &r.Family, &r.SockType, &r.Addr, &r.PeerAddr, &r.Peer, &r.Bus, &r.DBusPath,
			&r.Interface, &r.Member, &r.PeerName, &r.Name, &r.MqType, &r.FSType, &r.Options, &r.Source, &r.Path, &r.Target} {
			*f = next()
		}
	}
	return r
}

// appendKey appends a class and fields, each length-prefixed.
func appendKey(b []byte, c Class, fields ...string) []byte {
	b = append(b, byte(c))
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// appendOtherKey appends the key of a non-file rule (ruleFor's)
// without its mask and signals (which merge): its class and fields, each
// length-prefixed, in a buffer Add reuses, so that Add neither formats
// nor allocates to find the rule (nor hashes a struct of 19 strings).
func appendOtherKey(b []byte, r *rule) []byte {
	return appendKey(b, r.Class, r.Capability, r.Family, r.SockType, r.Addr, r.PeerAddr, r.Peer, r.Bus, r.DBusPath,
		r.Interface, r.Member, r.PeerName, r.Name, r.MqType, r.FSType, r.Options, r.Source, r.Path, r.Target)
}

// otherKey identifies a non-file rule without its mask and signals, as
// a comparable struct (mergeSameRules' key; Add's is appendOtherKey's).
type otherKey struct {
	class                                        Class
	capability, family, sockType, addr, peerAddr string
	peer, bus, dbusPath, iface, member, peerName string
	name, mqType                                 string
	fsType, options, source, path, target        string
}

func keyOf(r *rule) otherKey {
	return otherKey{r.Class, r.Capability, r.Family, r.SockType, r.Addr, r.PeerAddr, r.Peer, r.Bus, r.DBusPath,
		r.Interface, r.Member, r.PeerName, r.Name, r.MqType, r.FSType, r.Options, r.Source, r.Path, r.Target}
}

// ruleFor builds the rule for a non-file access, without its mask and
// signal (which are merged across events with the same key).
func ruleFor(a *Access) rule {
	r := rule{Class: a.Class}
	switch a.Class {
	case ClassCapability:
		r.Capability = a.Capability
	case ClassNetwork:
		r.Family, r.SockType = a.Family, a.SockType
	case ClassUnix:
		r.SockType, r.Addr, r.PeerAddr = a.SockType, unixAddr(a.Addr), unixAddr(a.PeerAddr)
	case ClassSignal, ClassPtrace:
		r.Peer = a.Peer
	case ClassDBus:
		dbusRule(&r, a)
	case ClassMount:
		r.FSType, r.Options, r.Source, r.Path = a.FSType, a.Flags, a.Source, a.Path
	case ClassUmount, ClassPivotRoot:
		r.Path = a.Path
	case ClassMqueue:
		r.Path, r.MqType = a.Path, a.MqType
	case ClassIOUring:
		r.Peer = a.Peer
	case ClassChangeProfile:
		r.Target = a.Target
	}
	return r
}

// dbusRule sets the conditionals a dbus rule with the access's
// permissions may carry (policy.DbusCondAllowed, the checker's table):
// bind owns a name (the event's name=), eavesdrop says only the bus,
// messages name their peer's bus name in peer=(name=…).
func dbusRule(r *rule, a *Access) {
	ok := func(key string) bool {
		for _, m := range a.Mask {
			if !policy.DbusCondAllowed(m, key) {
				return false
			}
		}
		return true
	}
	pick := func(key, v string) string {
		if ok(key) {
			return v
		}
		return ""
	}
	r.Bus = pick("bus", a.Bus)
	r.DBusPath = pick("path", a.DBusPath)
	r.Interface = pick("interface", a.Interface)
	r.Member = pick("member", a.Member)
	r.Name = pick("name", a.PeerName)
	r.PeerName = pick("peer", a.PeerName)
}

// accessRule is the rule that allows exactly one access: a file path as
// logged (exec as ix), or the non-file rule with the access's permissions
// and signal.
func accessRule(a *Access) rule {
	if a.Class == ClassFile {
		r := rule{Class: ClassFile, Path: EscapeLiteral(a.Path), Perms: a.Perms}
		if a.Perms&aare.PermExec != 0 {
			r.Exec = aare.ExecInherit
		}
		return r
	}
	r := ruleFor(a)
	r.Mask = slices.Clone(a.Mask)
	slices.Sort(r.Mask)
	if a.Signal != "" {
		r.Signals = []string{a.Signal}
	}
	return r
}

// AccessRule is the policy rule that allows exactly one access (what
// simulate reports for a denial).
func AccessRule(a *Access) policy.Rule { return accessRule(a).node() }

// unixAddr keeps abstract addresses (@name) for a unix rule. The kernel's
// "none" (unnamed) and filesystem paths are dropped: a unix rule's addr
// takes only abstract names (apparmor_parser rejects a path there), and a
// socket file is mediated by file rules on its path.
func unixAddr(s string) string {
	if !strings.HasPrefix(s, "@") {
		return ""
	}
	return s
}

func exampleFor(a *Access) string {
	switch a.Class {
	case ClassSignal, ClassPtrace:
		return a.Peer
	case ClassUnix:
		return a.PeerAddr
	case ClassDBus:
		return a.Member
	}
	return ""
}

// Result computes the learned profiles, sorted by name. It can be called
// more than once; the Learner is not changed.
func (l *Learner) Result() ([]*Profile, error) { return l.result(false) }

// finish is Result for a Learner that is done: each label's accesses are
// let go once folded into its profile, and each profile's once its rules
// are made, so that a large log's accesses are not held twice (the peak
// of a run). The Learner cannot give a result again.
func (l *Learner) finish() ([]*Profile, error) { return l.result(true) }

// eprof is an effective profile: the raw labels whose accesses it
// holds (sorted), folded into files and others when its rules are made.
type eprof struct {
	labels []string
	parent string
	files  map[string]*fileAcc
	others map[otherKey]*otherAcc
}

// fold merges the accesses of ep's raw labels into ep.files and
// ep.others; consume lets each label's go.
func (l *Learner) fold(r *resolver, name string, ep *eprof, consume bool) error {
	nfiles, nothers := 0, 0
	for _, label := range ep.labels {
		nfiles += len(l.labels[label].files)
		nothers += len(l.labels[label].others)
	}
	ep.files, ep.others = make(map[string]*fileAcc, nfiles), make(map[otherKey]*otherAcc, nothers)
	for _, label := range ep.labels {
		la := l.labels[label]
		// In seen's order: merging is order-free (permissions and masks
		// are unions, evidence keeps the smallest examples), and result
		// decided every transition, and found any conflict, in order.
		for i := range la.seen {
			p, f := l.fileAccOf(la, int32(i))
			if f.perms&aare.PermExec != 0 {
				d, err := r.decide(label, p)
				if err != nil {
					return err
				}
				f.exec = d.mode
			}
			if g := ep.files[p]; g != nil {
				if g.exec != f.exec && g.exec != aare.ExecNone && f.exec != aare.ExecNone {
					return &ExecConflictError{Profile: name, Path: p, Modes: []string{execString(g.exec), execString(f.exec)}}
				}
				g.perms = normal(g.perms | f.perms)
				g.owned = g.owned && f.owned
				g.exec = max(g.exec, f.exec)
				g.evidence.merge(f.evidence)
				g.linkTo = cmp.Or(g.linkTo, f.linkTo)
			} else {
				ep.files[p] = f
			}
		}
		for k, seen := range la.others {
			o := &otherAcc{rule: ruleOfKey(k), mask: seen.mask, sigs: seen.sigs}
			o.rule.Evidence = seen.evidence(&l.srcs)
			o.rule.Evidence.Examples = seen.examples
			rule := o.rule
			if rule.Peer != "" {
				if peer, _, err := r.resolve(rule.Peer); err == nil && peer != rule.Peer {
					rule.Peer = peer
				}
			}
			key := keyOf(&rule)
			g := ep.others[key]
			if g == nil && consume {
				o.rule = rule
				ep.others[key] = o
				continue
			}
			if g == nil {
				g = &otherAcc{rule: rule}
				g.rule.Evidence = Evidence{}
				ep.others[key] = g
			}
			for _, m := range o.mask {
				g.mask = addSorted(g.mask, m)
			}
			for _, sig := range o.sigs {
				g.sigs = addSorted(g.sigs, sig)
			}
			g.rule.Evidence.merge(o.rule.Evidence)
		}
		if consume {
			la.files, la.seen, la.others = nil, nil, nil // execTargets stay: later labels' decisions read them
		}
	}
	return nil
}

func (l *Learner) result(consume bool) ([]*Profile, error) {
	r := &resolver{l: l, eff: map[string]string{}, decided: map[[2]string]decision{}}
	// Resolve every raw label to its effective profile and decide every
	// exec transition first, in the order folding meets them (labels
	// sorted, then paths): the same decisions, and the same first error.
	// The accesses themselves are folded one profile at a time, when its
	// rules are made, so that they stay compact until then.
	effs := map[string]*eprof{}
	type execKey struct{ profile, path string }
	execs := map[execKey]aare.ExecKind{}
	for _, label := range slices.Sorted(maps.Keys(l.labels)) {
		la := l.labels[label]
		name, parent, err := r.resolve(label)
		if err != nil {
			return nil, err
		}
		ep := effs[name]
		if ep == nil {
			ep = &eprof{parent: parent}
			effs[name] = ep
		}
		ep.labels = append(ep.labels, label)
		var bins []string
		for i := range la.seen {
			if la.seen[i].perms&aare.PermExec != 0 {
				bins = append(bins, l.ids.names.strs[la.seen[i].path])
			}
		}
		slices.Sort(bins)
		for _, p := range bins {
			d, err := r.decide(label, p)
			if err != nil {
				return nil, err
			}
			k := execKey{name, p}
			g, ok := execs[k]
			if ok && g != d.mode && g != aare.ExecNone && d.mode != aare.ExecNone {
				return nil, &ExecConflictError{Profile: name, Path: p, Modes: []string{execString(g), execString(d.mode)}}
			}
			execs[k] = max(g, d.mode)
		}
		// Peers are resolved as folding does (which may decide
		// transitions: the children made below).
		for k := range la.others {
			if peer := ruleOfKey(k).Peer; peer != "" {
				r.resolve(peer)
			}
		}
	}
	// Cx children get an exec rule's target name even when they logged
	// nothing themselves; make sure the child profile exists.
	for key, d := range r.decided {
		if d.mode == aare.ExecChild {
			parent, _, _ := r.resolve(key[0])
			name := parent + "//" + d.target
			if effs[name] == nil {
				effs[name] = &eprof{parent: parent}
			}
		}
	}

	var out []*Profile
	for _, name := range slices.Sorted(maps.Keys(effs)) {
		ep := effs[name]
		if consume {
			effs[name] = nil
		}
		if err := l.fold(r, name, ep, consume); err != nil {
			return nil, err
		}
		p := &Profile{Name: name, Parent: ep.parent}
		others := l.otherRulesOf(ep.others)
		var cov coverer
		if l.opts.existing != nil {
			cov = l.opts.existing(name)
		}
		files := l.uncovered(p, cov, ep.files, &others)
		l.chooseAbstractions(p, files, &others)
		others = l.collapsePeers(p.Name, others, cov)
		var rules []rule
		if err := l.fileRules(p, &rules, files, r, cov); err != nil {
			return nil, err
		}
		l.otherRules(p, &rules, others)
		if len(rules) > 0 {
			p.Rules = learnedSorted(rules)
		}
		sortFindings(p.Findings)
		out = append(out, p)
	}
	return out, nil
}

// decision is the exec transition chosen for one executable.
type decision struct {
	mode   aare.ExecKind
	target string // child name for Cx, profile name for Px
}

type resolver struct {
	l       *Learner
	eff     map[string]string
	decided map[[2]string]decision
	depth   int
	byBin   map[[2]string][][2]string // decided's keys by executable and effective profile (targetOf)
	indexed int                       // len(decided) when byBin was built
}

// resolve maps a raw label to the profile its accesses belong to, folding
// complain mode's learning children ("app//null-/usr/bin/helper") into the
// parent (ix), a child profile (Cx) or the target's own profile (Px).
func (r *resolver) resolve(label string) (name, parent string, err error) {
	i := strings.LastIndex(label, "//null-")
	if i < 0 {
		if j := strings.LastIndex(label, "//"); j >= 0 {
			return label, label[:j], nil
		}
		return label, "", nil
	}
	if r.depth > 32 {
		return "", "", fmt.Errorf("label %q: too many nested null- profiles", label)
	}
	r.depth++
	defer func() { r.depth-- }()
	rawParent, bin := label[:i], label[i+len("//null-"):]
	effParent, effGrand, err := r.resolve(rawParent)
	if err != nil {
		return "", "", err
	}
	d, err := r.decide(rawParent, bin)
	if err != nil {
		return "", "", err
	}
	switch d.mode {
	case aare.ExecInherit:
		return effParent, effGrand, nil
	case aare.ExecChild:
		return effParent + "//" + d.target, effParent, nil
	default: // aare.ExecProfile
		return d.target, "", nil
	}
}

// decide chooses the exec transition for bin executed under rawLabel:
// what the kernel did when the events show a real transition; otherwise
// Px when a profile attaches to bin, ix inside the application's own
// tree, else Options.DefaultExec.
func (r *resolver) decide(rawLabel, bin string) (decision, error) {
	key := [2]string{rawLabel, bin}
	if d, ok := r.decided[key]; ok {
		return d, nil
	}
	effParent, _, err := r.resolve(rawLabel)
	if err != nil {
		return decision{}, err
	}
	var observed []decision
	if la := r.l.labels[rawLabel]; la != nil {
		for _, t := range slices.Sorted(maps.Keys(la.execTargets[bin])) {
			switch {
			case t == rawLabel || t == effParent:
				observed = append(observed, decision{mode: aare.ExecInherit})
			case strings.HasPrefix(t, effParent+"//"):
				observed = append(observed, decision{mode: aare.ExecChild, target: t[len(effParent)+2:]})
			case t == "unconfined":
				return decision{}, &ExecConflictError{Profile: effParent, Path: bin,
					Modes: []string{"unconfined (ux) in the events", "never ux by policy"}}
			default:
				observed = append(observed, decision{mode: aare.ExecProfile, target: t})
			}
		}
	}
	observed = slices.Compact(observed)
	if ex, ok := r.l.existingExec(effParent, bin); ok {
		observed = slices.Compact(append(observed, ex))
		if len(observed) > 1 {
			var modes []string
			for _, o := range observed {
				modes = append(modes, strings.TrimSpace(execString(o.mode)+" "+o.target))
			}
			return decision{}, &ExecConflictError{Profile: effParent, Path: bin,
				Modes: append(modes[:len(modes)-1], modes[len(modes)-1]+" (the profile's rule)")}
		}
	}
	var d decision
	switch {
	case len(observed) > 1:
		var modes []string
		for _, o := range observed {
			modes = append(modes, strings.TrimSpace(execString(o.mode)+" "+o.target))
		}
		return decision{}, &ExecConflictError{Profile: effParent, Path: bin, Modes: modes}
	case len(observed) == 1:
		d = observed[0]
	default:
		d = r.l.policyExec(effParent, bin)
	}
	r.decided[key] = d
	return d, nil
}

// execRuler is implemented by a coverer that knows the exec transition
// its rules give an executable; learn follows it rather than its policy.
type execRuler interface {
	execFor(executable string) (mode aare.ExecKind, target string, ok bool)
}

// existingExec is the transition the existing profile already gives bin.
func (l *Learner) existingExec(profile, bin string) (decision, bool) {
	if l.opts.existing == nil {
		return decision{}, false
	}
	er, ok := l.opts.existing(profile).(execRuler)
	if !ok {
		return decision{}, false
	}
	mode, target, ok := er.execFor(bin)
	if !ok {
		return decision{}, false
	}
	switch mode {
	case aare.ExecChild:
		if target == "" {
			target = childName(bin)
		}
	case aare.ExecProfile:
		if target == "" {
			if l.opts.ProfileFor != nil {
				if name, ok := l.opts.ProfileFor(bin); ok {
					target = name
				}
			}
		}
	}
	return decision{mode: mode, target: target}, true
}

func (l *Learner) policyExec(profile, bin string) decision {
	if l.opts.ProfileFor != nil {
		if name, ok := l.opts.ProfileFor(bin); ok && name != profile {
			return decision{mode: aare.ExecProfile, target: name}
		}
	}
	if l.opts.AppTree != nil {
		root := strings.SplitN(profile, "//", 2)[0]
		if tree := l.opts.AppTree(root); tree != "" && strings.HasPrefix(bin, strings.TrimSuffix(tree, "/")+"/") {
			return decision{mode: aare.ExecInherit}
		}
	}
	if l.opts.DefaultExec == aare.ExecInherit {
		return decision{mode: aare.ExecInherit}
	}
	return decision{mode: aare.ExecChild, target: childName(bin)}
}

// childName names the child profile for an executable: its base name.
func childName(bin string) string {
	b := path.Base(bin)
	if b == "." || b == "/" || b == "" {
		return "child"
	}
	return b
}

// otherRulesOf finishes the non-file rules: masks and signals sorted,
// the rules in the order of their text without them. A rule's text starts
// with its class's keyword (ruleKeyword), none a prefix of another: rules
// of different classes are ordered by it, and only rules of one class are
// formatted to be compared.
func (l *Learner) otherRulesOf(others map[otherKey]*otherAcc) []rule {
	out := make([]rule, 0, len(others))
	for _, o := range others {
		rule := o.rule
		rule.Mask = slices.Clone(o.mask)
		rule.Signals = slices.Clone(o.sigs)
		out = append(out, rule)
	}
	kws := make([]string, len(out))
	for i := range out {
		kws[i] = ruleKeyword(out[i].Class)
	}
	texts := make([]string, len(out))
	textOf := func(i int) string {
		if texts[i] == "" {
			r := out[i]
			r.Mask, r.Signals = nil, nil
			texts[i] = r.String()
		}
		return texts[i]
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int {
		if kws[i] != kws[j] && kws[i] != "" && kws[j] != "" {
			return strings.Compare(kws[i], kws[j])
		}
		return strings.Compare(textOf(i), textOf(j))
	})
	sorted := make([]rule, len(out))
	for k, i := range idx {
		sorted[k] = out[i]
	}
	return sorted
}

// ruleKeyword is the keyword the text of a non-file rule of class c
// starts with, followed by a space or its comma; "" when unknown.
func ruleKeyword(c Class) string {
	switch c {
	case ClassCapability:
		return "capability"
	case ClassNetwork:
		return "network"
	case ClassUnix:
		return "unix"
	case ClassSignal:
		return "signal"
	case ClassPtrace:
		return "ptrace"
	case ClassDBus:
		return "dbus"
	case ClassMount:
		return "mount"
	case ClassUmount:
		return "umount"
	case ClassPivotRoot:
		return "pivot_root"
	case ClassChangeProfile:
		return "change_profile"
	case ClassUserns:
		return "userns"
	case ClassIOUring:
		return "io_uring"
	case ClassMqueue:
		return "mqueue"
	}
	return ""
}

// uncovered drops what the existing profile already allows: whole
// non-file rules, and file permissions per path.
func (l *Learner) uncovered(prof *Profile, cov coverer, files map[string]*fileAcc, others *[]rule) map[string]*fileAcc {
	if cov == nil {
		return files
	}
	*others = slices.DeleteFunc(*others, func(r rule) bool {
		if c, ok := cov.(*Coverage); ok && keepsOwnRule(r) && !c.networkDirect(r) {
			return false // allowed by an abstraction only: keep the rule
		}
		if cov.coversRule(r) {
			prof.Allowed += r.Evidence.counted()
			return true
		}
		return false
	})
	out := map[string]*fileAcc{}
	for p, f := range files {
		missing := cov.MissingFile(p, f.perms, f.owned)
		if missing == 0 {
			prof.Allowed += f.evidence.counted()
			continue
		}
		g := *f
		g.perms = missing
		out[p] = &g
	}
	return out
}

// chooseAbstractions includes, greedily, the candidate that makes the
// most learned rules unnecessary (ties: by name), while that is at least
// the minimum; and removes what it covers. A rule counts once however many
// concrete paths it stands for (a thousand temp files are one rule), so an
// abstraction is chosen for the variety of what it covers. A candidate
// that grants something sensitive is skipped when it would be chosen.
func (l *Learner) chooseAbstractions(p *Profile, files map[string]*fileAcc, others *[]rule) {
	min := l.opts.MinAbstraction
	if min <= 0 {
		min = DefaultMinAbstraction
	}
	if len(l.opts.abstractions) == 0 {
		return
	}
	// The rule each access would become, and what each candidate covers
	// (evaluated once: coverage checks are the expensive part).
	paths := slices.Sorted(maps.Keys(files))
	ruleOf := make([]string, len(paths))
	for i, path := range paths {
		ruleOf[i] = EscapeLiteral(path)
		if l.opts.Glob != GlobNone {
			ruleOf[i], _ = generaliseWith(path, files[path].perms, l.thresholds())
		}
	}
	type cover struct {
		files  []bool
		others []bool
	}
	covers := make([]cover, len(l.opts.abstractions))
	for ci, c := range l.opts.abstractions {
		cv := cover{files: make([]bool, len(paths)), others: make([]bool, len(*others))}
		for i, path := range paths {
			f := files[path]
			cv.files[i] = c.Cov.MissingFile(path, f.perms, f.owned) == 0
		}
		for i, r := range *others {
			cv.others[i] = !keepsOwnRule(r) && c.Cov.coversRule(r)
		}
		covers[ci] = cv
	}
	removedF := make([]bool, len(paths))
	removedO := make([]bool, len(*others))
	used := make([]bool, len(l.opts.abstractions))
	for {
		best, bestN := -1, 0
		for ci, c := range l.opts.abstractions {
			if used[ci] {
				continue
			}
			// Rules all of whose remaining accesses the candidate covers.
			full := map[string]bool{}
			for i := range paths {
				if removedF[i] {
					continue
				}
				if v, seen := full[ruleOf[i]]; !seen || v {
					full[ruleOf[i]] = covers[ci].files[i]
				}
			}
			n := 0
			for _, v := range full {
				if v {
					n++
				}
			}
			for i := range covers[ci].others {
				if !removedO[i] && covers[ci].others[i] {
					n++
				}
			}
			if n > bestN || (n == bestN && best >= 0 && c.Name < l.opts.abstractions[best].Name) {
				best, bestN = ci, n
			}
		}
		if best < 0 || bestN < min {
			break
		}
		used[best] = true
		c := l.opts.abstractions[best]
		if l.unsafe(c) {
			continue
		}
		a := Abstraction{Name: c.Name, Reason: fmt.Sprintf("covers %d accesses", bestN), Grants: abstractionGrants(c.Cov)}
		for i := range paths {
			if covers[best].files[i] {
				if !removedF[i] {
					a.Covers = append(a.Covers, ruleOf[i]+" "+permString(files[paths[i]].perms))
				}
				removedF[i] = true
			}
		}
		for i, r := range *others {
			if covers[best].others[i] {
				if !removedO[i] {
					a.Covers = append(a.Covers, strings.TrimSuffix(r.String(), ","))
				}
				removedO[i] = true
			}
		}
		a.Covers = slices.Compact(a.Covers)
		p.Abstractions = append(p.Abstractions, a)
	}
	for i, path := range paths {
		if removedF[i] {
			p.Included += files[path].evidence.counted()
			delete(files, path)
		}
	}
	kept := (*others)[:0]
	for i, r := range *others {
		if !removedO[i] {
			kept = append(kept, r)
		} else {
			p.Included += r.Evidence.counted()
		}
	}
	*others = kept
}

// unsafe reports (once per candidate) whether it grants something sensitive.
func (l *Learner) unsafe(c candidate) bool {
	if c.Unsafe == nil {
		return false
	}
	if v, ok := l.unsafeMemo[c.Name]; ok {
		return v
	}
	_, bad := c.Unsafe()
	l.unsafeMemo[c.Name] = bad
	return bad
}

func (l *Learner) otherRules(p *Profile, rules *[]rule, others []rule) {
	for _, r := range others {
		if id, sev, why, ok := l.sensitiveRule(p.Name, r); ok {
			p.Findings = append(p.Findings, newFinding(p.Name, r, id, sev, why))
			if !l.opts.AllowSensitive || id == "abi" {
				continue
			}
		}
		*rules = append(*rules, r)
	}
}

// sensitiveRule checks a non-file rule against lint's table and the ABI.
func (l *Learner) sensitiveRule(profile string, r rule) (id string, sev lint.Severity, why string, ok bool) {
	switch r.Class {
	case ClassUserns, ClassIOUring, ClassMqueue:
		if l.opts.ABI < "4.0" {
			return "abi", lint.SeverityMedium, fmt.Sprintf("%s rules need abi 4.0 (--abi 4.0); abi %s cannot express them", r.Class, l.opts.ABI), true
		}
	case ClassCapability:
		if c, ok := lint.Capability(r.Capability); ok {
			return "capability", c.Severity, c.Why, true
		}
	case ClassNetwork:
		if n, ok := lint.Network(r.Family, r.SockType); ok {
			return "network", n.Severity, n.Why, true
		}
	case ClassPtrace:
		if lint.Ptrace(strings.SplitN(profile, "//", 2)[0], r.Peer) {
			return "ptrace", lint.SeverityHigh, "tracing another program reads and changes its memory", true
		}
	case ClassMount, ClassUmount, ClassPivotRoot:
		why := lint.SensitiveRuleKinds[r.Class.String()]
		return r.Class.String(), lint.SeverityHigh, why, true
	case ClassChangeProfile:
		if r.Target == "unconfined" {
			return "change_profile", lint.SeverityHigh, lint.SensitiveExecModes["ux"], true
		}
	}
	return "", 0, "", false
}

// fileEntry is a file rule being built: a pattern and the concrete paths
// it stands for.
type fileEntry struct {
	pattern string
	owner   bool
	// owned: every event on its paths had fsuid == ouid (for the profile's
	// own rule: it is owner). A data directory's glob is owner when all
	// its entries are owned, as each of its paths would be alone.
	owned   bool
	perms   aare.Perm
	exec    aare.ExecKind
	target  string
	home    bool
	ev      Evidence
	members []string // the literal patterns it stands for
	raw     []string // the paths as logged
	// why says which generalisation made the pattern a glob that
	// replaces several paths (--explain); existing marks an entry made
	// only of the profile's own rules (generalised with the events,
	// written only when the events join it).
	why      string
	existing bool
}

func (l *Learner) fileRules(p *Profile, rules *[]rule, files map[string]*fileAcc, r *resolver, cov coverer) error {
	// named: the learned paths in the sensitive table's language, sorted
	// (the guard's exceptions).
	var named []string
	entries := make([]*fileEntry, 0, len(files))
	// One allocation for the entries, and one for their first member and
	// raw path (each of capacity 1: a merge appends to a copy).
	slab := make([]fileEntry, len(files))
	names := make([]string, 2*len(files))
	for _, fp := range slices.Sorted(maps.Keys(files)) {
		f := files[fp]
		perms := f.perms
		// ev: the path's events, each counted once: once a finding holds
		// them back, a second finding or the learned rest counts none.
		ev := f.evidence
		// The sensitive guard works on concrete paths, before any glob.
		sensitive := l.anyPath(fp)
		if !sensitive {
			// No entry matches it, whatever the permissions.
		} else if e, ok := lint.Path(fp, perms); ok {
			bad := perms & e.Access
			// The finding's rule names exactly this path: escaped, so that
			// accepting "/etc/a*" or a name with a quote grants only it.
			r := rule{Class: ClassFile, Path: EscapeLiteral(fp), Perms: bad, Exec: f.exec, Evidence: ev}
			p.Findings = append(p.Findings, newFinding(p.Name, r, e.ID, e.Severity, e.Why))
			ev = ev.heldBack()
			if !l.opts.AllowSensitive {
				perms &^= bad
			}
		}
		if f.linkTo != "" && perms&aare.PermLink != 0 {
			e, _ := lint.Path(f.linkTo, allSensitivePerms)
			r := rule{Class: ClassFile, Path: EscapeLiteral(fp), Perms: aare.PermLink, Evidence: ev}
			p.Findings = append(p.Findings, newFinding(p.Name, r, e.ID, e.Severity,
				fmt.Sprintf("hard link to %s: %s", f.linkTo, e.Why)))
			ev = ev.heldBack()
			if !l.opts.AllowSensitive {
				perms &^= aare.PermLink
			}
		}
		if perms == 0 {
			continue
		}
		if sensitive {
			named = append(named, fp)
		}
		lit := EscapeLiteral(fp)
		n := len(entries)
		names[2*n], names[2*n+1] = lit, fp
		fe := &slab[n]
		*fe = fileEntry{pattern: lit, owned: f.owned, perms: perms, ev: ev, members: names[2*n : 2*n+1 : 2*n+1], raw: names[2*n+1 : 2*n+2 : 2*n+2]}
		if perms&aare.PermExec != 0 {
			fe.exec = f.exec
			fe.target = r.targetOf(p.Name, fp, f.exec)
		}
		if l.opts.Glob != GlobNone {
			pat, home := generaliseWith(fp, perms, l.thresholds())
			fe.pattern, fe.home = pat, home
			fe.owner = home && f.owned
		}
		entries = append(entries, fe)
	}
	guard := l.newFileGuard(named)
	// Undo generalisations that reach a sensitive path.
	for _, e := range entries {
		if e.pattern == e.members[0] || guard.allowsFrom(e.pattern, e.raw[0], e.perms) {
			continue
		}
		// @{HOME} includes /root/: the users' homes alone may still do.
		if rest, ok := strings.CutPrefix(e.pattern, "@{HOME}/"); ok && guard.allows(homeDirsPattern+rest, e.perms) {
			e.pattern = homeDirsPattern + rest
			continue
		}
		e.pattern, e.owner = e.members[0], false
	}
	entries, err := mergeEntries(entries)
	if err == nil && l.opts.Glob != GlobNone && l.opts.siblings() > 0 {
		entries, err = l.collapse(p, entries, cov, guard)
	}
	if err != nil {
		var ce *ExecConflictError
		if errors.As(err, &ce) {
			ce.Profile = p.Name
		}
		return err
	}
	*rules = slices.Grow(*rules, len(entries))
	for _, e := range entries {
		r := rule{Class: ClassFile, Path: e.pattern, Owner: e.owner, Perms: e.perms,
			Exec: e.exec, ExecTarget: e.target, Evidence: e.ev}
		if e.why != "" && len(e.members) > 1 {
			r.Glob = globNote(e.why, e.members)
			r.Glob.Owner = e.owner
		}
		*rules = append(*rules, r)
	}
	return nil
}

// targetOf names the exec target a file rule needs: Cx needs the child's
// name; Px needs one only when the profile's name is not the path.
func (r *resolver) targetOf(profile, bin string, mode aare.ExecKind) string {
	if r.byBin == nil || r.indexed != len(r.decided) {
		// Built once in practice: profiles are output after every label
		// is resolved (decisions are only added).
		r.indexed = len(r.decided)
		keys := slices.Collect(maps.Keys(r.decided))
		r.byBin = map[[2]string][][2]string{}
		for _, key := range keys {
			if eff, _, err := r.resolve(key[0]); err == nil {
				k := [2]string{key[1], eff}
				r.byBin[k] = append(r.byBin[k], key)
			}
		}
	}
	for _, key := range r.byBin[[2]string{bin, profile}] {
		d := r.decided[key]
		if d.mode != mode {
			continue
		}
		if mode == aare.ExecChild || (mode == aare.ExecProfile && d.target != bin) {
			return d.target
		}
	}
	return ""
}

// literalPrefix is the text before the pattern's first glob, variable or
// escape: every path the pattern matches begins with it.
func literalPrefix(pattern string) string {
	if i := strings.IndexAny(pattern, "\\*?[]{}@\"#"); i >= 0 {
		return pattern[:i]
	}
	return pattern
}

// literalSuffix is the text after the pattern's last glob, variable or
// escape: every path the pattern matches ends with it. It is "" for a
// pattern with an escape (its text is not what it matches) or a run of
// slashes (which the pattern folds).
func literalSuffix(pattern string) string {
	i := strings.LastIndexAny(pattern, "\\*?[]{}@\"#")
	if i < 0 || strings.Contains(pattern, "\\") || strings.Contains(pattern[i:], "//") {
		return ""
	}
	return pattern[i+1:]
}

// allSensitivePerms is every permission the sensitive table tells apart.
const allSensitivePerms = lint.ReadPerms | lint.WritePerms | lint.ExecPerms

// homeDirsPattern is @{HOME} without /root/ (tunables/home).
const homeDirsPattern = "@{HOMEDIRS}/*/"

// forbiddenPattern: patterns learn never writes, whatever the events.
func forbiddenPattern(p string) bool {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	switch p {
	case "/**", "/*", "@{HOME}/**", homeDirsPattern + "**", "@{HOME}/*/**", "/home/**", "/home/*/**", "@{PROC}/**", "/proc/**":
		return true
	}
	return false
}

// mergeEntries joins entries with the same pattern; the result is owner
// only when all of them were. The result is sorted by pattern; an entry
// takes in those after it with its pattern, in their order.
func mergeEntries(entries []*fileEntry) ([]*fileEntry, error) {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b *fileEntry) int { return strings.Compare(a.pattern, b.pattern) })
	for i := 0; i < len(sorted); {
		exec, target := sorted[i].exec, sorted[i].target
		j := i + 1
		for ; j < len(sorted) && sorted[j].pattern == sorted[i].pattern; j++ {
			e := sorted[j]
			if execConflict(exec, target, e) {
				// The error mergeEntriesInOrder meets first.
				return mergeEntriesInOrder(entries)
			}
			exec = max(exec, e.exec)
			target = cmp.Or(target, e.target)
		}
		i = j
	}
	out := sorted[:0]
	for _, e := range sorted {
		if n := len(out); n > 0 && out[n-1].pattern == e.pattern {
			out[n-1].join(e)
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// execConflict: e's exec transition or target differs from the one of
// the entries it would join.
func execConflict(exec aare.ExecKind, target string, e *fileEntry) bool {
	return exec != e.exec && exec != aare.ExecNone && e.exec != aare.ExecNone || target != e.target && target != "" && e.target != ""
}

// mergeEntriesInOrder is mergeEntries by a map, in the entries' order:
// what decides which exec conflict is reported.
func mergeEntriesInOrder(entries []*fileEntry) ([]*fileEntry, error) {
	byKey := map[string]*fileEntry{}
	for _, e := range entries {
		k := e.pattern
		g := byKey[k]
		if g == nil {
			byKey[k] = e
			continue
		}
		if execConflict(g.exec, g.target, e) {
			return nil, &ExecConflictError{Path: k, Modes: []string{
				strings.TrimSpace(execString(g.exec) + " " + g.target), strings.TrimSpace(execString(e.exec) + " " + e.target)}}
		}
		g.join(e)
	}
	out := make([]*fileEntry, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, byKey[k])
	}
	return out, nil
}

// join merges e, of the same pattern, into g.
func (g *fileEntry) join(e *fileEntry) {
	g.perms = normal(g.perms | e.perms)
	g.owner = g.owner && e.owner
	g.owned = g.owned && e.owned
	g.exec = max(g.exec, e.exec)
	if g.target == "" {
		g.target = e.target
	}
	g.ev.merge(e.ev)
	g.members = append(g.members, e.members...)
	g.raw = append(g.raw, e.raw...)
	g.why = cmp.Or(g.why, e.why)
	g.existing = g.existing && e.existing
}
