// Package simulate replays recorded accesses against profiles as enforce
// mode would decide them: the accesses a profile would deny, each with the
// nearest existing rule. It is the gate before enforce.
package simulate

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// Denial is an access enforce mode would refuse.
type Denial struct {
	Profile string      // the profile the access is checked against
	Rule    policy.Rule // the rule that would allow it
	Missing string      // for files: the permissions not allowed
	Nearest string      // the closest existing rule, or ""
	Why     string      // "", or why the profile cannot run the access at all
	Count   int
	Lines   []learn.Location // up to learn.MaxExamples event locations
}

// RuleText is the rule that would allow the access, in canonical form.
func (d Denial) RuleText() string { return ruleText(d.Rule) }

func (d Denial) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", d.Profile, ruleText(d.Rule))
	if d.Missing != "" {
		fmt.Fprintf(&b, " (missing %s)", d.Missing)
	}
	if d.Why != "" {
		fmt.Fprintf(&b, " (%s)", d.Why)
	}
	if d.Nearest != "" {
		fmt.Fprintf(&b, "; nearest rule: %s", d.Nearest)
	} else {
		b.WriteString("; no rule of this kind")
	}
	fmt.Fprintf(&b, " [%d event", d.Count)
	if d.Count != 1 {
		b.WriteByte('s')
	}
	if len(d.Lines) > 0 {
		var locs []string
		for _, l := range d.Lines {
			locs = append(locs, l.String())
		}
		fmt.Fprintf(&b, ", e.g. %s", strings.Join(locs, ", "))
	}
	b.WriteByte(']')
	return b.String()
}

// Simulator replays accesses against the profiles of a profile set as
// enforce mode would decide them. It is not safe for concurrent use.
type Simulator struct {
	set     *host.ProfileSet
	only    map[string]bool // profiles to check (with their children); nil: all
	covs    map[string]*learn.Coverage
	denials map[string]*denial
	memo    map[simKey]*denial // nil: allowed
	// Replayed counts the accesses checked; Skipped those of profiles the
	// set does not define.
	Replayed, Skipped int

	// ProbeSiblings asks, for each allowed file access, whether a new
	// sibling would be allowed too (Probes).
	ProbeSiblings bool
	seen          map[string]map[string]bool // profile → paths the events name
	cands         map[probeKey]probeCand
}

// denial is a Denial being counted.
type denial struct {
	Denial
	ev learn.Evidence
}

// New checks accesses of the given profiles (and their children); with
// none, of every profile in the set.
func New(set *host.ProfileSet, profiles ...string) *Simulator {
	s := &Simulator{set: set, covs: map[string]*learn.Coverage{}, denials: map[string]*denial{}, memo: map[simKey]*denial{}}
	if len(profiles) > 0 {
		s.only = map[string]bool{}
		for _, p := range profiles {
			s.only[p] = true
		}
	}
	return s
}

func (s *Simulator) coverage(name string) (*learn.Coverage, error) {
	if c, ok := s.covs[name]; ok {
		return c, nil
	}
	c, err := learn.ProfileCoverage(s.set, name)
	if c == nil {
		return nil, err
	}
	s.covs[name] = c
	return c, nil
}

