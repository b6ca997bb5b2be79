// Package lint checks AppArmor profiles for risky rules. This file holds the
// one table of sensitive paths, capabilities and network types: lint uses it
// to flag rules, learn uses it to refuse adding rules without a human.
package lint

import (
	"fmt"
	"strings"
	"sync"

	"github.com/armorer-dev/armorer/policy/aare"
)

// The permissions the sensitive table tells apart, as sets of aare's
// file permissions: reading (r, and m, which maps a file), writing (w, a,
// l, k, and the kernel's create/delete) and executing (x in any mode).
const (
	ReadPerms  = aare.PermRead | aare.PermMmap
	WritePerms = aare.PermWrite | aare.PermAppend | aare.PermLink | aare.PermLock
	ExecPerms  = aare.PermExec
)

// Sensitivity is the part of a that the table tells apart: each kind
// (ReadPerms, WritePerms, ExecPerms) a has any permission of, whole. Every
// entry's Access is made of whole kinds, so Path, Reaches, ReachesTree,
// MayReach and the others answer for a what they answer for
// Sensitivity(a): a key for remembering their answers.
func Sensitivity(a aare.Perm) aare.Perm {
	var s aare.Perm
	for _, k := range []aare.Perm{ReadPerms, WritePerms, ExecPerms} {
		if a&k != 0 {
			s |= k
		}
	}
	return s
}

