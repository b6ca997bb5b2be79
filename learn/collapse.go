package learn

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/armorer-dev/armorer/lint"
	"github.com/armorer-dev/armorer/policy/aare"
)

// Why a learned glob replaced the paths it stands for (--explain).
const (
	whyDigitRun    = "digit run"
	whySiblings    = "siblings"
	whyDataDir     = "data directory"
	whyContentTree = "content tree"
	whySubtree     = "subtree"
)

// DigitRuns maps each of patterns to itself with the digit runs that vary
// replaced by [0-9]*: at each component, names of one directory (the same
// components before it) that differ only in their digit runs are
// siblings, and a run in which at least min siblings take distinct values
// varies (cpu0…cpu49 → cpu[0-9]*; the 3 of python3 stays). Patterns are in
// AppArmor syntax (a name from an event is EscapeLiteral'ed first); digits
// inside escapes, classes, alternations and variables are not runs. The
// same step serves every class whose names have components separated by
// '/' (file paths, dbus object paths) or none (unix abstract addresses,
// mqueue names, peer labels).
func DigitRuns(patterns []string, min int) map[string]string {
	out := make(map[string]string, len(patterns))
	for i, np := range digitRunsOf(patterns, min) {
		out[patterns[i]] = np
	}
	return out
}

// digitRunsOf is DigitRuns as a list: the i-th pattern rewritten (the
// same string when nothing in it varies).
func digitRunsOf(patterns []string, min int) []string {
	out := slices.Clone(patterns)
	if min < 1 {
		return out
	}
	// Only a pattern with a digit has a run: the others are in no group
	// at any depth.
	comps := make([][]string, len(patterns))
	n, depths := 0, 0
	for i, p := range patterns {
		if strings.ContainsAny(p, "0123456789") {
			comps[i] = strings.Split(p, "/")
			depths = max(depths, len(comps[i]))
			n++
		}
	}
	if n < min {
		return out // no group has min names
	}
	type group struct {
		members []int
		runs    int
	}
	changed := make([]bool, len(patterns))
	var (
		key   []byte
		keys  []string
		vals  []string
		slots [][2]int   // the runs of the names at depth
		at    [][2]int32 // the i-th name's runs: slots[at[i][0]:at[i][1]]
	)
	at = make([][2]int32, len(patterns))
	for depth := 0; depth < depths; depth++ {
		// A group: the names whose components before depth (rewritten)
		// are the same, and whose component at depth is the same but for
		// its digit runs (the key: those components and the skeleton).
		groups := map[string]*group{}
		keys, slots = keys[:0], slots[:0]
		for i, cs := range comps {
			if depth >= len(cs) || !strings.ContainsAny(cs[depth], "0123456789") {
				continue
			}
			key = key[:0]
			for _, c := range cs[:depth] {
				key = append(append(key, c...), '/')
			}
			n := len(slots)
			key, slots = appendSlots(key, slots, cs[depth])
			if len(slots) == n {
				continue
			}
			at[i] = [2]int32{int32(n), int32(len(slots))}
			g := groups[string(key)]
			if g == nil {
				g = &group{runs: len(slots) - n}
				k := string(key)
				groups[k] = g
				keys = append(keys, k)
			}
			g.members = append(g.members, i)
		}
		for _, k := range keys {
			g := groups[k]
			if len(g.members) < min {
				continue // fewer than min distinct values in every run
			}
			vary := make([]bool, g.runs)
			any := false
			for j := range vary {
				vals = vals[:0]
				for _, i := range g.members {
					r := slots[at[i][0]+int32(j)]
					vals = append(vals, comps[i][depth][r[0]:r[1]])
				}
				slices.Sort(vals)
				if len(slices.Compact(vals)) >= min {
					vary[j], any = true, true
				}
			}
			if !any {
				continue
			}
			for _, i := range g.members {
				comps[i][depth] = rewriteRuns(comps[i][depth], slots[at[i][0]:at[i][1]], vary)
				changed[i] = true
			}
		}
	}
	for i := range patterns {
		if changed[i] {
			out[i] = strings.Join(comps[i], "/")
		}
	}
	return out
}

// runMark stands for a digit run in a skeleton (an escaped name has no
// control bytes).
const runMark = 1

