package policy

import (
	"bytes"
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// This file holds the per-rule checks of Check and the name tables they
// use, taken from apparmor.d(5) and from what apparmor_parser 3.0.8 and 4.1
// accept (the differential corpus in testdata/corpus pins them down).

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

var (
	capabilities = set("chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill",
		"setgid", "setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
		"net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot",
		"sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time",
		"sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
		"mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read",
		"perfmon", "bpf", "checkpoint_restore")

	profileModes  = set("enforce", "complain", "kill", "unconfined")
	profileFlags3 = set("audit", "mediate_deleted", "attach_disconnected", "chroot_relative",
		"namespace_relative", "delegate_deleted", "no_attach_disconnected", "chroot_attach", "chroot_no_attach")
	// profileFlags4 are the flags AppArmor 4 added; "key=" entries take a value.
	profileFlags4 = set("prompt", "default_allow", "interruptible", "error=", "debug",
		"attach_disconnected.path=", "kill.signal=")

	networkFamilies = set("unix", "inet", "ax25", "ipx", "appletalk", "netrom", "bridge",
		"atmpvc", "x25", "inet6", "rose", "netbeui", "security", "key", "netlink", "packet",
		"ash", "econet", "atmsvc", "rds", "sna", "irda", "pppox", "wanpipe", "llc", "ib",
		"mpls", "can", "tipc", "bluetooth", "iucv", "rxrpc", "isdn", "phonet", "ieee802154",
		"caif", "alg", "nfc", "vsock", "kcm", "qipcrtr", "smc", "xdp", "mctp", "unspec")
	networkTypes     = set("stream", "dgram", "seqpacket", "rdm", "raw", "packet")
	networkProtocols = set("tcp", "udp", "icmp")
	networkAccess    = set("create", "bind", "listen", "accept", "connect", "shutdown",
		"getattr", "setattr", "getopt", "setopt", "send", "receive", "r", "w", "rw", "read", "write")

	signalAccess = set("r", "w", "rw", "read", "write", "send", "receive")
	signalNames  = set("hup", "int", "quit", "ill", "trap", "abrt", "bus", "fpe", "kill",
		"usr1", "segv", "usr2", "pipe", "alrm", "term", "stkflt", "chld", "cont", "stop",
		"stp", "ttin", "ttou", "urg", "xcpu", "xfsz", "vtalrm", "prof", "winch", "io", "pwr",
		"sys", "emt", "exists")
	ptraceAccess = set("r", "w", "rw", "read", "write", "readby", "trace", "tracedby")
	unixAccess   = set("create", "bind", "listen", "accept", "connect", "shutdown", "getattr",
		"setattr", "getopt", "setopt", "send", "receive", "r", "w", "rw", "read", "write")
	dbusAccess    = set("send", "receive", "bind", "eavesdrop", "r", "read", "w", "write", "rw")
	dbusConds     = set("bus", "path", "interface", "member", "name", "peer")
	dbusPeerConds = set("name", "label", "path", "interface", "member", "bus")

	mountFlags = set("ro", "r", "read-only", "rw", "w", "nosuid", "suid", "nodev", "dev",
		"noexec", "exec", "sync", "async", "remount", "mand", "nomand", "dirsync",
		"symfollow", "nosymfollow", "atime", "noatime", "diratime", "nodiratime", "bind", "B",
		"move", "M", "rbind", "R", "verbose", "silent", "loud", "acl", "noacl", "unbindable",
		"make-unbindable", "runbindable", "make-runbindable", "private", "make-private",
		"rprivate", "make-rprivate", "slave", "make-slave", "rslave", "make-rslave", "shared",
		"make-shared", "rshared", "make-rshared", "relatime", "norelatime", "iversion",
		"noiversion", "strictatime", "nostrictatime", "lazytime", "nolazytime", "user", "nouser")

	usernsAccess  = set("create")
	ioUringAccess = set("override_creds", "sqpoll")
	mqueueAccess  = set("create", "open", "delete", "read", "write", "getattr", "setattr",
		"r", "w", "rw")

	rlimitSize   = set("fsize", "data", "stack", "core", "rss", "as", "memlock", "msgqueue")
	rlimitNumber = set("ofile", "nofile", "locks", "sigpending", "nproc", "rtprio")
	rlimitTime   = set("cpu", "rttime")
)

func (c *checker) rule(r Rule, ctx *profileCtx, outer Qualifiers) {
	if qr, ok := r.(Qualified); ok {
		q := mergeQual(outer, *qr.Qualifiers())
		c.qualifiers(r, q)
	}
	c.ruleVars(r)
	switch r := r.(type) {
	case *FileRule:
		c.fileRule(r, ctx, mergeQual(outer, r.Qual))
	case *LinkRule:
		c.absPath(r.Path, "link")
		if r.Target != nil { // apparmor_parser takes a relative link target
			for _, v := range c.expand(r.Target) {
				if err := checkGlob(v); err != "" {
					c.errorf(r.Target.Pos(), "rule", "link target %s: %s", r.Target.Raw, err)
					break
				}
			}
		}
	case *CapabilityRule:
		for _, w := range r.Names {
			if !capabilities[w.Raw] {
				hint := ""
				if l := strings.ToLower(strings.TrimPrefix(strings.ToLower(w.Raw), "cap_")); capabilities[l] {
					hint = ": write " + l
				}
				c.errorf(w.Pos(), "capability", "unknown capability %q%s (see capabilities(7), lower case without CAP_)", w.Raw, hint)
			}
		}
	case *NetworkRule:
		c.network(r)
	case *SignalRule:
		c.access(r.Access, signalAccess, "signal")
		peers := 0
		c.condsRepeat(r.Conds, "signal", true, func(cd *Cond) bool {
			switch cd.KeyName() {
			case "set": // sets add up
				c.signalSet(cd)
				return true
			case "peer":
				if peers++; peers > 1 {
					c.errorf(cd.Pos(), "rule", "signal peer= given twice")
				}
				return c.singleValue(cd)
			}
			return false
		})
	case *PtraceRule:
		c.access(r.Access, ptraceAccess, "ptrace")
		c.conds(r.Conds, "ptrace", func(cd *Cond) bool { return cd.KeyName() == "peer" && c.singleValue(cd) })
	case *UnixRule:
		c.unix(r)
	case *DbusRule:
		c.dbus(r)
	case *MountRule:
		c.mount(r)
	case *PivotRootRule:
		c.condsRepeat(r.Conds, "pivot_root", true, func(cd *Cond) bool { return cd.KeyName() == "oldroot" && c.listValue(cd) })
		if text, _ := c.span(r.Pos(), r.End()); r.Profile == nil && bytes.Contains(text, []byte("->")) {
			c.errorf(r.Pos(), "syntax", "pivot_root ... -> needs a profile name after '->'")
		}
		for _, cd := range r.Conds {
			if r.NewRoot != nil && cd.Pos() > r.NewRoot.Pos() {
				c.errorf(cd.Pos(), "rule", "pivot_root: oldroot= comes before the new root")
			}
		}
		if w := r.NewRoot; w != nil && !w.Quoted() {
			switch v := w.Raw; {
			case Lookup(v) != WORD || v == "other" || isModeWord(v):
				c.errorf(w.Pos(), "rule", "pivot_root: %q is read as a keyword or permissions, not a new root; write a path such as /mnt/root/", v)
			case strings.Contains(v, "/") && !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "@{"):
				c.errorf(w.Pos(), "rule", "pivot_root: new root %s must be absolute", v)
			}
		}
	case *ChangeProfileRule:
		c.changeProfile(r, ctx, mergeQual(outer, r.Qual))
		if r.ExecMode != nil && r.ExecMode.Raw != "safe" && r.ExecMode.Raw != "unsafe" {
			c.errorf(r.ExecMode.Pos(), "rule", "change_profile exec mode must be safe or unsafe, not %q", r.ExecMode.Raw)
		}
		if r.Exec != nil {
			if v := r.Exec.Value(); !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "@{") {
				c.errorf(r.Exec.Pos(), "rule", "change_profile exec path %s must be absolute", r.Exec.Raw)
			}
			c.expand(r.Exec)
		}
		if r.Profile != nil {
			c.expand(r.Profile)
		}
	case *RlimitRule:
		c.rlimit(r)
	case *UsernsRule:
		if c.fileLike(r.Access, true) {
			break
		}
		c.v4(r, "userns")
		c.access(r.Access, usernsAccess, "userns")
		if r.Access != nil && r.Access.Paren && c.target.atLeast4() {
			c.errorf(r.Access.Pos(), "syntax", "userns takes no parentheses: write userns create,")
		}
	case *IOUringRule:
		c.v4(r, "io_uring")
		c.access(r.Access, ioUringAccess, "io_uring")
		c.conds(r.Conds, "io_uring", func(cd *Cond) bool { return cd.KeyName() == "label" && c.listValue(cd) })
	case *MqueueRule:
		if c.fileLike(r.Access, len(r.Conds) == 0 && r.Name == nil) {
			break
		}
		c.v4(r, "mqueue")
		access, name := r.Access, r.Name
		if access != nil && !access.Paren && len(access.Words) == 1 && !mqueueAccess[access.Words[0].Value()] && name == nil {
			access, name = nil, access.Words[0] // mqueue NAME,
		}
		c.access(access, mqueueAccess, "mqueue")
		mtype := ""
		c.condsRepeat(r.Conds, "mqueue", true, func(cd *Cond) bool {
			switch cd.KeyName() {
			case "type":
				v := condValue(cd)
				if v != "posix" && v != "sysv" {
					c.errorf(cd.Pos(), "rule", "mqueue type must be posix or sysv, not %q", v)
				}
				mtype = v
				return true
			case "label":
				return c.listValue(cd)
			}
			return false
		})
		if name != nil && c.target.atLeast4() {
			v := name.Value()
			if _, err := strconv.ParseUint(v, 10, 32); mtype == "" && err != nil && !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "@") {
				c.errorf(name.Pos(), "rule", "mqueue %s: a queue name begins with / (POSIX) or is a positive integer (System V)", name.Raw)
			}
			if _, err := strconv.ParseUint(v, 10, 32); mtype == "sysv" && err != nil {
				c.errorf(name.Pos(), "rule", "mqueue type=sysv %s: a System V queue is named by a positive integer", name.Raw)
			}
			if mtype == "posix" && !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "@") {
				c.errorf(name.Pos(), "rule", "mqueue type=posix %s: a POSIX queue name begins with /", name.Raw)
			}
		}
	case *AllRule:
		c.v4(r, "all")
	}
}

