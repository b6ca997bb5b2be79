package learn

import (
	"fmt"
	"slices"
	"strings"
	"time"

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

// Rule is one learned rule, in a form independent of the policy AST (the
// caller converts it). Only the fields of its Class are set.
type Rule struct {
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
	Bus, DBusPath, Interface, Member, PeerName string

	// Mount rules: Path is the mount point.
	FSType, Options, Source string

	// ChangeProfile: the target profile.
	Target string

	Evidence Evidence
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
}

// MaxExamples bounds Evidence.Examples and Evidence.Lines.
const MaxExamples = 3

func (e *Evidence) add(a *Access, example string) {
	e.Count++
	if !a.Time.IsZero() {
		if e.First.IsZero() || a.Time.Before(e.First) {
			e.First = a.Time
		}
		if a.Time.After(e.Last) {
			e.Last = a.Time
		}
	}
	e.Examples = addBounded(e.Examples, example, strings.Compare)
	if a.Loc != (Location{}) {
		e.Lines = addBounded(e.Lines, a.Loc, compareLocations)
	}
}

func (e *Evidence) merge(o Evidence) {
	e.Count += o.Count
	if !o.First.IsZero() && (e.First.IsZero() || o.First.Before(e.First)) {
		e.First = o.First
	}
	if o.Last.After(e.Last) {
		e.Last = o.Last
	}
	for _, x := range o.Examples {
		e.Examples = addBounded(e.Examples, x, strings.Compare)
	}
	for _, x := range o.Lines {
		e.Lines = addBounded(e.Lines, x, compareLocations)
	}
}

// addBounded keeps the MaxExamples smallest distinct values, sorted, so
// evidence does not depend on event order.
func addBounded[T comparable](s []T, v T, compare func(a, b T) int) []T {
	var zero T
	if v == zero {
		return s
	}
	i, found := slices.BinarySearchFunc(s, v, compare)
	if found || (len(s) >= MaxExamples && i >= MaxExamples) {
		return s
	}
	s = slices.Insert(s, i, v)
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

// String renders the rule in profile syntax, for messages and tests.
// Profiles themselves are printed from policy AST nodes, never from this.
func (r Rule) String() string {
	var b strings.Builder
	switch r.Class {
	case ClassFile:
		if r.Owner {
			b.WriteString("owner ")
		}
		b.WriteString(quoteIfNeeded(r.Path))
		b.WriteByte(' ')
		b.WriteString(r.FilePerms())
		if r.ExecTarget != "" {
			b.WriteString(" -> ")
			b.WriteString(r.ExecTarget)
		}
	case ClassCapability:
		b.WriteString("capability " + r.Capability)
	case ClassNetwork:
		b.WriteString("network")
		for _, s := range []string{r.Family, r.SockType} {
			if s != "" {
				b.WriteString(" " + s)
			}
		}
	case ClassUnix:
		b.WriteString("unix")
		writeMask(&b, r.Mask)
		if r.SockType != "" {
			b.WriteString(" type=" + r.SockType)
		}
		if r.Addr != "" {
			b.WriteString(" addr=" + quoteIfNeeded(r.Addr))
		}
		if r.PeerAddr != "" {
			b.WriteString(" peer=(addr=" + quoteIfNeeded(r.PeerAddr) + ")")
		}
	case ClassSignal:
		b.WriteString("signal")
		writeMask(&b, r.Mask)
		if len(r.Signals) > 0 {
			b.WriteString(" set=(" + strings.Join(r.Signals, ", ") + ")")
		}
		if r.Peer != "" {
			b.WriteString(" peer=" + quoteIfNeeded(r.Peer))
		}
	case ClassPtrace:
		b.WriteString("ptrace")
		writeMask(&b, r.Mask)
		if r.Peer != "" {
			b.WriteString(" peer=" + quoteIfNeeded(r.Peer))
		}
	case ClassDBus:
		b.WriteString("dbus")
		writeMask(&b, r.Mask)
		for _, kv := range [][2]string{{"bus", r.Bus}, {"path", r.DBusPath}, {"interface", r.Interface}, {"member", r.Member}} {
			if kv[1] != "" {
				b.WriteString(" " + kv[0] + "=" + quoteIfNeeded(kv[1]))
			}
		}
		if r.PeerName != "" || r.Peer != "" {
			var parts []string
			if r.PeerName != "" {
				parts = append(parts, "name="+quoteIfNeeded(r.PeerName))
			}
			if r.Peer != "" {
				parts = append(parts, "label="+quoteIfNeeded(r.Peer))
			}
			b.WriteString(" peer=(" + strings.Join(parts, ", ") + ")")
		}
	case ClassMount:
		b.WriteString("mount")
		if r.FSType != "" {
			b.WriteString(" fstype=" + r.FSType)
		}
		if r.Options != "" {
			b.WriteString(" options=(" + r.Options + ")")
		}
		if r.Source != "" {
			b.WriteString(" " + quoteIfNeeded(r.Source))
		}
		b.WriteString(" -> " + quoteIfNeeded(r.Path))
	case ClassUmount:
		b.WriteString("umount " + quoteIfNeeded(r.Path))
	case ClassPivotRoot:
		b.WriteString("pivot_root " + quoteIfNeeded(r.Path))
	case ClassChangeProfile:
		b.WriteString("change_profile -> " + quoteIfNeeded(r.Target))
	case ClassUserns:
		b.WriteString("userns")
		writeMask(&b, r.Mask)
	case ClassIOUring:
		b.WriteString("io_uring")
		writeMask(&b, r.Mask)
	case ClassMqueue:
		b.WriteString("mqueue")
		writeMask(&b, r.Mask)
		if r.Path != "" {
			b.WriteString(" " + quoteIfNeeded(r.Path))
		}
	default:
		b.WriteString("# unknown rule")
	}
	b.WriteByte(',')
	return b.String()
}

// FilePerms spells a file rule's permissions with its exec mode: "mr",
// "rw", "mrix", "Px".
func (r Rule) FilePerms() string {
	s := permString(r.Perms &^ aare.PermExec)
	if r.Perms&aare.PermExec != 0 {
		s += execString(r.Exec)
	}
	return s
}

func writeMask(b *strings.Builder, mask []string) {
	switch len(mask) {
	case 0:
	case 1:
		b.WriteString(" " + mask[0])
	default:
		b.WriteString(" (" + strings.Join(mask, ", ") + ")")
	}
}

// quoteIfNeeded quotes a value with spaces or characters the policy
// lexer would split on.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n,=()\"#") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// classOrder is the order rules of each class appear in a profile.
var classOrder = map[Class]int{
	ClassCapability: 1, ClassNetwork: 2, ClassUnix: 3, ClassSignal: 4, ClassPtrace: 5, ClassDBus: 6,
	ClassMount: 7, ClassUmount: 8, ClassPivotRoot: 9, ClassChangeProfile: 10, ClassUserns: 11,
	ClassIOUring: 12, ClassMqueue: 13, ClassFile: 14,
}

// compareRules orders rules for output: by class, then by their text.
func compareRules(a, b Rule) int {
	if c := classOrder[a.Class] - classOrder[b.Class]; c != 0 {
		return c
	}
	if a.Class == ClassFile && a.Path != b.Path {
		return strings.Compare(a.Path, b.Path)
	}
	return strings.Compare(a.String(), b.String())
}