// digitSlots finds the literal digit runs of one pattern component: the
// component with each run replaced by runMark, and the runs' [start, end).
func digitSlots(c string) (string, [][2]int) {
	if !strings.ContainsAny(c, "0123456789") {
		return c, nil
	}
	skel, runs := appendSlots(nil, nil, c)
	return string(skel), runs
}

// appendSlots is digitSlots appending the skeleton to skel and the runs
// to runs.
func appendSlots(skel []byte, runs [][2]int, c string) ([]byte, [][2]int) {
	for i := 0; i < len(c); {
		switch ch := c[i]; {
		case ch == '\\':
			n := 2
			if i+1 < len(c) && c[i+1] == 'x' {
				n = 4
			}
			n = min(n, len(c)-i)
			skel = append(skel, c[i:i+n]...)
			i += n
		case ch == '[' || ch == '{' || (ch == '@' && i+1 < len(c) && c[i+1] == '{'):
			end := closing(c, i)
			skel = append(skel, c[i:end]...)
			i = end
		case isDigit(ch):
			j := i
			for j < len(c) && isDigit(c[j]) {
				j++
			}
			runs = append(runs, [2]int{i, j})
			skel = append(skel, runMark)
			i = j
		default:
			skel = append(skel, ch)
			i++
		}
	}
	return skel, runs
}

// closing returns the index after the bracket, brace or variable that
// opens at c[i] (the end of c when it is not closed).
func closing(c string, i int) int {
	open, close := c[i], byte(']')
	if open == '@' {
		open, i = '{', i+1
	}
	if open == '{' {
		close = '}'
	}
	depth := 0
	for j := i; j < len(c); j++ {
		switch c[j] {
		case '\\':
			j++
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(c)
}

// replaceRuns rewrites the digit runs of c marked in vary as [0-9]*.
func replaceRuns(c string, vary []bool) string {
	_, runs := digitSlots(c)
	return rewriteRuns(c, runs, vary)
}

// rewriteRuns is replaceRuns with c's runs given.
func rewriteRuns(c string, runs [][2]int, vary []bool) string {
	var b strings.Builder
	b.Grow(len(c) + 6*len(runs))
	last := 0
	for j, r := range runs {
		if j < len(vary) && vary[j] {
			b.WriteString(c[last:r[0]])
			b.WriteString("[0-9]*")
			last = r[1]
		}
	}
	b.WriteString(c[last:])
	return b.String()
}

// collapser generalises a profile's file entries together: digit runs,
// siblings, data directories and content trees, with the union of the
// permissions of what it merges, never into a sensitive place.
type collapser struct {
	l     *Learner
	p     *Profile
	guard func(pattern string, perms aare.Perm) bool
	// reached is lint.Reaches's entry for a pattern, decided on its tree
	// (remembered for the profile).
	reached func(pattern string, perms aare.Perm) (lint.SensitivePath, bool, error)
	example func(pattern string, entry lint.SensitivePath) (string, bool) // a shortest path it reaches of entry's
	min     int                                                           // --siblings
	union   bool
	appTree string
	apps    []string            // names the application goes by: its profile's and attachment's base names
	refused map[*fileEntry]bool // in a perm-union finding already
	// patterns are the globs matchesAll parsed, for this profile.
	patterns map[string]*aare.Node
	automata map[string]*aare.Pattern // the globs covered compiled, for this profile
}

// unite replaces the entries of g by pat with the union of their
// permissions, when the guard passes. When it fails only because the
// union adds a write or exec the sensitive table guards, a finding says
// so and the caller may try the permissions apart. A data directory's
// glob is owner exactly when every entry it replaces is owned (the
// application's own files, as aa-logprof proposes owner for fsuid ==
// ouid); other globs are owner when every entry was.
func (c *collapser) unite(g []*fileEntry, pat, why string) (ok, unionRefused bool) {
	var perms aare.Perm
	owner, owned := true, true
	for _, e := range g {
		perms |= e.perms
		owner = owner && e.owner
		owned = owned && e.owned
	}
	if why == whyDataDir {
		owner = owned
	}
	perms = normal(perms)
	if perms&(aare.PermWrite|aare.PermAppend) != 0 && slices.ContainsFunc(g, func(e *fileEntry) bool {
		return (perms&^e.perms)&(aare.PermMmap|aare.PermExec) != 0
	}) {
		// Never spread mapping as code to names that can be written.
		return false, true
	}
	if c.guard(pat, perms) {
		for _, e := range g {
			e.pattern, e.why = pat, why
			if why == whyDataDir {
				e.owner = owner
			}
		}
		return true, false
	}
	var added aare.Perm
	for _, e := range g {
		added |= perms &^ e.perms
	}
	added &= lint.WritePerms | lint.ExecPerms
	if added == 0 {
		return false, false
	}
	entry, reached, err := c.reached(pat, perms)
	if err != nil || !reached || entry.Access&added == 0 {
		return false, false
	}
	if !slices.ContainsFunc(g, func(e *fileEntry) bool { return !c.refused[e] }) {
		return false, true // the finding for these is there already
	}
	example, ok := c.example(pat, entry)
	if !ok {
		return false, false
	}
	var names []string
	var ev Evidence
	for _, e := range g {
		c.refused[e] = true
		names = append(names, e.members...)
		ev.merge(e.ev)
	}
	slices.Sort(names)
	r := rule{Class: ClassFile, Path: pat, Owner: owner, Perms: perms, Exec: g[0].exec, ExecTarget: g[0].target}
	f := newFinding(c.p.Name, r, "perm-union", entry.Severity, fmt.Sprintf(
		"kept apart: one rule for %s with the union of their permissions would add %s, and reach %s (%s: %s)",
		listPaths(names), permString(added), example, entry.ID, entry.Why))
	f.Evidence = Evidence{Examples: ev.Examples, Lines: ev.Lines} // no events held back: the accesses are learned apart
	c.p.Findings = append(c.p.Findings, f)
	return false, true
}

// listPaths names up to a few paths for a message.
func listPaths(names []string) string {
	const show = 4
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:show], ", "), len(names)-show)
}