// ruleVars reports undefined variables in the arguments of non-file
// rules: apparmor_parser expands variables in every rule's values.
func (c *checker) ruleVars(r Rule) {
	var words []*Word
	var conds func([]*Cond)
	conds = func(cs []*Cond) {
		for _, cd := range cs {
			if cd.Value != nil {
				words = append(words, cd.Value.Words...)
			}
			conds(cd.Conds)
		}
	}
	switch r := r.(type) {
	case *MountRule:
		words = append(words, r.Source, r.MountPoint)
		conds(r.Conds)
	case *PivotRootRule:
		words = append(words, r.NewRoot, r.Profile)
		conds(r.Conds)
	case *SignalRule:
		conds(r.Conds)
	case *PtraceRule:
		conds(r.Conds)
	case *UnixRule:
		conds(r.Conds)
	case *DbusRule:
		conds(r.Conds)
	case *IOUringRule:
		conds(r.Conds)
	case *MqueueRule:
		words = append(words, r.Name)
		conds(r.Conds)
	}
	for _, w := range words {
		if w != nil && strings.Contains(w.Raw, "@{") {
			c.expand(w)
		}
	}
}

// qualifiers checks the qualifiers a rule kind allows.
func (c *checker) qualifiers(r Rule, q Qualifiers) {
	if q.Allow && q.Deny {
		c.errorf(r.Pos(), "rule", "a rule cannot be both allow and deny")
	}
	if q.Priority != nil {
		c.priority(q.Priority)
		switch r.(type) {
		case *NetworkRule:
			c.errorf(q.Priority.Pos(), "rule", "priority= is not supported on network rules by apparmor_parser %s", c.target)
		}
	}
	if q.Owner {
		switch r.(type) {
		case *FileRule, *LinkRule:
		default:
			c.errorf(r.Pos(), "rule", "owner applies only to file and link rules")
		}
	}
}

