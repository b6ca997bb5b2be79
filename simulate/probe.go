package simulate

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/policy/aare"
)

// Sibling probes ask what the events cannot show: would a file the
// program has not touched yet, beside one it has, be allowed? A profile
// learned from data/k1 alone allows k1 and denies the first new key k2;
// replaying the same events passes, the probe does not. For each allowed
// file access the probes are, for a numbered name, the next number (k1 →
// k2, cpu12/online → cpu13/online) and a fresh name in the same directory
// (armorer-probe, with the name's extension) where the program makes new
// files: it wrote there, or read several files there (a content tree, not
// a system directory such as /etc or /usr);
// never for programs and libraries it executes or maps, in temp
// directories (whose names are random: the next number asks) or in the
// kernel's trees. A name the events used is no probe; the permissions
// asked are the union of the accesses that ask it. Probes are warnings,
// never denials.

// FreshName is the name a sibling probe gives a new file.
const FreshName = "armorer-probe"

// Probe is one sibling question and the profile's answer.
type Probe struct {
	Profile string
	Path    string // the sibling asked about
	Of      string // the observed path it is a sibling of
	Next    bool   // the next number after Of, rather than a fresh name
	Perms   aare.Perm
	Owner   bool
	Allowed bool
	Nearest string // when denied: the closest existing rule, or ""
}

// Rule is the rule that would allow the probed access.
func (p Probe) Rule() string {
	return ruleText(learn.AccessRule(&learn.Access{Class: learn.ClassFile, Path: p.Path, Perms: p.Perms}))
}

func (p Probe) String() string {
	what := "a new file beside " + p.Of
	if p.Next {
		what = "the next number after " + p.Of
	}
	if p.Allowed {
		return fmt.Sprintf("%s: %s allowed (%s)", p.Profile, p.Rule(), what)
	}
	s := fmt.Sprintf("%s: %s would be denied: %s", p.Profile, p.Rule(), what)
	if p.Nearest != "" {
		s += "; nearest rule: " + p.Nearest
	}
	return s
}

type probeKey struct {
	profile, path string
	owner         bool
}

type probeCand struct {
	of    string
	next  bool
	read  bool // a fresh name asked by reads alone: needs several files read there
	perms aare.Perm
}

// probe notes a file access's path and, when it is allowed, its sibling
// questions.
func (s *Simulator) probe(profile string, a *learn.Access, allowed bool) {
	if s.seen == nil {
		s.seen, s.cands = map[string]map[string]bool{}, map[probeKey]probeCand{}
	}
	seen := s.seen[profile]
	if seen == nil {
		seen = map[string]bool{}
		s.seen[profile] = seen
	}
	seen[a.Path] = true
	perms := a.Perms &^ aare.PermExec
	if !allowed || perms == 0 || !strings.HasPrefix(a.Path, "/") {
		return
	}
	add := func(p string, next bool) {
		if p == "" || p == a.Path {
			return
		}
		k := probeKey{profile, p, a.Owner}
		c, ok := s.cands[k]
		if !ok || a.Path < c.of {
			c.of, c.next = a.Path, next
		}
		c.perms |= perms
		c.read = c.perms&(aare.PermWrite|aare.PermAppend) == 0
		s.cands[k] = c
	}
	add(nextSibling(a.Path), true)
	if a.Perms&(aare.PermExec|aare.PermMmap) == 0 {
		add(freshSibling(a.Path), false)
	}
}

// freshSibling is a new name in p's directory (a new subdirectory for a
// directory), keeping the extension. Kernel-named trees (/proc, /sys,
// /dev) get none: programs do not create names there.
func freshSibling(p string) string {
	for _, k := range []string{"/proc/", "/sys/", "/dev/", "/tmp/", "/var/tmp/", "/run/user/"} {
		if strings.HasPrefix(p, k) {
			return ""
		}
	}
	dir, base, slash := splitLast(p)
	if base == "" {
		return ""
	}
	ext := ""
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		ext = base[i:]
	}
	return dir + FreshName + ext + slash
}

// nextSibling is p with the last digit run of its last component (or of
// its directory's, when the name has none) one higher, keeping the
// width: k1 → k2, cups-0099 → cups-0100, cpu12/online → cpu13/online.
func nextSibling(p string) string {
	dir, base, slash := splitLast(p)
	if n, ok := incrementLastRun(base); ok {
		return dir + n + slash
	}
	pdir, pbase, _ := splitLast(strings.TrimSuffix(dir, "/"))
	if n, ok := incrementLastRun(pbase); ok && pbase != "" {
		return pdir + n + "/" + base + slash
	}
	return ""
}

// systemTree: directories whose files packages install, not programs at
// run time.
func systemTree(dir string) bool {
	for _, t := range []string{"/etc/", "/usr/", "/lib/", "/lib64/", "/bin/", "/sbin/", "/boot/"} {
		if strings.HasPrefix(dir, t) {
			return true
		}
	}
	return false
}

// splitLast splits p into its directory (with the slash), its last
// component, and "/" when p names a directory.
func splitLast(p string) (dir, base, slash string) {
	if strings.HasSuffix(p, "/") {
		p, slash = p[:len(p)-1], "/"
	}
	i := strings.LastIndexByte(p, '/')
	return p[:i+1], p[i+1:], slash
}

func incrementLastRun(s string) (string, bool) {
	end := len(s)
	for end > 0 && !isDigit(s[end-1]) {
		end--
	}
	if end == 0 {
		return "", false
	}
	start := end
	for start > 0 && isDigit(s[start-1]) {
		start--
	}
	run := s[start:end]
	n, err := strconv.ParseUint(run, 10, 64)
	if err != nil {
		return "", false
	}
	next := strconv.FormatUint(n+1, 10)
	if len(next) < len(run) {
		next = strings.Repeat("0", len(run)-len(next)) + next
	}
	return s[:start] + next + s[end:], true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Probes answers the sibling questions of the accesses replayed so far
// (with ProbeSiblings), sorted by profile and path.
func (s *Simulator) Probes() []Probe {
	// Files seen per directory, for fresh names asked by reads.
	files := map[[2]string]int{}
	for profile, paths := range s.seen {
		for p := range paths {
			if dir, base, slash := splitLast(p); base != "" && slash == "" {
				files[[2]string{profile, dir}]++
			}
		}
	}
	var out []Probe
	for _, k := range slices.SortedFunc(maps.Keys(s.cands), func(a, b probeKey) int {
		return cmp.Or(strings.Compare(a.profile, b.profile), strings.Compare(a.path, b.path), cmp.Compare(b2i(a.owner), b2i(b.owner)))
	}) {
		c := s.cands[k]
		if s.seen[k.profile][k.path] {
			continue // not new: the events name it
		}
		if dir, _, _ := splitLast(k.path); !c.next && c.read && (files[[2]string{k.profile, dir}] < 2 || systemTree(dir)) {
			continue // nothing says the program reads new files there
		}
		cov, _ := s.coverage(k.profile)
		if cov == nil {
			continue
		}
		d := cov.Decide(k.path, c.perms, k.owner)
		p := Probe{Profile: k.profile, Path: k.path, Of: c.of, Next: c.next, Perms: c.perms, Owner: k.owner, Allowed: d.Allowed}
		if !d.Allowed {
			p.Nearest = nearestFile(cov, d.Nearest)
		}
		out = append(out, p)
	}
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
