package auditlog

import "bytes"

// inferClass names the class of an event from a kernel that writes no
// class= (6.1 and older), using the operation and the fields present. The
// names are those newer kernels write. It reads the operation's bytes, not
// its interned string: Class is asked of every event (events --summary).
func inferClass(e *Event) string {
	v := e.Value(KeyOperation)
	is := func(name string) bool { return string(v) == name }
	has := func(prefix string) bool { return bytes.HasPrefix(v, []byte(prefix)) }
	switch {
	case string(e.Value(KeyApparmor)) == "STATUS":
		return "status"
	case e.Has(KeyCapname) || e.Has(KeyCapability) || is("capable"):
		return "cap"
	case e.Has(KeySignal) || is("signal"):
		return "signal"
	case is("ptrace"):
		return "ptrace"
	case has("dbus") || e.Has(KeyBus):
		return "dbus"
	case e.Has(KeyFamily) || e.Has(KeySockType): // 6.12 writes class="net" for unix sockets too
		return "net"
	case is("mount") || is("umount") || is("pivotroot") || is("remount"):
		return "mount"
	case is("userns_create"):
		return "namespace"
	case has("uring"):
		return "io_uring"
	case has("mqueue") || has("mq_"):
		return "posix_mqueue"
	case is("setrlimit"):
		return "rlimits"
	case e.Has(KeyName) || e.Has(KeyRequestedMask) || is("exec") ||
		is("change_profile") || is("change_hat") || is("change_onexec"):
		return "file"
	}
	return ""
}