func (c *checker) priority(w *Word) {
	if !c.target.atLeast4() {
		c.errorf(w.Pos(), "version", "priority= needs AppArmor 4 (target %s)", c.target)
		return
	}
	n, err := strconv.Atoi(w.Value())
	if err != nil || n < -1000 || n > 1000 {
		c.errorf(w.Pos(), "rule", "priority must be an integer from -1000 to 1000, not %q", w.Value())
	}
}

// fileLike reports a rule that apparmor_parser 3.0 reads as a file rule
// for a bare name: its keyword is no keyword there, so "mqueue r," is
// the name mqueue with the permission r.
func (c *checker) fileLike(access *List, alone bool) bool {
	return !c.target.atLeast4() && alone && access != nil && !access.Paren && len(access.Words) == 1 && isModeWord(access.Words[0].Raw)
}

func (c *checker) v4(r Rule, kind string) {
	if !c.target.atLeast4() {
		c.errorf(r.Pos(), "version", "%s rules need AppArmor 4 (target %s): raise the target with abi <abi/4.0>, or drop the rule", kind, c.target)
	}
}

func (c *checker) access(l *List, known map[string]bool, kind string) {
	if l == nil {
		return
	}
	if l.Paren && len(l.Words) == 0 && kind == "userns" {
		c.errorf(l.Pos(), "permission", "empty %s access list", kind)
	}
	for _, w := range l.Words {
		if !known[w.Value()] {
			c.errorf(w.Pos(), "permission", "unknown %s access %q", kind, w.Value())
		}
	}
}