// Kinds spells permissions as "read", "write", "exec" joined with "+".
func Kinds(p aare.Perm) string {
	var parts []string
	if p&ReadPerms != 0 {
		parts = append(parts, "read")
	}
	if p&WritePerms != 0 {
		parts = append(parts, "write")
	}
	if p&ExecPerms != 0 {
		parts = append(parts, "exec")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// Severity ranks a finding or a sensitive entry; a higher value is more
// severe, so severities compare with < and sort.
type Severity uint8

const (
	// SeverityLow is for findings that weaken observability or hygiene,
	// not confinement itself.
	SeverityLow Severity = iota + 1
	SeverityMedium
	SeverityHigh
)

// ParseSeverity parses "low", "medium" or "high".
func ParseSeverity(s string) (Severity, error) {
	for _, v := range []Severity{SeverityLow, SeverityMedium, SeverityHigh} {
		if strings.EqualFold(s, v.String()) {
			return v, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q: use low, medium or high", s)
}

func (s Severity) String() string {
	switch s {
	case SeverityHigh:
		return "high"
	case SeverityMedium:
		return "medium"
	case SeverityLow:
		return "low"
	}
	return "unknown"
}

// PathMatch says how a SensitivePath's Path is compared with a concrete path.
type PathMatch uint8

const (
	// MatchExact: the path equals Path.
	MatchExact PathMatch = iota + 1
	// MatchTree: the path is Path (a directory ending in "/") or below it.
	MatchTree
	// MatchHomeTree: Path is relative to a home directory (/home/USER/ or
	// /root/); the path is that directory or below it.
	MatchHomeTree
	// MatchProcPid: Path is relative to /proc/PID/ (or /proc/self/,
	// /proc/thread-self/, /proc/PID/task/TID/).
	MatchProcPid
	// MatchHomeFile: Path is a file relative to a home directory; the path
	// is exactly that file.
	MatchHomeFile
	// MatchNamePrefix: the path is Path followed by anything but "/"
	// (/dev/sd matches /dev/sda1): device names in one directory.
	MatchNamePrefix
)

// SensitivePath is one entry of the sensitive path table.
type SensitivePath struct {
	ID       string    // stable identifier, e.g. "etc-shadow"
	Match    PathMatch // how Path is compared
	Path     string    // absolute, or relative for MatchHomeTree/MatchProcPid
	Access   aare.Perm // the permissions that make it sensitive
	Severity Severity
	Why      string // one sentence for a reviewer
	// Example is a concrete path this entry matches, for checks that test
	// a glob (rather than a concrete path) against the table.
	Example string
}

// SensitivePaths is the table of paths whose access needs a human decision.
// Order matters only for which entry Path reports first: more specific
// entries come before broader ones.
var SensitivePaths = []SensitivePath{
	{ID: "etc-shadow", Match: MatchExact, Path: "/etc/shadow", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "password hashes", Example: "/etc/shadow"},
	{ID: "etc-gshadow", Match: MatchExact, Path: "/etc/gshadow", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "group password hashes", Example: "/etc/gshadow"},
	{ID: "etc-shadow-backup", Match: MatchExact, Path: "/etc/shadow-", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "backup of the password hashes", Example: "/etc/shadow-"},
	{ID: "etc-sudoers", Match: MatchExact, Path: "/etc/sudoers", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "who may become root", Example: "/etc/sudoers"},
	{ID: "etc-sudoers-d", Match: MatchTree, Path: "/etc/sudoers.d/", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "who may become root", Example: "/etc/sudoers.d/local"},
	{ID: "ssl-private", Match: MatchTree, Path: "/etc/ssl/private/", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "TLS private keys", Example: "/etc/ssl/private/ssl-cert-snakeoil.key"},
	{ID: "ssh-host-keys", Match: MatchTree, Path: "/etc/ssh/", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "SSH host keys and server configuration", Example: "/etc/ssh/ssh_host_ed25519_key"},
	{ID: "apparmor-policy", Match: MatchTree, Path: "/etc/apparmor.d/", Access: WritePerms, Severity: SeverityHigh,
		Why: "writing policy lets the process rewrite its own confinement", Example: "/etc/apparmor.d/usr.bin.app"},
	{ID: "etc-write", Match: MatchTree, Path: "/etc/", Access: WritePerms, Severity: SeverityHigh,
		Why: "system configuration", Example: "/etc/passwd"},
	{ID: "boot-write", Match: MatchTree, Path: "/boot/", Access: WritePerms, Severity: SeverityHigh,
		Why: "kernels and boot loader", Example: "/boot/vmlinuz"},
	{ID: "usr-write", Match: MatchTree, Path: "/usr/", Access: WritePerms, Severity: SeverityHigh,
		Why: "installed programs and libraries", Example: "/usr/bin/sudo"},
	{ID: "bin-write", Match: MatchTree, Path: "/bin/", Access: WritePerms, Severity: SeverityHigh,
		Why: "installed programs", Example: "/bin/sh"},
	{ID: "sbin-write", Match: MatchTree, Path: "/sbin/", Access: WritePerms, Severity: SeverityHigh,
		Why: "installed programs", Example: "/sbin/init"},
	{ID: "lib-write", Match: MatchTree, Path: "/lib/", Access: WritePerms, Severity: SeverityHigh,
		Why: "installed libraries and kernel modules", Example: "/lib/modules/6.1.0/modules.dep"},
	{ID: "lib64-write", Match: MatchTree, Path: "/lib64/", Access: WritePerms, Severity: SeverityHigh,
		Why: "installed libraries", Example: "/lib64/ld-linux-x86-64.so.2"},
	{ID: "root-home", Match: MatchTree, Path: "/root/", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "root's home directory", Example: "/root/.bashrc"},
	{ID: "home-ssh", Match: MatchHomeTree, Path: ".ssh/", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "SSH keys and authorized_keys", Example: "/home/user/.ssh/id_ed25519"},
	{ID: "home-gnupg", Match: MatchHomeTree, Path: ".gnupg/", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "GnuPG private keys", Example: "/home/user/.gnupg/private-keys-v1.d/key"},
	{ID: "proc-mem", Match: MatchProcPid, Path: "mem", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "another process's memory", Example: "/proc/1/mem"},
	{ID: "proc-environ", Match: MatchProcPid, Path: "environ", Access: ReadPerms, Severity: SeverityMedium,
		Why: "environment variables often hold secrets", Example: "/proc/1/environ"},
	{ID: "proc-kcore", Match: MatchExact, Path: "/proc/kcore", Access: ReadPerms, Severity: SeverityHigh,
		Why: "kernel memory", Example: "/proc/kcore"},
	{ID: "proc-sys-write", Match: MatchTree, Path: "/proc/sys/", Access: WritePerms, Severity: SeverityHigh,
		Why: "kernel tunables", Example: "/proc/sys/kernel/modprobe"},
	{ID: "proc-sysrq", Match: MatchExact, Path: "/proc/sysrq-trigger", Access: WritePerms, Severity: SeverityHigh,
		Why: "reboots, crashes or freezes the machine", Example: "/proc/sysrq-trigger"},
	{ID: "dev-mem", Match: MatchExact, Path: "/dev/mem", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "physical memory", Example: "/dev/mem"},
	{ID: "dev-kmem", Match: MatchExact, Path: "/dev/kmem", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "kernel memory", Example: "/dev/kmem"},
	{ID: "dev-port", Match: MatchExact, Path: "/dev/port", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "I/O ports", Example: "/dev/port"},
	{ID: "securityfs-write", Match: MatchTree, Path: "/sys/kernel/security/", Access: WritePerms, Severity: SeverityHigh,
		Why: "loads or removes security policy", Example: "/sys/kernel/security/apparmor/.replace"},
	{ID: "container-socket", Match: MatchExact, Path: "/run/docker.sock", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "the Docker socket is root on the host", Example: "/run/docker.sock"},
	{ID: "container-socket-var", Match: MatchExact, Path: "/var/run/docker.sock", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "the Docker socket is root on the host", Example: "/var/run/docker.sock"},
	{ID: "containerd-socket", Match: MatchExact, Path: "/run/containerd/containerd.sock", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "the containerd socket is root on the host", Example: "/run/containerd/containerd.sock"},
	{ID: "containerd-socket-var", Match: MatchExact, Path: "/var/run/containerd/containerd.sock", Access: ReadPerms | WritePerms, Severity: SeverityHigh,
		Why: "the containerd socket is root on the host", Example: "/var/run/containerd/containerd.sock"},
	{ID: "cron-spool", Match: MatchTree, Path: "/var/spool/cron/", Access: WritePerms, Severity: SeverityHigh,
		Why: "crontabs run commands as their owner, root included", Example: "/var/spool/cron/crontabs/root"},
	{ID: "dev-disk-links", Match: MatchTree, Path: "/dev/disk/", Access: WritePerms, Severity: SeverityHigh,
		Why: "raw block devices: writing bypasses every file permission", Example: "/dev/disk/by-uuid/1234"},
	{ID: "dev-mapper", Match: MatchTree, Path: "/dev/mapper/", Access: WritePerms, Severity: SeverityHigh,
		Why: "raw block devices: writing bypasses every file permission", Example: "/dev/mapper/root"},
}

func init() {
	// Block devices: writing one rewrites a filesystem under every check.
	for _, d := range []string{"sd", "hd", "vd", "xvd", "nvme", "mmcblk", "dm-", "md", "loop", "sr", "nbd", "rbd", "zd"} {
		SensitivePaths = append(SensitivePaths, SensitivePath{ID: "block-device-" + strings.TrimSuffix(d, "-"), Match: MatchNamePrefix, Path: "/dev/" + d,
			Access: WritePerms, Severity: SeverityHigh, Why: "raw block device: writing bypasses every file permission",
			Example: "/dev/" + d + "0"})
	}
	// Shell start-up files run their content as the home's owner at the
	// next login; root's are under root-home already.
	for _, f := range shellStartup {
		SensitivePaths = append(SensitivePaths, SensitivePath{ID: "home-startup-" + strings.NewReplacer(".", "", "/", "-").Replace(f), Match: MatchHomeFile, Path: f,
			Access: WritePerms, Severity: SeverityHigh, Why: "shell start-up file: runs as the user at the next login",
			Example: "/home/user/" + f})
	}
}

// shellStartup are the files shells read at start-up, relative to a home.
var shellStartup = []string{
	".profile", ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".bash_aliases",
	".zshrc", ".zprofile", ".zshenv", ".zlogin", ".zlogout",
	".cshrc", ".tcshrc", ".login", ".kshrc", ".mkshrc", ".config/fish/config.fish", ".pam_environment",
}

// homeDirs are the directories whose children are home directories, as in
// tunables/home (@{HOMEDIRS}); /root/ is a home directory itself.
var homeDirs = []string{"/home/"}

// Path returns the first table entry that matches the concrete path p for
// any of the permissions in a.
func Path(p string, a aare.Perm) (SensitivePath, bool) {
	for _, e := range SensitivePaths {
		if e.Access&a != 0 && e.matches(p) {
			return e, true
		}
	}
	return SensitivePath{}, false
}

func (e SensitivePath) matches(p string) bool {
	switch e.Match {
	case MatchExact:
		return p == e.Path
	case MatchTree:
		return p == e.Path || isDir(p, e.Path) || strings.HasPrefix(p, e.Path)
	case MatchHomeTree:
		rest, ok := underHome(p)
		return ok && (rest == e.Path || isDir(rest, e.Path) || strings.HasPrefix(rest, e.Path))
	case MatchProcPid:
		rest, ok := underProcPid(p)
		return ok && rest == e.Path
	case MatchHomeFile:
		rest, ok := underHome(p)
		return ok && rest == e.Path
	case MatchNamePrefix:
		rest, ok := strings.CutPrefix(p, e.Path)
		return ok && !strings.Contains(rest, "/")
	}
	return false
}

// isDir reports whether p+"/" == dir, without building the string (the
// table is asked about every path of a log).
func isDir(p, dir string) bool {
	return len(dir) == len(p)+1 && dir[len(p)] == '/' && strings.HasPrefix(dir, p)
}

// underHome returns p relative to its home directory (/home/USER/ or /root/).
func underHome(p string) (string, bool) {
	if rest, ok := strings.CutPrefix(p, "/root/"); ok {
		return rest, true
	}
	for _, h := range homeDirs {
		rest, ok := strings.CutPrefix(p, h)
		if !ok {
			continue
		}
		_, rest, ok = strings.Cut(rest, "/")
		if ok {
			return rest, true
		}
	}
	return "", false
}

// underProcPid returns p relative to its /proc/PID/ directory (also
// self, thread-self and PID/task/TID).
func underProcPid(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/proc/")
	if !ok {
		return "", false
	}
	pid, rest, ok := strings.Cut(rest, "/")
	if !ok || !(pid == "self" || pid == "thread-self" || isDigits(pid)) {
		return "", false
	}
	if t, ok := strings.CutPrefix(rest, "task/"); ok {
		if tid, r, ok := strings.Cut(t, "/"); ok && isDigits(tid) {
			rest = r
		}
	}
	return rest, true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// SensitiveCapability is one capability that needs a human decision.
type SensitiveCapability struct {
	Name     string // as in a capability rule: "sys_admin"
	Severity Severity
	Why      string
}

// SensitiveCapabilities is the table of capabilities learn never adds on
// its own and lint flags.
var SensitiveCapabilities = []SensitiveCapability{
	{"sys_admin", SeverityHigh, "mount, namespaces, BPF, and much more: close to full root"},
	{"sys_module", SeverityHigh, "loads kernel modules: arbitrary kernel code"},
	{"sys_rawio", SeverityHigh, "raw I/O on devices and ports"},
	{"sys_ptrace", SeverityHigh, "traces and reads the memory of any process"},
	{"sys_boot", SeverityHigh, "reboots the machine and loads new kernels"},
	{"dac_override", SeverityHigh, "bypasses all file permission checks"},
	{"dac_read_search", SeverityHigh, "bypasses file read permission checks"},
	{"mac_admin", SeverityHigh, "changes mandatory access control policy"},
	{"mac_override", SeverityHigh, "overrides mandatory access control"},
	{"bpf", SeverityHigh, "loads BPF programs"},
	{"perfmon", SeverityMedium, "observes other processes through perf"},
	{"net_admin", SeverityMedium, "reconfigures interfaces, routes and firewall"},
	{"net_raw", SeverityMedium, "raw and packet sockets: sniffing and spoofing"},
	{"sys_chroot", SeverityMedium, "chroot, a step in many escapes"},
	{"syslog", SeverityMedium, "reads and clears the kernel log"},
	{"audit_control", SeverityMedium, "changes or disables auditing"},
	{"linux_immutable", SeverityMedium, "clears the immutable and append-only flags"},
	{"mknod", SeverityHigh, "creates device nodes: raw access to disks and memory"},
	{"setfcap", SeverityHigh, "sets file capabilities: makes any program privileged"},
	{"setpcap", SeverityHigh, "changes capability sets and the bounding set"},
	{"setuid", SeverityHigh, "becomes any user, root included"},
	{"setgid", SeverityHigh, "joins any group"},
	{"chown", SeverityMedium, "gives any file to any owner"},
	{"fowner", SeverityMedium, "bypasses owner checks: chmod, utimes and more on any file"},
}

// Capability reports whether the capability name is sensitive. A name
// that is no capability's (not lower-case letters, digits and '_') is:
// from an event, it would become rule text ("chown, capability" is two
// rules, the second granting every capability).
func Capability(name string) (SensitiveCapability, bool) {
	for _, c := range SensitiveCapabilities {
		if c.Name == name {
			return c, true
		}
	}
	if !isName(name) {
		return SensitiveCapability{name, SeverityHigh, "not a capability name: the event that asks for it is malformed or forged"}, true
	}
	return SensitiveCapability{}, false
}

// isName reports whether s is a capability, network family or socket
// type name as the kernel spells them.
func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// SensitiveNetwork is a network family and socket type that needs a human
// decision. An empty Family or Type matches any.
type SensitiveNetwork struct {
	Family   string
	Type     string
	Severity Severity
	Why      string
}

// SensitiveNetworks is the table of network access learn never adds on its
// own and lint flags. netlink raw is not listed: glibc's getaddrinfo uses it.
var SensitiveNetworks = []SensitiveNetwork{
	{"packet", "", SeverityHigh, "packet sockets see and forge every frame on an interface"},
	{"inet", "raw", SeverityHigh, "raw IP sockets forge packets"},
	{"inet6", "raw", SeverityHigh, "raw IPv6 sockets forge packets"},
}

// Network reports whether a network family and socket type are sensitive.
// An empty family or type in the query (a rule that names none) means "all"
// and matches every entry it could grant.
func Network(family, sockType string) (SensitiveNetwork, bool) {
	if family != "" && !isName(family) || sockType != "" && !isName(sockType) {
		return SensitiveNetwork{family, sockType, SeverityHigh, "not a network family or socket type name: the event that asks for it is malformed or forged"}, true
	}
	for _, n := range SensitiveNetworks {
		if (family == "" || n.Family == "" || n.Family == family) &&
			(sockType == "" || n.Type == "" || n.Type == sockType) {
			return n, true
		}
	}
	return SensitiveNetwork{}, false
}

// SensitiveExecModes are exec transitions that leave confinement.
var SensitiveExecModes = map[string]string{
	"ux": "runs the program unconfined",
	"Ux": "runs the program unconfined",
}

// SensitiveRuleKinds are rule kinds that are sensitive whatever their
// arguments, with the reason.
var SensitiveRuleKinds = map[string]string{
	"mount":      "mounting changes what every confined path means",
	"umount":     "unmounting can reveal what a mount hid",
	"pivot_root": "changes the root of the filesystem",
}

// Ptrace reports whether a ptrace access by profile to peer is sensitive:
// tracing anything but itself (or its own children) lets a process read and
// change another's memory.
func Ptrace(profile, peer string) bool {
	return peer != profile && !strings.HasPrefix(peer, profile+"//")
}

// Pattern is the entry as an AppArmor pattern: the language of concrete
// paths it matches (matches, below, decides the same on one path).
func (e SensitivePath) Pattern() string {
	switch e.Match {
	case MatchExact:
		return escape(e.Path)
	case MatchTree:
		return escape(strings.TrimSuffix(e.Path, "/")) + "{,/,/**}"
	case MatchHomeTree:
		return homesPattern() + escape(strings.TrimSuffix(e.Path, "/")) + "{,/,/**}"
	case MatchProcPid:
		return "/proc/{[0-9]*,self,thread-self}/{,task/[0-9]*/}" + escape(e.Path)
	case MatchHomeFile:
		return homesPattern() + escape(e.Path)
	case MatchNamePrefix:
		return escape(e.Path) + "*"
	}
	return ""
}

// homesPattern matches every home directory: /home/USER/ and /root/.
func homesPattern() string {
	homes := []string{"/root/"}
	for _, h := range homeDirs {
		homes = append(homes, escape(h)+"*/")
	}
	return "{" + strings.Join(homes, ",") + "}"
}

// escape quotes AppArmor glob syntax (and the comma, which separates
// alternatives) so that s matches only itself.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\', '*', '?', '[', ']', '{', '}', ',', '@':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// compiled holds the table's patterns, compiled once.
var compiled = sync.OnceValue(func() []*aare.Pattern {
	ps := make([]*aare.Pattern, len(SensitivePaths))
	for i, e := range SensitivePaths {
		ps[i] = aare.MustCompile(e.Pattern())
	}
	return ps
})

// Reaches decides on the automata whether a pattern (compiled by the
// caller, with its variables) matches a path that a table entry, sensitive
// for a permission in a, also matches, other than the paths except matches
// (nil: none): the paths the caller was told about. It returns the first
// such entry and a shortest such path. A comparison too large to finish
// counts as reaching: a guard must err towards holding back.
func Reaches(p *aare.Pattern, a aare.Perm, except *aare.Pattern) (SensitivePath, string, bool) {
	return reaches(p, a, except, "")
}

// reaches is Reaches without the entry whose ID is skip.
func reaches(p *aare.Pattern, a aare.Perm, except *aare.Pattern, skip string) (SensitivePath, string, bool) {
	for i, e := range SensitivePaths {
		if e.Access&a == 0 || e.ID == skip {
			continue
		}
		switch w, r := aare.Intersect(p, compiled()[i], except); r {
		case aare.Yes:
			return e, w, true
		case aare.Unknown:
			return e, e.Example, true
		}
	}
	return SensitivePath{}, "", false
}

// Witness is Reaches's path for the entry e (as ReachedTree found it): a
// shortest path (ties broken by byte order) that p and e match and except
// (nil: none) does not, with Yes; No when there is none; e's Example with
// Unknown past the bound on the comparison (Reaches's answer then).
func Witness(p *aare.Pattern, e SensitivePath, except *aare.Pattern) (string, aare.Result) {
	for i, t := range SensitivePaths {
		if t.ID == e.ID {
			w, r := aare.Intersect(p, compiled()[i], except)
			if r == aare.Unknown {
				w = e.Example
			}
			return w, r
		}
	}
	return "", aare.No
}

// ReachesTree is Reaches's answer, without the entry and the path, for a
// pattern's parse tree (aare.Parse): decided on one automaton of all the
// entries sensitive for a permission in a, by aare.Meets, without
// compiling the pattern. For guards that ask about many patterns once each.
func ReachesTree(tree *aare.Node, a aare.Perm, except *aare.Pattern) bool {
	u := unionFor(a)
	return u != nil && aare.Meets(tree, u, except)
}

// ReachesTreeLiterals is ReachesTree with except given as the paths it
// matches (sorted, distinct, none with a run of slashes): no automaton
// for them (aare.MeetsLiterals).
func ReachesTreeLiterals(tree *aare.Node, a aare.Perm, except []string) bool {
	u := unionFor(a)
	return u != nil && aare.MeetsLiterals(tree, u, except)
}

// ReachedTree is Reaches's entry, without the path, for a pattern's
// parse tree (aare.Parse): the first entry sensitive for a permission in a
// whose language the tree's meets outside except, each decided by
// aare.Meets on the entry's automaton, without compiling the pattern.
func ReachedTree(tree *aare.Node, a aare.Perm, except *aare.Pattern) (SensitivePath, bool) {
	return reachedBy(a, func(entry *aare.Pattern) bool { return aare.Meets(tree, entry, except) })
}

// ReachedTreeLiterals is ReachedTree with except given as the paths it
// matches (sorted, distinct, none with a run of slashes), as for
// ReachesTreeLiterals.
func ReachedTreeLiterals(tree *aare.Node, a aare.Perm, except []string) (SensitivePath, bool) {
	return reachedBy(a, func(entry *aare.Pattern) bool { return aare.MeetsLiterals(tree, entry, except) })
}

func reachedBy(a aare.Perm, meets func(entry *aare.Pattern) bool) (SensitivePath, bool) {
	for i, e := range SensitivePaths {
		if e.Access&a != 0 && meets(compiled()[i]) {
			return e, true
		}
	}
	return SensitivePath{}, false
}

// unions holds, per set of entries (those sensitive for the permissions
// asked), the automaton matching what any of them matches.
var unions sync.Map // string of '0'/'1' per entry → *aare.Pattern (nil: no entry)

func unionFor(a aare.Perm) *aare.Pattern {
	var buf [128]byte
	key := buf[:0]
	for _, e := range SensitivePaths {
		key = append(key, '0'+byte(min(e.Access&a, 1)))
	}
	if u, ok := unions.Load(string(key)); ok {
		return u.(*aare.Pattern)
	}
	var alts []string
	for _, e := range SensitivePaths {
		if e.Access&a != 0 {
			alts = append(alts, e.Pattern())
		}
	}
	var u *aare.Pattern
	if len(alts) > 0 {
		u = aare.MustCompile("{" + strings.Join(alts, ",") + "}")
	}
	unions.Store(string(key), u)
	return u
}

// MayReach reports whether some path that begins with prefix is in the
// language of a table entry sensitive for a permission in a. When it is
// not, no pattern whose paths all begin with prefix reaches the table:
// the caller need not compile the pattern to ask Reaches.
func MayReach(prefix string, a aare.Perm) bool {
	for i, e := range SensitivePaths {
		if e.Access&a != 0 && compiled()[i].MatchPrefix(prefix) == len(prefix) {
			return true
		}
	}
	return false
}

// MayReachHome reports whether a path /home/USER/REST, for any USER and
// any REST that begins with rel, may be in the language of an entry
// sensitive for a permission in a. False only when none can be: a guard
// then needs no walk for a pattern of the users' homes (/home/*/rel...)
// whose literal text after the home is rel, which MayReach, given the
// pattern's literal prefix, cannot tell.
func MayReachHome(rel string, a aare.Perm) bool {
	for i, e := range SensitivePaths {
		if e.Access&a == 0 {
			continue
		}
		switch e.Match {
		case MatchHomeTree:
			// HOME/T, HOME/T/ and below: rel and T must agree as far as
			// both go.
			t := strings.TrimSuffix(e.Path, "/")
			if strings.HasPrefix(t, rel) || strings.HasPrefix(rel, t) {
				return true
			}
		case MatchHomeFile:
			if strings.HasPrefix(e.Path, rel) {
				return true
			}
		default:
			// Any other entry that has a path below /home/ may.
			if compiled()[i].MatchPrefix("/home/") == len("/home/") {
				return true
			}
		}
	}
	return false
}

// AnyPath reports whether a concrete path is in some entry's language,
// whatever the permission.
func AnyPath(p string) bool {
	// p relative to its home and to its /proc/PID/, found once for all
	// the entries that ask (the table is asked about every path of a log).
	home, inHome := underHome(p)
	proc, inProc := underProcPid(p)
	for i := range SensitivePaths {
		e := &SensitivePaths[i]
		switch e.Match {
		case MatchHomeTree:
			if inHome && (home == e.Path || isDir(home, e.Path) || strings.HasPrefix(home, e.Path)) {
				return true
			}
		case MatchHomeFile:
			if inHome && home == e.Path {
				return true
			}
		case MatchProcPid:
			if inProc && proc == e.Path {
				return true
			}
		default:
			if e.matches(p) {
				return true
			}
		}
	}
	return false
}

// Reached returns the first table entry, sensitive for a permission in a,
// whose Example the pattern matches. match reports whether the pattern
// (a glob the caller compiled) matches a concrete path; the table stays
// independent of any one glob engine.
func Reached(match func(path string) bool, a aare.Perm) (SensitivePath, bool) {
	for _, e := range SensitivePaths {
		if e.Access&a != 0 && match(e.Example) {
			return e, true
		}
	}
	return SensitivePath{}, false
}