// classKey groups entries that may merge: the same exec transition, and,
// without the union, the same permissions and owner.
func (c *collapser) classKey(e *fileEntry, union bool) string {
	return string(appendClassKey(nil, e, union))
}

// appendClassKey appends classKey's text to b.
func appendClassKey(b []byte, e *fileEntry, union bool) []byte {
	b = strconv.AppendInt(b, int64(e.exec), 10)
	b = append(append(b, 0), e.target...)
	if !union {
		b = strconv.AppendInt(append(b, 0), int64(e.perms), 10)
		b = strconv.AppendBool(append(b, 0), e.owner)
	}
	return b
}

// digits collapses varying digit runs (DigitRuns over the entries of
// each class).
func (c *collapser) digits(entries []*fileEntry, union bool) {
	classes := map[string][]*fileEntry{}
	var key []byte
	for _, e := range entries {
		if e.exec != aare.ExecNone {
			continue // an executable's name is never widened here
		}
		key = appendClassKey(key[:0], e, union)
		classes[string(key)] = append(classes[string(key)], e)
	}
	for _, k := range slices.Sorted(maps.Keys(classes)) {
		class := classes[k]
		var pats []string
		for _, e := range class {
			pats = append(pats, e.pattern)
		}
		m := digitRunsOf(pats, c.min)
		byPat := map[string][]*fileEntry{}
		for i, e := range class {
			if np := m[i]; np != e.pattern {
				byPat[np] = append(byPat[np], e)
			}
		}
		for _, np := range slices.Sorted(maps.Keys(byPat)) {
			g := byPat[np]
			if ok, refused := c.unite(g, np, whyDigitRun); !ok && refused {
				c.digits(g, false)
			}
		}
	}
}

// siblings replaces --siblings or more names in one directory by dir/*.
func (c *collapser) siblings(entries []*fileEntry, union bool) {
	// The groups by directory and class: lists[index[key]].
	index := map[string]int{}
	var lists [][]*fileEntry
	var key []byte
	for _, e := range entries {
		if e.exec != aare.ExecNone || strings.HasSuffix(e.pattern, "/") || strings.Contains(e.pattern, "**") {
			continue
		}
		dir := e.pattern[:strings.LastIndexByte(e.pattern, '/')+1]
		if dir == "" || e.pattern[len(dir):] == "*" {
			continue
		}
		key = appendClassKey(append(append(key[:0], dir...), 0), e, union)
		i, ok := index[string(key)] // (a lookup builds no string)
		if !ok {
			i = len(lists)
			index[string(key)] = i
			lists = append(lists, nil)
		}
		lists[i] = append(lists[i], e)
	}
	for _, k := range slices.Sorted(maps.Keys(index)) {
		g := lists[index[k]]
		if len(g) < c.min || distinctPatterns(g) < c.min {
			continue
		}
		dir := g[0].pattern[:strings.LastIndexByte(g[0].pattern, '/')+1]
		if ok, refused := c.unite(g, dir+"*", whySiblings); !ok && refused {
			c.siblings(g, false)
		}
	}
}