// conds checks each conditional with known; keys it does not know, and
// keys given twice, are errors.
func (c *checker) conds(cs []*Cond, kind string, known func(*Cond) bool) {
	c.condsRepeat(cs, kind, false, known)
}

// condsRepeat is conds; repeat allows a key more than once (mount's
// options=… options in …).
func (c *checker) condsRepeat(cs []*Cond, kind string, repeat bool, known func(*Cond) bool) {
	seen := map[string]bool{}
	for _, cd := range cs {
		k := cd.KeyName()
		if seen[k] && !repeat {
			c.errorf(cd.Pos(), "rule", "%s conditional %s given twice", kind, k)
			continue
		}
		seen[k] = true
		if !known(cd) {
			c.errorf(cd.Pos(), "rule", "unknown %s conditional %q", kind, k)
		}
	}
}

// singleValue accepts key=VALUE (one word, not a parenthesised list).
func (c *checker) singleValue(cd *Cond) bool {
	if cd.Value == nil || cd.Conds != nil {
		c.errorf(cd.Pos(), "rule", "%s= takes one value", cd.KeyName())
		return true
	}
	if cd.In {
		c.errorf(cd.Pos(), "rule", "%s takes =, not in", cd.KeyName())
	}
	if len(cd.Value.Words) != 1 {
		c.errorf(cd.Pos(), "rule", "%s= takes exactly one value", cd.KeyName())
	}
	if cd.Value.Paren && len(cd.Value.Words) == 1 {
		c.errorf(cd.Pos(), "rule", "%s=(…) is not accepted here: write %s=VALUE", cd.KeyName(), cd.KeyName())
	}
	return true
}

// listValue accepts key=VALUE and key=(VALUE): one value, in parentheses or not.
func (c *checker) listValue(cd *Cond) bool {
	if cd.Value == nil || cd.Conds != nil || len(cd.Value.Words) != 1 {
		c.errorf(cd.Pos(), "rule", "%s= takes one value", cd.KeyName())
		return true
	}
	if cd.In {
		c.errorf(cd.Pos(), "rule", "%s takes =, not in", cd.KeyName())
	}
	return true
}

// emptyParen reports key=().
func emptyParen(cd *Cond) bool {
	return cd.Conds == nil && cd.Value != nil && cd.Value.Paren && len(cd.Value.Words) == 0
}

func condValue(cd *Cond) string {
	if cd.Value == nil || len(cd.Value.Words) == 0 {
		return ""
	}
	return cd.Value.Words[0].Value()
}

func (c *checker) signalSet(cd *Cond) {
	if cd.Value == nil || len(cd.Value.Words) == 0 {
		c.errorf(cd.Pos(), "rule", "empty signal set: name signals, e.g. set=(hup, term)")
		return
	}
	for _, w := range cd.Value.Words {
		v := w.Value()
		if signalNames[v] {
			continue
		}
		if n, ok := strings.CutPrefix(v, "rtmin+"); ok {
			if i, err := strconv.Atoi(n); err == nil && i >= 0 && i <= 32 {
				continue
			}
		}
		c.errorf(w.Pos(), "rule", "unknown signal %q (use names such as hup, term, kill, usr1, or rtmin+0…rtmin+32)", v)
	}
}

// unescaped returns the first of chars in raw that apparmor_parser's lexer
// does not take as part of a path ('"' or '!'), or 0: only a backslash
// directly before one escapes it, by the lexer's rule (escapeLen).
func unescaped(raw, chars string) byte {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '\\':
			i += escapeLen(raw, i) - 1
		case strings.IndexByte(chars, c) >= 0:
			return c
		}
	}
	return 0
}

