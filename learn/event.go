package learn

import (
	"strconv"
	"strings"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/policy/aare"
)

// fromEvent is Mapper.Map without interning: it fills a with the access
// an AppArmor event records and reports whether there is one to learn from. Only ALLOWED (complain mode) and
// DENIED/KILL events are; STATUS, HINT and AUDIT lines are not, nor
// capability checks the kernel marks "optional: no audit" (the program
// copes without them), nor events of classes learn has no rule for.
// source and line say where the event was read, for evidence.
//
// a's strings are copies: a outlives the event.
func fromEvent(ev *auditlog.Event, source string, line int64, a *Access) bool {
	var m *Mapper
	return m.Map(ev, source, line, a)
}

// Mapper maps events to accesses (see fromEvent for which events count)
// with memory: it shares one copy of each profile
// label and path among the accesses it fills, so mapping a long log does
// not allocate a string per event. It is not safe for concurrent use.
//
// Each label and name it keeps has a number, which the accesses it
// fills carry for their Profile and Path: a Learner mapping with its own
// Mapper (Session.Learn) finds a label's and a path's records by number,
// without hashing either string again. Labels have a table of their own:
// a log has few, and a small table's lookups stay in the cache.
type Mapper struct {
	labels, names strTable
}

// strTable numbers strings.
type strTable struct {
	ids  map[string]uint32 // string → its number, an index into strs
	strs []string          // strs[0] is "", the number of none
}

// intern returns a string equal to b; a nil Mapper just converts.
func (m *Mapper) intern(b []byte) string {
	if m == nil {
		return string(b)
	}
	s, _ := m.names.intern(b)
	return s
}

// label and name intern a label and a name with their numbers (0 for a
// nil Mapper, which just converts).
func (m *Mapper) label(b []byte) (string, uint32) {
	if m == nil {
		return string(b), 0
	}
	return m.labels.intern(b)
}

func (m *Mapper) name(b []byte) (string, uint32) {
	if m == nil {
		return string(b), 0
	}
	return m.names.intern(b)
}

// labelID and nameID are the numbers of s, which an access says are id
// in mapper by: id itself when by is m and the string is still s, else
// looked up (and kept).
func (m *Mapper) labelID(by *Mapper, id uint32, s string) uint32 {
	if by == m && m.labels.is(id, s) {
		return id
	}
	_, id = m.labels.internString(s)
	return id
}

func (m *Mapper) nameID(by *Mapper, id uint32, s string) uint32 {
	if by == m && m.names.is(id, s) {
		return id
	}
	_, id = m.names.internString(s)
	return id
}

func (t *strTable) is(id uint32, s string) bool {
	return id != 0 && int(id) < len(t.strs) && t.strs[id] == s
}

func (t *strTable) intern(b []byte) (string, uint32) {
	if id, ok := t.ids[string(b)]; ok {
		return t.strs[id], id
	}
	return t.add(string(b))
}

func (t *strTable) internString(s string) (string, uint32) {
	if id, ok := t.ids[s]; ok {
		return t.strs[id], id
	}
	return t.add(s)
}

func (t *strTable) add(s string) (string, uint32) {
	if t.ids == nil {
		t.ids = map[string]uint32{}
		t.strs = []string{""}
	}
	id := uint32(len(t.strs))
	t.strs = append(t.strs, s)
	t.ids[s] = id
	return s, id
}