func distinctPatterns(g []*fileEntry) int {
	seen := map[string]bool{}
	for _, e := range g {
		seen[e.pattern] = true
	}
	return len(seen)
}

// dataDirs: a directory the application writes several files in, under
// its own places, becomes dir/* (files directly in it) or dir/** (files
// spread over subdirectories, or subdirectories it makes). What it also
// reads there joins with the union of the permissions; what it maps as
// code stays a rule of its own.
func (c *collapser) dataDirs(entries []*fileEntry) {
	minWritten := min(c.min, 2)
	c.trees(entries, whyDataDir, minWritten, true, func(e *fileEntry) (string, bool) {
		if e.perms&(aare.PermWrite|aare.PermAppend) == 0 || e.perms&(aare.PermMmap|aare.PermExec) != 0 {
			return "", false
		}
		return c.dataRoot(e.pattern)
	})
}

// contentTrees: several files a server reads, spread over subdirectories
// of a content root (/var/www, /srv/NAME), become root/** r.
func (c *collapser) contentTrees(entries []*fileEntry) {
	c.trees(entries, whyContentTree, min(c.min, 3), false, func(e *fileEntry) (string, bool) {
		if e.perms != aare.PermRead {
			return "", false
		}
		if strings.HasPrefix(e.pattern, "/var/www/") {
			return "/var/www/", true
		}
		if rest, ok := strings.CutPrefix(e.pattern, "/srv/"); ok {
			if name, _, ok := strings.Cut(rest, "/"); ok && name != "" && !hasGlob(name) {
				return "/srv/" + name + "/", true
			}
		}
		return "", false
	})
}

// trees finds, for the entries rootOf places under a root, the directory
// below (or at, for a data root) the root that holds at least need of them
// in two or more of its entries, and replaces them by dir/* or dir/**.
// Data directories take the deepest such directory (the narrowest that
// holds what is written); content trees the shallowest (the content root).
func (c *collapser) trees(entries []*fileEntry, why string, need int, deepest bool, rootOf func(*fileEntry) (string, bool)) {
	type cand struct {
		dir     string
		members []*fileEntry
	}
	cands := map[string]*cand{}
	for _, e := range entries {
		if e.exec != aare.ExecNone || e.why != "" && e.why != whyDigitRun {
			continue
		}
		root, ok := rootOf(e)
		if !ok {
			continue
		}
		rel := strings.TrimPrefix(e.pattern, root)
		comps := strings.Split(strings.TrimSuffix(rel, "/"), "/")
		dir := root
		for k := 0; k < len(comps); k++ { // dir: root and each directory down to e's parent
			if k > 0 {
				dir += comps[k-1] + "/"
			}
			if strings.Contains(dir, "**") {
				break
			}
			if dir == c.appTree && why == whyDataDir {
				continue // never the whole tree: it holds the program itself
			}
			k := cands[dir]
			if k == nil {
				k = &cand{dir: dir}
				cands[dir] = k
			}
			k.members = append(k.members, e)
		}
	}
	dirs := slices.Collect(maps.Keys(cands))
	slices.SortFunc(dirs, func(a, b string) int {
		d := strings.Count(a, "/") - strings.Count(b, "/")
		if deepest {
			d = -d
		}
		return cmp.Or(d, strings.Compare(a, b))
	})
	done := map[*fileEntry]bool{}
	for _, dir := range dirs {
		k := cands[dir]
		var free []*fileEntry
		kids := map[string]bool{}
		nested := false
		for _, e := range k.members {
			if !done[e] {
				free = append(free, e)
				kid := strings.SplitN(strings.TrimPrefix(e.pattern, dir), "/", 2)
				kids[kid[0]] = true
				nested = nested || len(kid) > 1
			}
		}
		if distinctPatterns(free) < need || len(kids) < 2 || (why == whyContentTree && !nested) {
			continue
		}
		pat := dir + "*"
		if nested {
			pat = dir + "**"
		}
		if ok, _ := c.unite(free, pat, why); ok {
			for _, e := range free {
				done[e] = true
			}
		}
	}
}