// pathWord checks a path as apparmor_parser reads it. Its lexer takes a
// path that starts with '/', a variable or a quote, or a bare name of
// letters and '_' (which it does not require to be absolute); after
// variable expansion, every alternative must be a well-formed glob.
func (c *checker) pathWord(w *Word, what string) {
	raw := w.Raw
	switch {
	case raw == "":
	case raw[0] == '"':
		if len(raw) < 3 {
			c.errorf(w.Pos(), "rule", "%s %s is empty", what, raw)
			return
		}
	case raw[0] == '/' || raw[0] == '@':
		switch unescaped(raw, `"!`) {
		case '"':
			c.errorf(w.Pos(), "syntax", "%s %s: a quote inside a path: quote the whole path", what, raw)
			return
		case '!':
			c.errorf(w.Pos(), "syntax", "%s %s: '!' cannot appear in a path: escape it (\\!) or quote the whole path", what, raw)
			return
		}
	case isBareName(raw):
	default:
		c.errorf(w.Pos(), "rule", "%s %s is not absolute: paths start with / (after variable expansion)", what, raw)
		return
	}
	vals := c.expandPattern(w)
	for _, v := range vals {
		if raw[0] == '"' && !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "@") {
			c.errorf(w.Pos(), "rule", "%s %s is not absolute: paths start with / (after variable expansion)", what, raw)
			return
		}
		if err := checkGlob(v); err != "" {
			c.errorf(w.Pos(), "rule", "%s %s: %s", what, raw, err)
			return
		}
	}
}

// isBareName reports a word of letters and '_' only: apparmor_parser's
// lexer reads it as one name.

func (c *checker) absPath(w *Word, what string) {
	if w == nil {
		return
	}
	c.pathWord(w, what)
}

// checkGlob checks an AARE as apparmor_parser does: balanced {…}
// alternations of at least two items ({a,} is two), and […] classes that
// are closed and not empty (a ']' right after '[' or '[^' closes it).
func checkGlob(s string) string {
	var alts []int // commas seen in each open alternation
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '{':
			alts = append(alts, 0)
		case ',':
			if len(alts) > 0 {
				alts[len(alts)-1]++
			}
		case '}':
			if len(alts) == 0 {
				return "unbalanced '}' (escape it as \\})"
			}
			if alts[len(alts)-1] == 0 {
				return "an alternation needs at least two items: {a,b}, or {a,} for an optional part"
			}
			alts = alts[:len(alts)-1]
		case ']':
			return "']' without '[' (escape it as \\])"
		case '[':
			j := i + 1
			if j < len(s) && s[j] == '^' {
				j++
			}
			if j < len(s) && s[j] == ']' {
				return "empty character class []"
			}
			for j < len(s) && s[j] != ']' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return "unterminated character class '[' (escape it as \\[)"
			}
			i = j
		}
	}
	if len(alts) != 0 {
		return "unbalanced '{' (escape it as \\{)"
	}
	return ""
}

func (c *checker) network(r *NetworkRule) {
	if (r.Access != nil || len(r.Conds) > 0) && !c.target.atLeast4() {
		c.errorf(r.Pos(), "version", "network access lists and ip=/port=/peer= need AppArmor 4 (target %s)", c.target)
	}
	if r.Access != nil && (!r.Access.Paren || len(r.Access.Words) > 0) { // network () is every access
		c.access(r.Access, networkAccess, "network")
	}
	family := c.networkWords(r)
	var ipPort func(cs []*Cond, kind string)
	ipPort = func(cs []*Cond, kind string) {
		c.conds(cs, kind, func(cd *Cond) bool {
			switch cd.KeyName() {
			case "ip":
				c.listValue(cd)
				if v := condValue(cd); v != "none" {
					if a, err := netip.ParseAddr(v); err != nil || a.Zone() != "" {
						c.errorf(cd.Pos(), "rule", "ip=%s is not an IP address", v)
					}
				}
				return true
			case "port":
				c.listValue(cd)
				lo, hi, isRange := strings.Cut(condValue(cd), "-")
				if !validPort(lo) || isRange && !validPort(hi) {
					c.errorf(cd.Pos(), "rule", "port=%s is not a port number or range", condValue(cd))
				}
				return true
			case "peer":
				if kind == "network" && (cd.Conds != nil || emptyParen(cd)) {
					ipPort(cd.Conds, "network peer")
					return true
				}
			}
			return false
		})
	}
	ipPort(r.Conds, "network")
	if len(r.Conds) > 0 && family != "" && family != "inet" && family != "inet6" {
		c.errorf(r.Conds[0].Pos(), "rule", "network family %s does not take ip=, port= or peer= (only inet and inet6 do)", family)
	}
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535
}

