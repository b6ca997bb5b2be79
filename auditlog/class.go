package auditlog

import "strings"

// inferClass names the class of an event from a kernel that writes no
// class= (6.1 and older), using the operation and the fields present. The
// names are those newer kernels write.
func inferClass(e *Event) string {
	op := e.String(KeyOperation)
	switch {
	case string(e.Value(KeyApparmor)) == "STATUS":
		return "status"
	case e.Has(KeyCapname) || e.Has(KeyCapability) || op == "capable":
		return "cap"
	case e.Has(KeySignal) || op == "signal":
		return "signal"
	case op == "ptrace":
		return "ptrace"
	case strings.HasPrefix(op, "dbus") || e.Has(KeyBus):
		return "dbus"
	case e.Has(KeyFamily) || e.Has(KeySockType): // 6.12 writes class="net" for unix sockets too
		return "net"
	case op == "mount" || op == "umount" || op == "pivotroot" || op == "remount":
		return "mount"
	case op == "userns_create":
		return "namespace"
	case strings.HasPrefix(op, "uring"):
		return "io_uring"
	case strings.HasPrefix(op, "mqueue") || strings.HasPrefix(op, "mq_"):
		return "posix_mqueue"
	case op == "setrlimit":
		return "rlimits"
	case e.Has(KeyName) || e.Has(KeyRequestedMask) || op == "exec" ||
		op == "change_profile" || op == "change_hat" || op == "change_onexec":
		return "file"
	}
	return ""
}