// dataRoot returns the application's own data place a pattern lies in:
// its tree, or /var/lib/APP, /var/cache/APP, /run/APP, /var/run/APP,
// /srv/APP for a name APP the application goes by.
func (c *collapser) dataRoot(p string) (string, bool) {
	if c.appTree != "" && strings.HasPrefix(p, c.appTree) {
		return c.appTree, true
	}
	for _, base := range []string{"/var/lib/", "/var/cache/", "/run/", "/var/run/", "/srv/", "/var/spool/"} {
		rest, ok := strings.CutPrefix(p, base)
		if !ok {
			continue
		}
		name, _, ok := strings.Cut(rest, "/")
		if ok && c.ownName(name) {
			return base + name + "/", true
		}
	}
	return "", false
}

// ownName says whether a directory name is the application's: one of
// its names is a prefix of the other (postgres, postgresql; redis,
// redis-server), at least 3 characters long.
func (c *collapser) ownName(dir string) bool {
	if len(dir) < 3 || hasGlob(dir) {
		return false
	}
	for _, a := range c.apps {
		if len(a) >= 3 && (strings.HasPrefix(a, dir) || strings.HasPrefix(dir, a)) {
			return true
		}
	}
	return false
}

// appNames are the names a profile's application goes by: the base of
// its name and of its attachment, without a version suffix.
func appNames(profile, attach string) []string {
	var out []string
	for _, n := range []string{profile, attach} {
		n = strings.SplitN(n, "//", 2)[0]
		b := strings.TrimRight(path.Base(n), "0123456789.-_")
		if b != "" && b != "." && b != "/" && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// spillDigits collapses the digit runs of a name that is a temporary or
// spill file of the service (pgsql_tmp1234.5, temp-1234.rdb), or lies in
// a temporary directory of its own (pgsql_tmp1234.5.fileset/i1of2.p0.0):
// its pids and counters vary from run to run.
func spillDigits(c string) string {
	_, runs := digitSlots(c)
	if len(runs) == 0 {
		return c
	}
	vary := make([]bool, len(runs))
	for i := range vary {
		vary[i] = true
	}
	return replaceRuns(c, vary)
}

// isSpillName: a name that says it is temporary: tmp or temp not
// followed by a letter (pgsql_tmp1234, temp-1234.rdb, x.tmp; not
// templates, tmpfiles.d).
func isSpillName(c string) bool {
	l := strings.ToLower(c)
	for _, w := range []string{"tmp", "temp"} {
		for i := 0; ; {
			j := strings.Index(l[i:], w)
			if j < 0 {
				break
			}
			end := i + j + len(w)
			if end == len(l) || !(l[end] >= 'a' && l[end] <= 'z') {
				return true
			}
			i = end
		}
	}
	return false
}

// dropCovered removes each entry another entry (or the existing
// profile) already allows, moving its events to the one that covers it:
// no learned rule is covered by another learned or existing rule.
func (c *collapser) dropCovered(entries []*fileEntry, cov coverer) []*fileEntry {
	fc, _ := cov.(fileCoverer)
	var globs []globEntry
	for _, e := range entries {
		if hasGlob(e.pattern) {
			g := globEntry{e: e, prefix: literalPrefix(e.pattern), suffix: literalSuffix(e.pattern)}
			if strings.Contains(g.prefix, "//") {
				g.prefix = "" // the pattern folds it
			}
			globs = append(globs, g)
		}
	}
	dropped := map[*fileEntry]bool{}
	var by []*fileEntry
	for _, e := range entries {
		r := aare.Rule{Pattern: e.pattern, Perms: e.perms, Owner: e.owner, Exec: aare.ExecMode{Kind: e.exec, Target: e.target}}
		if fc != nil && e.pattern != e.members[0] && fc.coversFile(r) {
			dropped[e] = true
			c.p.Allowed += e.ev.counted()
			continue
		}
		by = by[:0]
		for _, g := range globs {
			if g.e == e || g.e.perms&e.perms != e.perms || (g.e.owner && !e.owner) || dropped[g.e] || !c.matchesAll(g, e.raw) {
				continue
			}
			by = append(by, g.e)
		}
		if len(by) == 0 {
			continue
		}
		if c.covered(r, by) {
			g := by[0]
			g.ev.merge(e.ev)
			g.members = append(g.members, e.members...)
			g.raw = append(g.raw, e.raw...)
			dropped[e] = true
		}
	}
	return slices.DeleteFunc(entries, func(e *fileEntry) bool { return dropped[e] })
}

// globEntry is an entry whose pattern is a glob, with the literal text
// every path it matches begins and ends with.
type globEntry struct {
	e              *fileEntry
	prefix, suffix string
}

// covered is aare.NewSet(the rules of by).Covers(r) == aare.Yes, for
// entries by whose patterns match each path r was learned from. A
// literal r is decided on its path, without automata. For one glob and
// an r without exec (nor deny or audit, which learned rules never have,
// and each glob grants all of r's permissions, owner only when r is), r is
// covered exactly when the glob matches every path of r's pattern: decided
// by walking r's tree through the glob's automaton (compiled once per
// profile), without r's automaton or the set's product.
func (c *collapser) covered(r aare.Rule, by []*fileEntry) bool {
	var cands []aare.Rule
	for _, g := range by {
		cands = append(cands, aare.Rule{Pattern: g.pattern, Perms: g.perms, Owner: g.owner, Exec: aare.ExecMode{Kind: g.exec, Target: g.target}})
	}
	res, ok, err := aare.CoversLiteral(cands, r, c.l.m.vars)
	if ok {
		return err == nil && res == aare.Yes
	}
	if len(by) == 1 && r.Perms&aare.PermExec == 0 && r.Exec.Kind == aare.ExecNone {
		tree, err := aare.Parse(r.Pattern, c.l.m.vars)
		if err != nil {
			return false
		}
		if p := c.compiled(by[0].pattern); p != nil {
			return aare.CoversTree(p, tree)
		}
		return false
	}
	set, err := aare.NewSet(cands, c.l.m.vars)
	if err != nil {
		return false
	}
	res, err = set.Covers(r, c.l.m.vars)
	return err == nil && res == aare.Yes
}

// compiled is a glob's automaton, built once per profile (nil when it
// does not compile).
func (c *collapser) compiled(pattern string) *aare.Pattern {
	if p, ok := c.automata[pattern]; ok {
		return p
	}
	p, err := aare.Compile(pattern, c.l.m.vars)
	if err != nil {
		p = nil
	}
	if c.automata == nil {
		c.automata = map[string]*aare.Pattern{}
	}
	c.automata[pattern] = p
	return p
}

func (c *collapser) matchesAll(g globEntry, paths []string) bool {
	// Every path the pattern matches begins with its literal prefix and
	// ends with its literal suffix: most pairs end here, without an
	// automaton.
	for _, p := range paths {
		if !strings.HasPrefix(p, g.prefix) || !strings.HasSuffix(p, g.suffix) {
			return false
		}
	}
	if len(paths) == 0 {
		return false
	}
	pattern := g.e.pattern
	tree := c.patterns[pattern]
	if tree == nil {
		tree = c.l.globTrees[pattern]
	}
	if tree == nil {
		// Parsed, not compiled (aare.MatchTree walks the tree), and kept
		// for this profile only: a log's thousands of learned globs would
		// stay compiled to the end in the learner's matcher.
		var err error
		if tree, err = aare.Parse(pattern, c.l.m.vars); err != nil {
			c.l.m.compile(pattern) // remembered for Problems
			return false
		}
		if !hasVar(pattern) {
			if c.patterns == nil {
				c.patterns = map[string]*aare.Node{}
			}
			c.patterns[pattern] = tree
		} else if len(c.l.globTrees) < maxGlobTrees {
			// A glob with a variable (@{PROC}/@{pid}/stat, @{HOME}/...)
			// comes back in other profiles: kept for them, up to a bound.
			if c.l.globTrees == nil {
				c.l.globTrees = map[string]*aare.Node{}
			}
			c.l.globTrees[pattern] = tree
		}
	}
	for _, p := range paths {
		if !aare.MatchTree(tree, p) {
			return false
		}
	}
	return true
}

// maxGlobTrees bounds Learner.globTrees.
const maxGlobTrees = 4096

// hasVar: the pattern uses a variable.
func hasVar(pattern string) bool { return strings.Contains(pattern, "@{") }

// fileCoverer is a coverer that answers for a whole file rule (Coverage).
type fileCoverer interface {
	coversFile(r aare.Rule) bool
	// ownFileRules are the literal file rules of the profile itself
	// (its file and its local/ include), which generalise with the new
	// events.
	ownFileRules() []aare.Rule
}

// globNote says why a glob replaced the observed names, and which
// (the --explain line and --json's glob).
func globNote(why string, members []string) *Globbed {
	names := slices.Clone(members)
	slices.Sort(names)
	return &Globbed{Why: why, Replaced: slices.Compact(names)}
}

// collapse generalises a profile's entries together with the profile's
// own literal rules: varying digit runs, data directories, content
// trees, siblings (and, aggressive, subtrees); then drops what another
// rule covers.
func (l *Learner) collapse(p *Profile, entries []*fileEntry, cov coverer, g *fileGuard) ([]*fileEntry, error) {
	c := &collapser{l: l, p: p, guard: g.allows, reached: g.reached, example: g.example, min: l.opts.siblings(), union: !l.opts.NoPermUnion,
		refused: map[*fileEntry]bool{}}
	root := strings.SplitN(p.Name, "//", 2)[0]
	if l.opts.AppTree != nil {
		c.appTree = l.opts.AppTree(root)
	}
	c.apps = appNames(root, strings.TrimSuffix(c.appTree, "/"))
	fc, _ := cov.(fileCoverer)
	if fc != nil {
		for _, r := range fc.ownFileRules() {
			entries = append(entries, &fileEntry{pattern: r.Pattern, perms: r.Perms, owner: r.Owner, owned: r.Owner,
				members: []string{r.Pattern + " (the profile's rule)"}, raw: []string{r.Pattern}, existing: true})
		}
	}
	c.digits(entries, c.union)
	c.dataDirs(entries)
	c.contentTrees(entries)
	c.siblings(entries, c.union)
	if l.opts.Glob == GlobAggressive {
		c.subtrees(entries, c.union)
	}
	// The profile's own rules that no glob took stay as they are.
	entries = slices.DeleteFunc(entries, func(e *fileEntry) bool { return e.existing && e.pattern == e.raw[0] })
	entries, err := mergeEntries(entries)
	if err != nil {
		return nil, err
	}
	// A glob of the profile's rules alone is not learned from these events.
	entries = slices.DeleteFunc(entries, func(e *fileEntry) bool { return e.existing })
	return c.dropCovered(entries, cov), nil
}

// subtrees (aggressive) replaces --siblings or more entries below a
// directory, spread over at least two of its subdirectories, by dir/**.
// The directory must have at least two components; the narrowest wins.
func (c *collapser) subtrees(entries []*fileEntry, union bool) {
	type cand struct {
		subdirs map[string]bool
		members []*fileEntry
	}
	groups := map[string]*cand{}
	for _, e := range entries {
		if e.exec != aare.ExecNone || strings.Contains(e.pattern, "**") {
			continue
		}
		attrs := "\x00" + c.classKey(e, union)
		comps := strings.Split(strings.TrimSuffix(e.pattern, "/"), "/")
		for i := 2; i < len(comps)-1; i++ {
			dir := strings.Join(comps[:i+1], "/") + "/"
			k := groups[dir+attrs]
			if k == nil {
				k = &cand{subdirs: map[string]bool{}}
				groups[dir+attrs] = k
			}
			k.subdirs[comps[i+1]] = true
			k.members = append(k.members, e)
		}
	}
	keys := slices.Collect(maps.Keys(groups))
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(strings.Count(b, "/")-strings.Count(a, "/"), strings.Compare(a, b))
	})
	done := map[*fileEntry]bool{}
	for _, key := range keys {
		k := groups[key]
		var free []*fileEntry
		for _, e := range k.members {
			if !done[e] && !strings.Contains(e.pattern, "**") {
				free = append(free, e)
			}
		}
		if distinctPatterns(free) < c.min || len(k.subdirs) < 2 {
			continue
		}
		dir := key[:strings.IndexByte(key, 0)]
		if ok, _ := c.unite(free, dir+"**", whySubtree); ok {
			for _, e := range free {
				done[e] = true
			}
		}
	}
}