// networkWords checks "[FAMILY] [TYPE|PROTOCOL]" and returns the family.
// The parser files the words by position; some names are both a family
// and a type (packet), so they are classified here, in order, as
// apparmor_parser does. A protocol needs no family, or inet (tcp, udp,
// icmp) or inet6 (tcp, udp).
func (c *checker) networkWords(r *NetworkRule) string {
	var ws []*Word
	for _, w := range []*Word{r.Family, r.Type, r.Protocol} {
		if w != nil {
			ws = append(ws, w)
		}
	}
	slices.SortFunc(ws, func(a, b *Word) int { return cmp.Compare(a.Pos(), b.Pos()) })
	family := ""
	if len(ws) > 0 && networkFamilies[ws[0].Raw] {
		family = ws[0].Raw
		ws = ws[1:]
	}
	if len(ws) == 0 {
		return family
	}
	w := ws[0]
	if !networkTypes[w.Raw] && !networkProtocols[w.Raw] {
		c.errorf(w.Pos(), "rule", "unknown network family, type or protocol %q", w.Raw)
		return family
	}
	if len(ws) > 1 {
		c.errorf(ws[1].Pos(), "rule", "network takes a family and then a type or a protocol, not both: remove %q", ws[1].Raw)
	}
	if networkProtocols[w.Raw] && family != "" && family != "inet" && (family != "inet6" || w.Raw == "icmp") {
		c.errorf(w.Pos(), "rule", "network family %s has no protocol %s", family, w.Raw)
	}
	return family
}

// unixLocalOnly are the unix accesses that involve no peer.
var unixLocalOnly = set("create", "bind", "listen", "shutdown", "getattr", "setattr", "getopt", "setopt")

func (c *checker) unix(r *UnixRule) {
	if r.Access == nil || !r.Access.Paren || len(r.Access.Words) > 0 { // unix () is every access
		c.access(r.Access, unixAccess, "unix")
	}
	unixAddr := func(cd *Cond) {
		if v := condValue(cd); v != "none" && !strings.HasPrefix(v, "@") && !strings.HasPrefix(v, "\"") {
			c.errorf(cd.Pos(), "rule", "unix addr=%s: an address is @NAME (abstract) or none; a path socket is a file rule", v)
		}
	}
	var peer *Cond
	c.conds(r.Conds, "unix", func(cd *Cond) bool {
		if peer != nil {
			c.errorf(cd.Pos(), "rule", "unix %s= after peer=(…): the peer comes last", cd.KeyName())
			return true
		}
		switch cd.KeyName() {
		case "type":
			c.listValue(cd)
			if v := condValue(cd); !networkTypes[v] {
				c.errorf(cd.Pos(), "rule", "unknown unix socket type %q (stream, dgram, seqpacket)", v)
			}
			return true
		case "addr":
			c.listValue(cd)
			unixAddr(cd)
			return true
		case "peer":
			peer = cd
			if cd.Conds == nil && (cd.Value == nil || !cd.Value.Paren || len(cd.Value.Words) > 0) {
				c.errorf(cd.Pos(), "rule", "unix peer takes conditionals in parentheses: peer=(label=… addr=…)")
				return true
			}
			c.conds(cd.Conds, "unix peer", func(p *Cond) bool {
				switch p.KeyName() {
				case "label":
					return c.listValue(p)
				case "addr":
					c.listValue(p)
					unixAddr(p)
					return true
				}
				return false
			})
			return true
		}
		return false
	})
	if peer != nil && r.Access != nil {
		for _, w := range r.Access.Words {
			if unixLocalOnly[w.Value()] {
				c.errorf(w.Pos(), "rule", "unix %s involves no peer: drop peer=(…) or the access", w.Value())
				break
			}
		}
	}
}