// Map is fromEvent, with interning.
func (m *Mapper) Map(ev *auditlog.Event, source string, line int64, a *Access) bool {
	keep := a.Mask[:0] // reused: Add and Simulator.Add (learn.Learner, simulate.Simulator) copy what they keep
	*a = Access{Mask: keep}
	if ev.Kind != auditlog.KindEvent {
		return false
	}
	switch string(ev.Value(auditlog.KeyApparmor)) { // ev.Outcome(), without the intern table's hash
	case string(auditlog.OutcomeAllowed), string(auditlog.OutcomeDenied), string(auditlog.OutcomeKill):
	default:
		return false
	}
	a.by = m
	a.Profile, a.profileID = m.label(ev.Label())
	a.Operation = operation(ev)
	if !ev.Time.IsZero() {
		a.Time = ev.Time.Time()
	}
	a.Loc = Location{Source: source, Line: line}
	maskKey := auditlog.KeyRequestedMask
	if len(ev.Value(maskKey)) == 0 {
		maskKey = auditlog.KeyDeniedMask
	}
	class := ev.Class()
	mask := ""
	if class != auditlog.ClassFile {
		mask = ev.String(maskKey) // file masks are read as bytes (kernelPerms)
	}
	switch class {
	case auditlog.ClassFile:
		switch a.Operation {
		case "change_profile", "change_onexec":
			a.Class = ClassChangeProfile
			a.Target = ev.String(auditlog.KeyTarget)
			if a.Target == "" {
				a.Target = ev.String(auditlog.KeyName)
			}
			return a.Target != ""
		case "change_hat":
			return false
		}
		a.Class = ClassFile
		a.Path, a.pathID = m.name(ev.Value(auditlog.KeyName))
		a.Perms = kernelPerms(ev.Value(maskKey))
		if a.Operation == "exec" {
			a.Perms |= aare.PermExec
		}
		if a.Operation == "link" {
			a.Perms |= aare.PermLink
			a.Target = ev.String(auditlog.KeyTarget) // the existing file
		}
		if a.Perms&aare.PermExec != 0 {
			a.Target = ev.String(auditlog.KeyTarget)
		}
		fsuid, ok1 := ev.Int(auditlog.KeyFSUID)
		ouid, ok2 := ev.Int(auditlog.KeyOUID)
		a.Owner = ok1 && ok2 && fsuid == ouid
		return a.Path != "" && a.Perms != 0
	case auditlog.ClassCap:
		if strings.HasPrefix(ev.String(auditlog.KeyInfo), "optional") {
			return false
		}
		a.Class = ClassCapability
		a.Capability = ev.String(auditlog.KeyCapname)
		if a.Capability == "" {
			if n, ok := ev.Int(auditlog.KeyCapability); ok {
				a.Capability = capabilityName(int(n))
			}
		}
		return ruleCapability(a.Capability) // ast.go: a forged name builds no rule
	case auditlog.ClassNet, auditlog.ClassUnix:
		a.Family = ev.String(auditlog.KeyFamily)
		a.SockType = ev.String(auditlog.KeySockType)
		a.Protocol = ev.String(auditlog.KeyProtocol)
		a.Mask = splitMask(a.Mask, mask)
		// Fine-grained unix mediation (Ubuntu's kernels) logs addresses;
		// upstream kernels mediate unix sockets as network rules.
		if a.Family == "unix" && (ev.Has(auditlog.KeyAddr) || ev.Has(auditlog.KeyPeerAddr)) {
			a.Class = ClassUnix
			a.Addr = ev.String(auditlog.KeyAddr)
			a.PeerAddr = ev.String(auditlog.KeyPeerAddr)
			return true
		}
		a.Class = ClassNetwork
		return ruleNetwork(a.Family, a.SockType) // ast.go: a forged name builds no rule
	case auditlog.ClassSignal:
		a.Class = ClassSignal
		a.Mask = splitMask(a.Mask, mask)
		a.Signal = ev.String(auditlog.KeySignal)
		a.Peer = peerOf(ev)
		return true
	case auditlog.ClassPtrace:
		a.Class = ClassPtrace
		a.Mask = splitMask(a.Mask, mask)
		a.Peer = peerOf(ev)
		return true
	case auditlog.ClassDBus:
		a.Class = ClassDBus
		dmask := ev.String(auditlog.KeyMask)
		if dmask == "" {
			dmask = mask
		}
		a.Mask = splitMask(a.Mask, dmask)
		a.Bus = ev.String(auditlog.KeyBus)
		a.DBusPath = ev.String(auditlog.KeyPath)
		a.Interface = ev.String(auditlog.KeyInterface)
		a.Member = ev.String(auditlog.KeyMember)
		if a.Member == "" {
			// dbus-broker says method= where dbus-daemon says member=.
			if v, ok := ev.Lookup("method"); ok {
				a.Member = m.intern(v)
			}
		}
		a.PeerName = ev.String(auditlog.KeyName)
		return true
	case auditlog.ClassMount:
		a.Path = ev.String(auditlog.KeyName)
		switch a.Operation {
		case "umount":
			a.Class = ClassUmount
		case "pivotroot":
			a.Class = ClassPivotRoot
		default:
			a.Class = ClassMount
			a.FSType = ev.String(auditlog.KeyFstype)
			a.Source = ev.String(auditlog.KeySrcname)
			a.Flags = strings.ReplaceAll(ev.String(auditlog.KeyFlags), " ", "")
		}
		return a.Path != ""
	case auditlog.ClassNamespace, "userns":
		a.Class = ClassUserns
		a.Mask = append(a.Mask, "create")
		return true
	case auditlog.ClassIOUring:
		a.Class = ClassIOUring
		a.Mask = splitMask(a.Mask, mask)
		// override_creds names the credentials' label (tcontext=).
		if v, ok := ev.Lookup("tcontext"); ok && len(v) > 0 {
			a.Peer = m.intern(v)
		}
		return true
	case auditlog.ClassMqueue, "mqueue":
		a.Class = ClassMqueue
		a.Mask = splitMask(a.Mask, mask)
		a.Path = ev.String(auditlog.KeyName)
		return true
	case "sysv_mqueue":
		// System V queues are named by their key, a positive integer.
		a.Class = ClassMqueue
		a.MqType = "sysv"
		a.Mask = splitMask(a.Mask, mask)
		if n, ok := ev.Int(auditlog.KeyName); ok && n > 0 {
			a.Path = strconv.FormatInt(n, 10)
		}
		return true
	}
	return false
}

