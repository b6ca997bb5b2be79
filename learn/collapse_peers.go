package learn

import (
	"maps"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/policy"
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

// peerField is a name of a non-file rule that may be generalised: the
// learned rule's field, and the words of a profile's rule that say it.
type peerField struct {
	class Class
	of    func(*rule) *string
	ast   func(policy.Rule) []*policy.Word
}

var peerFields = []peerField{
	{ClassUnix, func(r *rule) *string { return &r.Addr }, func(x policy.Rule) []*policy.Word {
		if u, ok := x.(*policy.UnixRule); ok {
			return condWords(u.Conds, "addr")
		}
		return nil
	}},
	{ClassUnix, func(r *rule) *string { return &r.PeerAddr }, func(x policy.Rule) []*policy.Word {
		if u, ok := x.(*policy.UnixRule); ok {
			return nestedWords(u.Conds, "peer", "addr")
		}
		return nil
	}},
	{ClassDBus, func(r *rule) *string { return &r.DBusPath }, func(x policy.Rule) []*policy.Word {
		if d, ok := x.(*policy.DbusRule); ok {
			return condWords(d.Conds, "path")
		}
		return nil
	}},
	{ClassDBus, func(r *rule) *string { return &r.PeerName }, func(x policy.Rule) []*policy.Word {
		if d, ok := x.(*policy.DbusRule); ok {
			return nestedWords(d.Conds, "peer", "name")
		}
		return nil
	}},
	{ClassDBus, func(r *rule) *string { return &r.Name }, func(x policy.Rule) []*policy.Word {
		if d, ok := x.(*policy.DbusRule); ok {
			return condWords(d.Conds, "name")
		}
		return nil
	}},
	{ClassMqueue, func(r *rule) *string { return &r.Path }, func(x policy.Rule) []*policy.Word {
		if m, ok := x.(*policy.MqueueRule); ok && m.Name != nil && policy.FindCond(m.Conds, "type") == nil {
			return []*policy.Word{m.Name}
		}
		return nil
	}},
	{ClassSignal, func(r *rule) *string { return &r.Peer }, func(x policy.Rule) []*policy.Word {
		if s, ok := x.(*policy.SignalRule); ok {
			return condWords(s.Conds, "peer")
		}
		return nil
	}},
	{ClassPtrace, func(r *rule) *string { return &r.Peer }, func(x policy.Rule) []*policy.Word {
		if p, ok := x.(*policy.PtraceRule); ok {
			return condWords(p.Conds, "peer")
		}
		return nil
	}},
}

func condWords(cs []*policy.Cond, key string) []*policy.Word {
	if k := policy.FindCond(cs, key); k != nil && k.Value != nil {
		return k.Value.Words
	}
	return nil
}

func nestedWords(cs []*policy.Cond, key, sub string) []*policy.Word {
	if k := policy.FindCond(cs, key); k != nil {
		return condWords(k.Conds, sub)
	}
	return nil
}

// ownNames are the literal names a field has in the profile's own rules
// (not its abstractions'), which new names generalise with. Only plain
// words count: a quoted or globbed one is not a sibling to compare.
func ownNames(cov coverer, f peerField) []string {
	c, ok := cov.(*Coverage)
	if !ok {
		return nil
	}
	var out []string
	for _, x := range c.ownOthers {
		for _, w := range f.ast(x) {
			if v := w.Value(); !w.Quoted() && !strings.ContainsAny(v, "*?[]{}\\\"#") {
				out = append(out, v)
			}
		}
	}
	return out
}

// nameFields are every name field node() writes as a literal pattern
// (n of them: the queue name of a mqueue rule only), in an array that
// needs no allocation.
func nameFields(r *rule) (fs [10]*string, n int) {
	fs = [10]*string{&r.Addr, &r.PeerAddr, &r.Peer, &r.DBusPath, &r.Interface, &r.Member, &r.PeerName, &r.Name, &r.Target, &r.Path}
	if r.Class == ClassMqueue {
		return fs, 10
	}
	return fs, 9
}

// escapeNames turns a rule's names into the literal patterns node() would
// write, so that a generalised field can sit next to them.
func escapeNames(r *rule) {
	if r.escaped || r.Class == ClassFile {
		return
	}
	fs, n := nameFields(r)
	for _, f := range fs[:n] {
		if *f != "" {
			*f = EscapeLiteral(*f)
		}
	}
	r.escaped = true
}

// collapsePeers generalises the non-file rules of one profile (already
// without what the profile and chosen abstractions allow).
// Whatever the glob mode, a rule another one covers is dropped.
func (l *Learner) collapsePeers(profile string, others []rule, cov coverer) []rule {
	if len(others) < 2 {
		return others
	}
	out := slices.Clone(others)
	for i := range out {
		escapeNames(&out[i])
	}
	if n := l.opts.siblings(); l.opts.Glob != GlobNone && n > 0 {
		changed := false
		for _, f := range peerFields {
			changed = l.collapseField(profile, out, f, n, ownNames(cov, f)) || changed
		}
		if l.collapseSysv(profile, out, n) || changed {
			out = mergeSameRules(out)
		}
	}
	if l.peerCovers == nil {
		l.peerCovers = coverMemo{}
	}
	out = dropCoveredRules(out, l.peerCovers)
	for i := range out {
		if r := &out[i]; len(r.replaced) > 0 {
			why := whyDigitRun
			if r.Class == ClassMqueue && r.MqType == "sysv" && r.Path == "" {
				why = "any System V key"
			}
			r.Glob = globNote(why, r.replaced)
			r.replaced = nil
		}
	}
	return out
}

// collapseField rewrites, in place, the field of every rule whose value
// has the skeleton (the text around its digit runs) of at least n distinct
// values of that field in the profile: the runs that vary become [0-9]*.
// Their other conditionals and permissions stay: rules that differ only in
// the rewritten field become one (mergeSameRules). A group with a member
// learn holds back as sensitive is left alone: each such access is decided
// on its own.
func (l *Learner) collapseField(profile string, rules []rule, f peerField, n int, own []string) bool {
	type group struct {
		members []int
		values  map[string][]string // value → its digit runs
	}
	groups := map[string]*group{}
	var order []string
	for i := range rules {
		r := &rules[i]
		if r.Class != f.class || r.Class == ClassMqueue && r.MqType != "" {
			continue
		}
		skel, runs, ok := digitRuns(*f.of(r))
		if !ok {
			continue
		}
		g := groups[skel]
		if g == nil {
			g = &group{values: map[string][]string{}}
			groups[skel] = g
			order = append(order, skel)
		}
		g.members = append(g.members, i)
		g.values[*f.of(r)] = runs
	}
	for _, v := range own {
		if skel, runs, ok := digitRuns(v); ok && groups[skel] != nil {
			groups[skel].values[v] = runs
		}
	}
	changed := false
	for _, skel := range order {
		g := groups[skel]
		if len(g.values) < n || slices.ContainsFunc(g.members, func(i int) bool { return l.sensitive(profile, rules[i]) }) {
			continue
		}
		pat := skeletonPattern(skel, slices.Collect(maps.Values(g.values)))
		probe := rules[g.members[0]]
		*f.of(&probe) = pat
		if l.sensitive(profile, probe) {
			continue
		}
		for _, i := range g.members {
			r := &rules[i]
			r.replaced = append(r.replaced, *f.of(r))
			*f.of(r) = pat
		}
		changed = true
	}
	return changed
}

// skeletonPattern fills a skeleton's runs: a run all values share stays,
// one that varies becomes [0-9]*.
func skeletonPattern(skel string, runs [][]string) string {
	var b strings.Builder
	j := 0
	for i := 0; i < len(skel); i++ {
		if skel[i] != runMark {
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
	return b.String()
}

// sensitive says whether learn would hold the rule back for a human (a
// rule only the ABI cannot say is not: it becomes one finding either way).
func (l *Learner) sensitive(profile string, r rule) bool {
	id, _, _, ok := l.sensitiveRule(profile, r)
	return ok && id != "abi"
}

// collapseSysv drops the name of the System V queue rules when at least
// n distinct keys are named: apparmor_parser takes a key only as a literal
// number ("message queue names must begin with a / or be a positive
// integer"), so the rule for varying keys names none.
func (l *Learner) collapseSysv(profile string, rules []rule, n int) bool {
	keys := map[string]bool{}
	var members []int
	for i, r := range rules {
		if r.Class == ClassMqueue && r.MqType == "sysv" && r.Path != "" {
			keys[r.Path] = true
			members = append(members, i)
		}
	}
	if len(keys) < n || slices.ContainsFunc(members, func(i int) bool { return l.sensitive(profile, rules[i]) }) {
		return false
	}
	for _, i := range members {
		r := &rules[i]
		r.replaced = append(r.replaced, r.Path)
		r.Path = ""
	}
	return true
}

// mergeSameRules joins rules that are the same after collapsing: their
// events and examples add up.
func mergeSameRules(rules []rule) []rule {
	type key struct {
		other         otherKey
		mask, signals string
	}
	at := map[key]int{}
	out := rules[:0]
	for _, r := range rules {
		k := key{keyOf(&r), strings.Join(r.Mask, " "), strings.Join(r.Signals, " ")}
		if i, ok := at[k]; ok {
			out[i].Evidence.merge(r.Evidence)
			out[i].replaced = append(out[i].replaced, r.replaced...)
			continue
		}
		at[k] = len(out)
		out = append(out, r)
	}
	return out
}

// digitRuns is digitSlots with the runs as text, for one whole name
// (peer fields have no components); ok is false when there is no run.
func digitRuns(s string) (skeleton string, runs []string, ok bool) {
	skeleton, slots := digitSlots(s)
	for _, r := range slots {
		runs = append(runs, s[r[0]:r[1]])
	}
	return skeleton, runs, len(runs) > 0
}

// dropCoveredRules removes each rule another one covers, counting its
// events for the covering rule (the first that covers it). Only rules of
// one class and queue type can cover each other: each is compared with
// those of its own, in order.
func dropCoveredRules(rules []rule, memo coverMemo) []rule {
	type kind struct {
		class  Class
		mqType string
	}
	var byKind map[kind][]int
	for i := range rules {
		if r := &rules[i]; r.escaped && peerClass(r.Class) {
			if byKind == nil {
				byKind = map[kind][]int{}
			}
			k := kind{r.Class, r.MqType}
			byKind[k] = append(byKind[k], i)
		}
	}
	if byKind == nil {
		return rules
	}
	dropped := make([]bool, len(rules))
	for i := range rules {
		r := &rules[i]
		if !r.escaped || !peerClass(r.Class) {
			continue
		}
		for _, j := range byKind[kind{r.Class, r.MqType}] {
			if i == j || dropped[j] || !memo.rule(&rules[j], r) {
				continue
			}
			rules[j].Evidence.merge(rules[i].Evidence)
			rules[j].replaced = append(rules[j].replaced, rules[i].replaced...)
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

// peerClass says whether rules of the class can cover each other
// (ruleCoversRule).
func peerClass(c Class) bool {
	switch c {
	case ClassUnix, ClassDBus, ClassMqueue, ClassSignal, ClassPtrace:
		return true
	}
	return false
}

// ruleCoversRule decides whether learned rule x allows everything learned
// rule r does, for the classes collapsePeers generalises (both with names
// escaped): the same fixed conditionals, x's permissions and signals a
// superset (none: all), and each name of x empty (any) or a pattern whose
// language contains r's.
func ruleCoversRule(x, r *rule) bool { return coverMemo(nil).rule(x, r) }

// coverMemo remembers patternCovers' answers for patterns with globs
// (each a comparison of two compiled patterns): a log's profiles collapse
// to the same names (peer=(name=:1.[0-9]*)). A nil coverMemo remembers
// nothing.
type coverMemo map[[2]string]bool

func (m coverMemo) rule(x, r *rule) bool {
	if x.Class != r.Class || !x.escaped || !r.escaped || !peerClass(x.Class) {
		return false
	}
	if x.MqType != r.MqType || x.SockType != "" && x.SockType != r.SockType || x.Bus != "" && x.Bus != r.Bus {
		return false
	}
	if !superset(x.Mask, r.Mask) || !superset(x.Signals, r.Signals) {
		return false
	}
	// nameFields' names, without its slices; a queue rule's name too
	// (x without one: every queue, as patternCovers says of "").
	return m.covers(x.Addr, r.Addr) && m.covers(x.PeerAddr, r.PeerAddr) && m.covers(x.Peer, r.Peer) &&
		m.covers(x.DBusPath, r.DBusPath) && m.covers(x.Interface, r.Interface) && m.covers(x.Member, r.Member) &&
		m.covers(x.PeerName, r.PeerName) && m.covers(x.Name, r.Name) && m.covers(x.Target, r.Target) &&
		(x.Class != ClassMqueue || m.covers(x.Path, r.Path))
}

// covers is patternCovers, remembered when it compiles patterns.
func (m coverMemo) covers(x, r string) bool {
	if m == nil || x == "" || x == r || r == "" || !strings.ContainsAny(x, "*?[{") {
		return patternCovers(x, r)
	}
	k := [2]string{x, r}
	v, ok := m[k]
	if !ok {
		v = patternCovers(x, r)
		m[k] = v
	}
	return v
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