func (c *checker) dbus(r *DbusRule) {
	if r.Access == nil || len(r.Access.Words) > 0 { // dbus () is every access
		c.access(r.Access, dbusAccess, "dbus")
	}
	c.conds(r.Conds, "dbus", func(cd *Cond) bool {
		k := cd.KeyName()
		if !dbusConds[k] {
			return false
		}
		if k == "peer" {
			if emptyParen(cd) {
				return true
			}
			if cd.Conds == nil {
				c.errorf(cd.Pos(), "rule", "dbus peer takes conditionals in parentheses: peer=(name=… label=…)")
				return true
			}
			c.conds(cd.Conds, "dbus peer", func(p *Cond) bool { return dbusPeerConds[p.KeyName()] && c.listValue(p) })
			return true
		}
		return c.listValue(cd)
	})
	if r.Access == nil {
		return
	}
	for _, w := range r.Access.Words {
		for _, cd := range r.Conds {
			if !dbusAccess[w.Value()] || !dbusConds[cd.KeyName()] || emptyParen(cd) || DbusCondAllowed(w.Value(), cd.KeyName()) {
				continue
			}
			switch w.Value() {
			case "bind":
				c.errorf(w.Pos(), "rule", "dbus bind takes only bus= and name=")
			case "eavesdrop":
				c.errorf(w.Pos(), "rule", "dbus eavesdrop takes only bus=")
			default:
				c.errorf(w.Pos(), "rule", "dbus %s does not take name= (name= is for bind; use peer=(name=…))", w.Value())
			}
			return
		}
	}
}

// dbusAccessConds lists the conditionals apparmor_parser accepts with
// each dbus access: bind names a bus name to own, eavesdrop only a bus,
// message accesses everything but name= (their peer's name is peer=(name=…)).
var dbusAccessConds = map[string]map[string]bool{
	"bind":      set("bus", "name"),
	"eavesdrop": set("bus"),
	"send":      set("bus", "path", "interface", "member", "peer"),
}

// DbusCondAllowed reports whether a dbus rule with access may carry the
// conditional key (top level: bus, path, interface, member, name, peer).
// It is the table the checker enforces, shared with learn so that learned
// rules obey it. An access the table does not know is a message access.
func DbusCondAllowed(access, key string) bool {
	if m, ok := dbusAccessConds[access]; ok {
		return m[key]
	}
	return dbusAccessConds["send"][key]
}

func (c *checker) mount(r *MountRule) {
	kind := r.Kind.String()
	if r.Kind != MOUNT && r.Arrow {
		c.errorf(r.Pos(), "rule", "%s takes no '->': write %s MOUNTPOINT,", kind, kind)
	}
	if r.Arrow && r.MountPoint == nil {
		c.errorf(r.Pos(), "rule", "mount ... -> needs a mount point after '->'")
	}
	for _, w := range []*Word{r.Source, r.MountPoint} {
		for _, cd := range r.Conds {
			if w != nil && cd.Pos() > w.Pos() {
				c.errorf(cd.Pos(), "rule", "%s conditionals (%s=) come before the paths", kind, cd.KeyName())
				return
			}
		}
	}
	c.condsRepeat(r.Conds, kind, true, func(cd *Cond) bool {
		if emptyParen(cd) {
			c.errorf(cd.Pos(), "syntax", "%s=() is empty: name at least one value", cd.KeyName())
			return true
		}
		switch cd.KeyName() {
		case "fstype", "vfstype":
			return true
		case "options", "option":
			if cd.Value == nil {
				return false
			}
			seen := map[string]*Word{}
			for _, w := range cd.Value.Words {
				v := w.Value()
				switch {
				case !mountFlags[v]:
					c.errorf(w.Pos(), "rule", "unknown mount option %q", v)
				case mountFlags4[v] && !c.target.atLeast4():
					c.errorf(w.Pos(), "version", "mount option %s needs AppArmor 4 (target %s)", v, c.target)
				}
				// 4.x refuses an option and its inverse in one options= set.
				if ms, ok := mountSense[v]; ok && c.target.atLeast4() && !cd.In {
					key := ms.group + map[bool]string{true: "+", false: "-"}[!ms.on]
					if prev, both := seen[key]; both {
						c.errorf(w.Pos(), "rule", "mount options %s and %s contradict each other", prev.Raw, w.Raw)
					}
					seen[ms.group+map[bool]string{true: "+", false: "-"}[ms.on]] = w
				}
			}
			return true
		}
		return false
	})
}