// operation is ev.String(auditlog.KeyOperation): the common operations
// as constants, without the intern table's hash.
func operation(ev *auditlog.Event) string {
	v := ev.Value(auditlog.KeyOperation)
	switch string(v) {
	case "open":
		return "open"
	case "capable":
		return "capable"
	case "exec":
		return "exec"
	case "signal":
		return "signal"
	case "file_perm":
		return "file_perm"
	case "getattr":
		return "getattr"
	case "create":
		return "create"
	case "ptrace":
		return "ptrace"
	case "connect":
		return "connect"
	case "file_mmap":
		return "file_mmap"
	case "mknod":
		return "mknod"
	case "mkdir":
		return "mkdir"
	case "unlink":
		return "unlink"
	case "link":
		return "link"
	case "rename_src":
		return "rename_src"
	case "rename_dest":
		return "rename_dest"
	case "sendmsg":
		return "sendmsg"
	case "recvmsg":
		return "recvmsg"
	case "chmod":
		return "chmod"
	case "chown":
		return "chown"
	case "truncate":
		return "truncate"
	case "file_lock":
		return "file_lock"
	}
	return ev.String(auditlog.KeyOperation)
}

func peerOf(ev *auditlog.Event) string {
	for _, k := range []auditlog.Key{auditlog.KeyPeer, auditlog.KeyPeerLabel, auditlog.KeyPeerProfile} {
		if v := ev.String(k); v != "" {
			return v
		}
	}
	return ""
}

// splitMask appends the words of a kernel mask such as "send receive"
// or "userns_create" to dst, as rule permissions. The words are substrings
// of m (interned by the parser), so this does not allocate once dst has
// room.
func splitMask(dst []string, m string) []string {
	for f := range strings.FieldsSeq(m) {
		f = strings.TrimPrefix(f, "userns_")
		if f != "" {
			dst = append(dst, f)
		}
	}
	return dst
}

// capNames are the capability names by number (linux/capability.h).
var capNames = [...]string{"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
	"setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
	"ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin",
	"sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write",
	"audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend",
	"audit_read", "perfmon", "bpf", "checkpoint_restore"}

func capabilityName(n int) string {
	if n >= 0 && n < len(capNames) {
		return capNames[n]
	}
	return "cap_" + strconv.Itoa(n)
}