// Problems lists, per profile checked, the patterns that never match
// because they do not compile: a rule that allows nothing it seems to.
func (s *Simulator) Problems() []error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(s.covs)) {
		for _, err := range s.covs[name].Problems() {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errs
}

func (s *Simulator) wanted(label string) bool {
	if s.only == nil {
		return true
	}
	top := strings.SplitN(label, "//", 2)[0]
	return s.only[top] || s.only[label]
}

// Add replays one access.
func (s *Simulator) Add(a *learn.Access) error {
	if strings.Contains(a.Profile, "//&") {
		// A stack: every profile in it decides.
		label := a.Profile
		var errs []error
		for part := range strings.SplitSeq(label, "//&") {
			a.Profile = strings.TrimPrefix(part, ":")
			errs = append(errs, s.Add(a))
		}
		a.Profile = label
		return errors.Join(errs...)
	}
	if !s.wanted(a.Profile) {
		return nil
	}
	name, why := s.resolve(a.Profile, 0)
	if name == "" {
		if i := strings.LastIndex(a.Profile, "//null-"); i >= 0 && strings.HasPrefix(why, "the exec fails") {
			// The child's accesses show the exec happened; it would fail.
			parent, _ := s.resolve(a.Profile[:i], 0)
			bin := a.Profile[i+len("//null-"):]
			ex := learn.Access{Profile: parent, Class: learn.ClassFile, Operation: "exec", Path: bin, Perms: aare.PermExec, Loc: a.Loc}
			s.deny(parent, learn.AccessRule(&ex), "", why, "", &ex)
			return nil
		}
		if why != "" {
			// The exec into this learning child is itself denied; the
			// exec event reports it.
			return nil
		}
		s.Skipped++
		return nil
	}
	cov, err := s.coverage(name)
	if cov == nil {
		s.Skipped++
		return err
	}
	s.Replayed++
	// The same access decides the same way: replaying a long log costs
	// one decision per distinct access.
	var key simKey
	memo := a.Class == learn.ClassFile || len(a.Mask) <= 1
	if memo {
		key = keyOf(name, a)
		if d, ok := s.memo[key]; ok {
			if d != nil {
				d.ev.Add(a, "")
			}
			return nil
		}
		s.memo[key] = nil
	}
	if a.Class == learn.ClassFile {
		if a.Path == "" || a.Perms == 0 {
			return nil
		}
		d := cov.Decide(a.Path, a.Perms, a.Owner)
		if s.ProbeSiblings {
			s.probe(name, a, d.Allowed)
		}
		if d.Allowed && a.Perms&aare.PermExec != 0 {
			if _, why := s.execTarget(name, a.Path); strings.HasPrefix(why, "the exec fails") {
				d0 := s.deny(name, learn.AccessRule(a), "", why, "", a)
				if memo {
					s.memo[key] = d0
				}
				return nil
			}
		}
		if d.Allowed {
			return nil
		}
		var why string
		if d.Conflict {
			why = "rules matching it disagree on the exec mode"
		}
		missing := learn.PermString(d.Missing&^aare.PermExec) + execLetter(d.Missing)
		d0 := s.deny(name, learn.AccessRule(a), missing, why, nearestFile(cov, d.Nearest), a)
		if memo {
			s.memo[key] = d0
		}
		return nil
	}
	b := *a
	if b.Peer != "" {
		if peer, _ := s.resolve(b.Peer, 0); peer != "" {
			b.Peer = peer
		}
	}
	if cov.Allows(&b) {
		return nil
	}
	r := learn.AccessRule(&b)
	d0 := s.deny(name, r, "", "", nearestOther(cov, r), a)
	if memo {
		s.memo[key] = d0
	}
	return nil
}

// simKey identifies an access for the simulator's memo.
type simKey struct {
	profile                                      string
	class                                        learn.Class
	path                                         string
	perms                                        aare.Perm
	owned                                        bool
	capability, family, sockType, addr, peerAddr string
	peer, bus, dbusPath, iface, member, peerName string
	fsType, flags, source, target, mask, signal  string
}

func keyOf(profile string, a *learn.Access) simKey {
	k := simKey{profile: profile, class: a.Class, path: a.Path, perms: a.Perms, owned: a.Owner, capability: a.Capability,
		family: a.Family, sockType: a.SockType, addr: a.Addr, peerAddr: a.PeerAddr, peer: a.Peer, bus: a.Bus,
		dbusPath: a.DBusPath, iface: a.Interface, member: a.Member, peerName: a.PeerName, fsType: a.FSType,
		flags: a.Flags, source: a.Source, target: a.Target, signal: a.Signal}
	if len(a.Mask) == 1 {
		k.mask = a.Mask[0]
	}
	return k
}

func execLetter(p aare.Perm) string {
	if p&aare.PermExec != 0 {
		return "x"
	}
	return ""
}

func (s *Simulator) deny(profile string, r policy.Rule, missing, why, nearest string, a *learn.Access) *denial {
	key := profile + "\x00" + ruleText(r) + "\x00" + missing
	d := s.denials[key]
	if d == nil {
		d = &denial{Denial: Denial{Profile: profile, Rule: r, Missing: missing, Why: why, Nearest: nearest}}
		s.denials[key] = d
	}
	d.ev.Add(a, "")
	return d
}

// resolve maps a label to the profile enforce mode would run the access
// under: complain mode's learning child "P//null-/bin/x" becomes what P's
// exec rule for /bin/x says (ix: P; Cx: its child; Px: the target). An
// exec P does not allow gives "" and a reason.
func (s *Simulator) resolve(label string, depth int) (string, string) {
	i := strings.LastIndex(label, "//null-")
	if i < 0 {
		if s.set.Profiles[label] == nil {
			return "", ""
		}
		return label, ""
	}
	if depth > 32 {
		return "", "too deep"
	}
	parent, why := s.resolve(label[:i], depth+1)
	if parent == "" {
		return "", why
	}
	return s.execTarget(parent, label[i+len("//null-"):])
}

// execTarget is the profile an exec of bin from parent runs under, or ""
// and why the exec fails (or leaves confinement). A Cx or Px whose
// target profile does not exist fails the exec in enforce mode.
func (s *Simulator) execTarget(parent, bin string) (string, string) {
	cov, _ := s.coverage(parent)
	if cov == nil {
		return "", ""
	}
	d := cov.Decide(bin, aare.PermExec, true)
	if !d.Allowed {
		return "", "exec not allowed"
	}
	name, why := s.transition(parent, bin, d)
	if name != "" && s.set.Profiles[name] == nil {
		return "", fmt.Sprintf("the exec fails: its target profile %s does not exist", name)
	}
	return name, why
}

// transition is the profile an allowed exec of bin from parent runs
// under. A p or c target that does not exist takes the rule's fallback
// (pix, cix: parent; pux, cux: unconfined); without one the exec fails,
// which execTarget reports for a named target that is missing.
func (s *Simulator) transition(parent, bin string, d aare.Decision) (string, string) {
	var name string
	switch d.Exec.Kind {
	case aare.ExecInherit:
		return parent, ""
	case aare.ExecChild:
		t := d.Exec.Target
		if t == "" {
			t = bin
		}
		name = parent + "//" + t
	case aare.ExecProfile:
		name = d.Exec.Target
		if name == "" {
			name, _ = s.set.ProfileFor(bin)
		}
	default:
		return "", "runs unconfined"
	}
	if name != "" && s.set.Profiles[name] != nil {
		return name, ""
	}
	switch d.Exec.Fallback {
	case aare.ExecInherit:
		return parent, ""
	case aare.ExecUnconfined:
		return "", "runs unconfined"
	}
	if name == "" {
		return "", "the exec fails: no profile attaches to " + bin + " and the rule has no fallback (pix, pux)"
	}
	return name, ""
}

func nearestFile(cov *learn.Coverage, i int) string {
	r, ok := cov.FileRule(i)
	if !ok {
		return ""
	}
	return r.String()
}

// nearestOther is the first existing rule of the same kind, printed.
func nearestOther(cov *learn.Coverage, want policy.Rule) string {
	for _, x := range cov.Others() {
		if fmt.Sprintf("%T", x) == fmt.Sprintf("%T", want) {
			return ruleText(x)
		}
	}
	return ""
}

// ruleText prints one rule on one line.
func ruleText(n policy.Rule) string {
	var b bytes.Buffer
	if err := policy.Format(&b, nil, n); err != nil {
		return fmt.Sprintf("# %v", err)
	}
	return strings.TrimSpace(b.String())
}

// Denials returns the denials found so far, sorted by profile and rule.
func (s *Simulator) Denials() []Denial {
	var out []Denial
	for _, k := range slices.Sorted(maps.Keys(s.denials)) {
		d := s.denials[k]
		d.Count, d.Lines = d.ev.Count, d.ev.Lines
		out = append(out, d.Denial)
	}
	return out
}
