package learn

import (
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/policy/aare"
)

// The non-file counterpart of the sibling glob: names that are not paths
// but vary the same way between runs (a daemon's abstract socket per pid,
// @cups-1465; numbered dbus objects, /org/freedesktop/systemd1/job/1201;
// numbered queues; numbered child profiles as signal and ptrace peers).
// When at least Siblings rules of one profile differ only in the digit runs
// of one name, they become one rule whose varying runs are [0-9]*. A
// System V queue name is a number apparmor_parser takes only literally:
// Siblings distinct keys become a rule without a name. A rule another
// learned rule covers is dropped (its events count for that rule).

// peerField is a name of a non-file rule that may be generalised.
type peerField struct {
	class Class
	of    func(*rule) *string
}

var peerFields = []peerField{
	{ClassUnix, func(r *rule) *string { return &r.Addr }},
	{ClassUnix, func(r *rule) *string { return &r.PeerAddr }},
	{ClassDBus, func(r *rule) *string { return &r.DBusPath }},
	{ClassDBus, func(r *rule) *string { return &r.PeerName }},
	{ClassDBus, func(r *rule) *string { return &r.Name }},
	{ClassMqueue, func(r *rule) *string { return &r.Path }},
	{ClassSignal, func(r *rule) *string { return &r.Peer }},
	{ClassPtrace, func(r *rule) *string { return &r.Peer }},
}

// nameFields are every name field node() writes as a literal pattern.
func nameFields(r *rule) []*string {
	fs := []*string{&r.Addr, &r.PeerAddr, &r.Peer, &r.DBusPath, &r.Interface, &r.Member, &r.PeerName, &r.Name, &r.Target}
	if r.Class == ClassMqueue {
		fs = append(fs, &r.Path)
	}
	return fs
}

// escapeNames turns a rule's names into the literal patterns node() would
// write, so that a generalised field can sit next to them.
func escapeNames(r *rule) {
	if r.escaped || r.Class == ClassFile {
		return
	}
	for _, f := range nameFields(r) {
		*f = EscapeLiteral(*f)
	}
	r.escaped = true
}

// collapsePeers generalises the non-file rules of one profile (already
// without what the profile and chosen abstractions allow).
func (l *Learner) collapsePeers(profile string, others []rule) []rule {
	n := l.opts.siblings()
	if l.opts.Glob == GlobNone || n <= 0 || len(others) < 2 {
		return others
	}
	out := slices.Clone(others)
	for i := range out {
		escapeNames(&out[i])
	}
	for _, f := range peerFields {
		out = l.collapseField(profile, out, f, n)
	}
	out = l.collapseSysv(profile, out, n)
	return dropCoveredRules(out)
}

// collapseKey identifies rules that differ only in one field's digit runs.
type collapseKey struct {
	other         otherKey
	mask, signals string
	skeleton      string
}

func keyWithout(r rule, f peerField, skeleton string) collapseKey {
	*f.of(&r) = ""
	return collapseKey{keyOf(&r), strings.Join(r.Mask, " "), strings.Join(r.Signals, " "), skeleton}
}

