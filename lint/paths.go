package lint

import (
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// spread are paths in unrelated top-level trees: a pattern that matches all
// of them is a whole-filesystem glob such as /** or /{,**}.
var spread = []string{"/etc/passwd", "/usr/bin/env", "/var/lib/x", "/home/u/.profile", "/root/.bashrc", "/proc/1/mem", "/boot/vmlinuz"}

var broadGlob = &Analyzer{
	ID: "L007", Name: "broad-glob", Severity: SeverityHigh,
	Doc: `A glob that spans the whole filesystem (/** rw, /{,**} w, @{HOME}/../** …) with write or
exec permission makes the profile meaningless for that access. Name the directories the
program really uses.`,
	Run: func(p *Pass) {
		for _, fr := range allowFileRules(p) {
			a, ok := ruleAccess(fr)
			if !ok {
				continue
			}
			if a&(WritePerms|ExecPerms) == 0 {
				continue
			}
			for _, pat := range compile(p, fr.Path) {
				if matchesAll(pat, spread) {
					p.ReportRangef(fr, "%s %s grants %s on the whole filesystem", fr.Path.Raw, fr.Perms.Raw, Kinds(a&(WritePerms|ExecPerms)))
					break
				}
			}
		}
	},
}

var sensitivePath = &Analyzer{
	ID: "L008", Name: "sensitive-path", Severity: SeverityHigh,
	Doc: `The rule reaches a path on armorer's sensitive list (writes under /etc, /boot, /usr; reads of
/etc/shadow, private keys, ~/.ssh, /proc/*/mem, …): a human should confirm the program needs
it. learn never adds such rules on its own.`,
	Run: func(p *Pass) {
		for _, fr := range allowFileRules(p) {
			a, ok := ruleAccess(fr)
			if !ok {
				continue
			}
			for _, alt := range expandPath(p, fr.Path) {
				if sp, ok := Path(alt, a); ok && isLiteral(alt) {
					reportSeverity(p, fr, sp.Severity, "%s %s: %s (%s): %s", fr.Path.Raw, fr.Perms.Raw, alt, sp.ID, sp.Why)
					break
				}
			}
			if !isLiteral(fr.Path.Pattern()) {
				if sp, w, ok := globReaches(p, fr.Path, a); ok {
					reportSeverity(p, fr, sp.Severity, "%s %s reaches %s (%s): %s", fr.Path.Raw, fr.Perms.Raw, w, sp.ID, sp.Why)
				}
			}
		}
		// A hard link to a sensitive file reaches its content under
		// another name, whatever the permissions of the link rule.
		all := ReadPerms | WritePerms | ExecPerms
		for ri := range rules(p.File) {
			lr, ok := ri.Rule.(*policy.LinkRule)
			if !ok || ri.Qual.Deny || lr.Target == nil {
				continue
			}
			for _, pat := range compile(p, lr.Target) {
				if sp, w, ok := Reaches(pat, all, nil); ok {
					reportSeverity(p, lr, sp.Severity, "link %s -> %s reaches %s (%s): %s", lr.Path.Raw, lr.Target.Raw, w, sp.ID, sp.Why)
					break
				}
			}
		}
	},
}

// globReaches decides whether any path a glob rule matches is on the
// sensitive list for a (the intersection of the two languages, not a test
// of each entry's example path: /etc/cron.d/* w reaches /etc). An
// alternative /root/REST whose rule also names /home/*/REST stands for
// every user's home (@{HOME}), not for root's: the home entries (~/.ssh,
// shell start-up files, ...) judge it, not the whole of /root.
func globReaches(p *Pass, w *policy.Word, a aare.Perm) (SensitivePath, string, bool) {
	alts := expandPath(p, w)
	for _, alt := range alts {
		if !strings.HasPrefix(alt, "/") {
			continue
		}
		pat, err := aare.Compile(alt, nil)
		if err != nil {
			continue
		}
		skip := ""
		if rest, ok := strings.CutPrefix(oneSlash(alt), "/root/"); ok && everyHome(alts, rest) {
			skip = "root-home"
		}
		if sp, witness, ok := reaches(pat, a, nil, skip); ok {
			if pat.Match(sp.Example) {
				witness = sp.Example // a real path reads better than the shortest (/home//.ssh)
			}
			return sp, witness, true
		}
	}
	return SensitivePath{}, "", false
}

// everyHome reports whether alts holds HOMEDIR*/rest for every home
// directory root: the rule's path is one under each user's home.
// Runs of '/' compare as one ("@{HOMEDIRS}/*/" expands to /home//*/), as
// apparmor_parser reads them.
func everyHome(alts []string, rest string) bool {
	for _, h := range homeDirs {
		if !slices.ContainsFunc(alts, func(alt string) bool { return oneSlash(alt) == oneSlash(h+"*/"+rest) }) {
			return false
		}
	}
	return true
}

func oneSlash(s string) string {
	for strings.Contains(s, "//") {
		s = strings.ReplaceAll(s, "//", "/")
	}
	return s
}

func matchesAll(pat *aare.Pattern, paths []string) bool {
	for _, s := range paths {
		if !pat.Match(s) {
			return false
		}
	}
	return true
}

// allowFileRules returns the allow file rules with a path and permissions.
var relativePath = &Analyzer{
	ID: "L012", Name: "relative-path", Severity: SeverityMedium,
	Doc: `A file rule whose name is not absolute ("foo r," or a variable that expands to a relative
name): apparmor_parser accepts it, but the kernel names every file from the root, so the rule
never matches and the access it was meant for is denied (or, for deny, still allowed). Write
the absolute path.`,
	Run: func(p *Pass) {
		for ri := range rules(p.File) {
			fr, ok := ri.Rule.(*policy.FileRule)
			if !ok || fr.Path == nil || fr.Perms == nil {
				continue
			}
			for _, alt := range expandPath(p, fr.Path) {
				if alt != "" && alt[0] != '/' && alt[0] != '@' && alt[0] != '{' && alt[0] != '*' {
					p.ReportRangef(fr, "%s is not an absolute path: the rule never matches; write the path from /", alt)
					break
				}
			}
		}
	},
}

func allowFileRules(p *Pass) []*policy.FileRule {
	var out []*policy.FileRule
	for ri := range rules(p.File) {
		fr, ok := ri.Rule.(*policy.FileRule)
		if ok && fr.Path != nil && fr.Perms != nil && !ri.Qual.Deny {
			out = append(out, fr)
		}
	}
	return out
}

// isLiteral reports whether a path has no glob characters.
func isLiteral(s string) bool { return !strings.ContainsAny(s, "*?[]{}@") }