// mountFlags4 are the mount options apparmor_parser 3.0 does not know.
var mountFlags4 = set("symfollow", "nosymfollow", "nostrictatime", "lazytime", "nolazytime")

// mountSense files each mount option that has an inverse under one
// name, with true for setting it and false for clearing it.
var mountSense = func() map[string]struct {
	group string
	on    bool
} {
	m := map[string]struct {
		group string
		on    bool
	}{}
	for _, g := range [][2][]string{
		{{"ro", "r", "read-only"}, {"rw", "w"}}, {{"nosuid"}, {"suid"}}, {{"nodev"}, {"dev"}}, {{"noexec"}, {"exec"}},
		{{"sync"}, {"async"}}, {{"mand"}, {"nomand"}}, {{"symfollow"}, {"nosymfollow"}}, {{"atime"}, {"noatime"}},
		{{"diratime"}, {"nodiratime"}}, {{"acl"}, {"noacl"}}, {{"relatime"}, {"norelatime"}}, {{"iversion"}, {"noiversion"}},
		{{"strictatime"}, {"nostrictatime"}}, {{"lazytime"}, {"nolazytime"}}, {{"user"}, {"nouser"}},
	} {
		for _, o := range g[0] {
			m[o] = struct {
				group string
				on    bool
			}{g[0][0], true}
		}
		for _, o := range g[1] {
			m[o] = struct {
				group string
				on    bool
			}{g[0][0], false}
		}
	}
	return m
}()

func (c *checker) rlimit(r *RlimitRule) {
	if r.Resource == nil || r.Value == nil {
		c.errorf(r.Pos(), "rule", "rlimit needs a resource and a value: set rlimit nofile <= 1024,")
		return
	}
	res, val := r.Resource.Value(), r.Value.Value()
	if val == "infinity" {
		if !rlimitSize[res] && !rlimitNumber[res] && !rlimitTime[res] && res != "nice" {
			c.errorf(r.Resource.Pos(), "rule", "unknown rlimit %q", res)
		}
		return
	}
	num, unit := splitNumber(val)
	unit = strings.TrimLeft(unit, " \t") // "1 s" is "1s"
	bad := func(want string) {
		c.errorf(r.Value.Pos(), "rule", "rlimit %s: invalid value %q (%s)", res, val, want)
	}
	switch {
	case rlimitSize[res]:
		if num == "" || strings.HasPrefix(num, "-") || !validUnit(unit, "", "K", "M", "G", "KB", "MB", "GB") {
			bad("a size such as 1024, 100K, 8M or 1G")
		}
	case rlimitNumber[res]:
		if num == "" || strings.HasPrefix(num, "-") || unit != "" {
			bad("a plain non-negative number")
		}
	case res == "cpu":
		if num == "" || strings.HasPrefix(num, "-") || !validUnit(unit, "", "s", "sec", "second", "seconds", "min", "minute", "minutes", "h", "hour", "hours", "d", "day", "days", "week", "weeks") {
			bad("a time of at least seconds, such as 60seconds or 2minutes")
		}
	case res == "rttime":
		if num == "" || strings.HasPrefix(num, "-") || !validUnit(unit, "", "us", "microsecond", "microseconds", "ms", "millisecond", "milliseconds", "s", "sec", "second", "seconds", "min", "minute", "minutes", "h", "hour", "hours", "d", "day", "days", "week", "weeks") {
			bad("a time such as 100us, 10ms or 1s")
		}
	case res == "nice":
		n, err := strconv.Atoi(val)
		if err != nil || n < -20 || n > 19 {
			bad("a number from -20 to 19")
		}
	default:
		c.errorf(r.Resource.Pos(), "rule", "unknown rlimit %q (cpu, fsize, data, stack, core, rss, nofile, ofile, as, nproc, memlock, locks, sigpending, msgqueue, nice, rtprio, rttime)", res)
	}
}

// isModeWord reports whether apparmor_parser lexes w as file permissions.
func isModeWord(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		if strings.IndexByte("rwalkmxiupcRWALKMXIUPC", w[i]) < 0 {
			return false
		}
	}
	return true
}

// splitNumber splits "100K" into "100" and "K"; "-5" keeps its sign.
func splitNumber(s string) (num, unit string) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 || (i == 1 && s[0] == '-') {
		return "", s
	}
	return s[:i], s[i:]
}

func validUnit(u string, units ...string) bool {
	for _, x := range units {
		if u == x {
			return true
		}
	}
	return false
}