func (l *Learner) collapseField(profile string, rules []rule, f peerField, n int) []rule {
	groups := map[collapseKey][]int{}
	var order []collapseKey
	for i := range rules {
		r := &rules[i]
		if r.Class != f.class || r.Class == ClassMqueue && r.MqType != "" {
			continue
		}
		skel, _, ok := digitRuns(*f.of(r))
		if !ok {
			continue
		}
		k := keyWithout(*r, f, skel)
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	drop := map[int]bool{}
	for _, k := range order {
		g := groups[k]
		if len(g) < n {
			continue
		}
		merged, ok := l.generalised(profile, rules, g, f)
		if !ok {
			continue
		}
		rules[g[0]] = merged
		for _, i := range g[1:] {
			drop[i] = true
		}
	}
	if len(drop) == 0 {
		return rules
	}
	out := rules[:0]
	for i, r := range rules {
		if !drop[i] {
			out = append(out, r)
		}
	}
	return out
}

// generalised is the rule for a group: the first member with the field's
// varying digit runs as [0-9]*, and every member's evidence. It is refused
// when a member or the result would be held back as sensitive: each such
// access is decided on its own.
func (l *Learner) generalised(profile string, rules []rule, g []int, f peerField) (rule, bool) {
	var runs [][]string
	for _, i := range g {
		if l.sensitive(profile, rules[i]) {
			return rule{}, false
		}
		_, rs, _ := digitRuns(*f.of(&rules[i]))
		runs = append(runs, rs)
	}
	first := rules[g[0]]
	skel, _, _ := digitRuns(*f.of(&first))
	var b strings.Builder
	j := 0
	for i := 0; i < len(skel); i++ {
		if skel[i] != 0 {
			b.WriteByte(skel[i])
			continue
		}
		same := true
		for _, rs := range runs[1:] {
			same = same && rs[j] == runs[0][j]
		}
		if same {
			b.WriteString(runs[0][j])
		} else {
			b.WriteString("[0-9]*")
		}
		j++
	}
	merged := first
	*f.of(&merged) = b.String()
	merged.Evidence = Evidence{}
	for _, i := range g {
		merged.Evidence.merge(rules[i].Evidence)
		merged.Evidence.Examples = addBounded(merged.Evidence.Examples, *f.of(&rules[i]), strings.Compare)
	}
	if l.sensitive(profile, merged) {
		return rule{}, false
	}
	return merged, true
}

// sensitive says whether learn would hold the rule back for a human (a
// rule only the ABI cannot say is not: it becomes one finding either way).
func (l *Learner) sensitive(profile string, r rule) bool {
	id, _, _, ok := l.sensitiveRule(profile, r)
	return ok && id != "abi"
}

// collapseSysv drops the name of System V queue rules when at least n of
// them differ only in it: apparmor_parser takes a key only as a literal
// number ("message queue names must begin with a / or be a positive
// integer"), so the rule for varying keys names none.
func (l *Learner) collapseSysv(profile string, rules []rule, n int) []rule {
	f := peerField{ClassMqueue, func(r *rule) *string { return &r.Path }}
	groups := map[collapseKey][]int{}
	var order []collapseKey
	for i := range rules {
		r := &rules[i]
		if r.Class != ClassMqueue || r.MqType != "sysv" || r.Path == "" {
			continue
		}
		k := keyWithout(*r, f, "")
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	drop := map[int]bool{}
	for _, k := range order {
		g := groups[k]
		if len(g) < n {
			continue
		}
		merged := rules[g[0]]
		merged.Path, merged.Evidence = "", Evidence{}
		for _, i := range g {
			merged.Evidence.merge(rules[i].Evidence)
			merged.Evidence.Examples = addBounded(merged.Evidence.Examples, *f.of(&rules[i]), strings.Compare)
		}
		if l.sensitive(profile, merged) {
			continue
		}
		rules[g[0]] = merged
		for _, i := range g[1:] {
			drop[i] = true
		}
	}
	out := rules[:0]
	for i, r := range rules {
		if !drop[i] {
			out = append(out, r)
		}
	}
	return out
}

// digitRuns splits an escaped name into its skeleton (the text with each
// digit run replaced by a 0 byte) and the runs. Escapes (\x0a) and bracket
// expressions ([0-9]) are text, not runs. ok is false when there is no run.
func digitRuns(s string) (skeleton string, runs []string, ok bool) {
	if !strings.ContainsAny(s, "0123456789") {
		return "", nil, false
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\\':
			n := 2
			if i+1 < len(s) && s[i+1] == 'x' {
				n = 4
			}
			n = min(n, len(s)-i)
			b.WriteString(s[i : i+n])
			i += n
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				j = len(s) - i - 1
			}
			b.WriteString(s[i : i+j+1])
			i += j + 1
		case isDigit(c):
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			runs = append(runs, s[i:j])
			b.WriteByte(0)
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), runs, len(runs) > 0
}

// dropCoveredRules removes each rule another one covers, counting its
// events for the covering rule.
func dropCoveredRules(rules []rule) []rule {
	dropped := make([]bool, len(rules))
	for i := range rules {
		for j := range rules {
			if i == j || dropped[j] || !ruleCoversRule(&rules[j], &rules[i]) {
				continue
			}
			rules[j].Evidence.merge(rules[i].Evidence)
			dropped[i] = true
			break
		}
	}
	out := rules[:0]
	for i, r := range rules {
		if !dropped[i] {
			out = append(out, r)
		}
	}
	return out
}

// ruleCoversRule decides whether learned rule x allows everything learned
// rule r does, for the classes collapsePeers generalises (both with names
// escaped): the same fixed conditionals, x's permissions and signals a
// superset (none: all), and each name of x empty (any) or a pattern whose
// language contains r's.
func ruleCoversRule(x, r *rule) bool {
	if x.Class != r.Class || !x.escaped || !r.escaped || !slices.Contains([]Class{ClassUnix, ClassDBus, ClassMqueue, ClassSignal, ClassPtrace}, x.Class) {
		return false
	}
	if x.MqType != r.MqType || x.SockType != "" && x.SockType != r.SockType || x.Bus != "" && x.Bus != r.Bus {
		return false
	}
	if !superset(x.Mask, r.Mask) || !superset(x.Signals, r.Signals) {
		return false
	}
	xs, rs := nameFields(x), nameFields(r)
	if x.Class == ClassMqueue && x.Path == "" {
		xs, rs = xs[:len(xs)-1], rs[:len(rs)-1] // no name: every queue
	}
	for i := range xs {
		if !patternCovers(*xs[i], *rs[i]) {
			return false
		}
	}
	return true
}

// superset: x (empty: everything) has every element of r.
func superset(x, r []string) bool {
	if len(x) == 0 {
		return true
	}
	if len(r) == 0 {
		return false
	}
	for _, s := range r {
		if !slices.Contains(x, s) {
			return false
		}
	}
	return true
}

// patternCovers: x empty (the condition left out) or x's language holds
// r's. Labels keep "//", which aare folds: patterns with different runs of
// it are not compared.
func patternCovers(x, r string) bool {
	switch {
	case x == "" || x == r:
		return true
	case r == "" || !strings.ContainsAny(x, "*?[{") || strings.Count(x, "//") != strings.Count(r, "//"):
		return false // a literal (an abstract address's @ is no glob) covers only itself
	}
	px, err := aare.Compile(x, nil)
	if err != nil {
		return false
	}
	pr, err := aare.Compile(r, nil)
	if err != nil {
		return false
	}
	return aare.Covers(px, pr) == aare.Yes
}
