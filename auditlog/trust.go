package auditlog

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
)

// Only what the kernel or auditd wrote is evidence. Any local user can put
// text into the system log (logger, a service's own messages), so an
// AppArmor record inside another program's syslog message, a journal entry
// of a transport other than kernel or audit, or a /dev/kmsg record written
// from user space is parsed but rejected (KindRejected), never delivered as
// an event.
//
// Nor is every auditd or kernel record: any process with CAP_AUDIT_WRITE
// (root in a default container) sends the kernel a USER_AVC record with any
// text, and the kernel and auditd log it as they log dbus-daemon's. User
// space's AppArmor mediation is dbus's (dbus-daemon, dbus-broker), so a
// USER_AVC record is evidence of a dbus event only (untrustedUserAVC), and
// an AppArmor record inside another record's text (nestedRecord) none.

var (
	printkPrefix = []byte("audit: ")
	rfc5424Nil   = []byte("-")
)

// untrustedPrefix says why the text before a record (pre) is not the
// kernel's or auditd's, or "" when it is: nothing (a raw record: audit.log,
// netlink, a journal MESSAGE, dmesg), a dmesg timestamp, or a syslog header
// whose tag is kernel or audit[PID] (BSD, ISO-8601 and RFC 5424 forms),
// optionally followed by the kernel's own timestamp.
func untrustedPrefix(pre []byte) string {
	pre = trimDmesgStamp(pre)
	if len(pre) == 0 {
		return ""
	}
	tag := syslogTag(pre)
	if tag == nil {
		return "text before the record is not a kernel or audit log prefix"
	}
	if trustedTag(tag) {
		return ""
	}
	return "written by " + strconv.QuoteToASCII(string(tag[:min(len(tag), 64)])) + ", not the kernel or auditd (another program's syslog message)"
}

// trimDmesgStamp removes a trailing "[   12.345678] " or "[Tue Nov 25
// 07:00:01 2026] " from pre.
func trimDmesgStamp(pre []byte) []byte {
	p := trimSpaces(pre)
	if len(p) == 0 || p[len(p)-1] != ']' {
		return pre
	}
	i := lastIndexByte(p, '[')
	if i < 0 {
		return pre
	}
	return p[:i]
}

// syslogTag returns the tag (program name, with its [PID]) of a syslog
// header, or nil if pre does not end with one.
func syslogTag(pre []byte) []byte {
	p := trimSpaces(pre)
	if len(p) > 0 && p[0] == '<' {
		// RFC 5424: <PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID SD
		f := bytes.Fields(p)
		if len(f) == 7 && bytes.IndexByte(f[0], '>') > 0 && bytes.Equal(f[5], rfc5424Nil) {
			return f[3] // the PROCID does not matter: kernel or audit
		}
		return nil
	}
	if len(p) == 0 || p[len(p)-1] != ':' {
		return nil
	}
	p = p[:len(p)-1]
	return p[lastIndexByte(p, ' ')+1:]
}

// trimSpaces is bytes.TrimRight(b, " ").
func trimSpaces(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// lastIndexByte is bytes.LastIndexByte, 8 bytes at a time from the end
// (bytes.LastIndexByte goes byte by byte): the bytes it looks for in a log
// prefix are a few words back.
func lastIndexByte(b []byte, c byte) int {
	const lows, highs = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	pat := uint64(c) * 0x0101010101010101
	i := len(b)
	for ; i >= 8; i -= 8 {
		x := binary.LittleEndian.Uint64(b[i-8:]) ^ pat
		// A byte's top bit is set when the byte is not 0, exactly (no
		// carry crosses bytes): the zero bytes are c's.
		if m := ^((x&lows + lows) | x) & highs; m != 0 {
			return i - 1 - bits.LeadingZeros64(m)/8
		}
	}
	for i--; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// trustedTag reports whether a syslog tag is the kernel's or the audit
// transport's: kernel, audit or audit[PID].
func trustedTag(tag []byte) bool {
	switch string(tag) {
	case "kernel", "audit":
		return true
	}
	rest, ok := bytes.CutPrefix(tag, []byte("audit["))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return false
	}
	_, ok = parseUint(rest[:len(rest)-1])
	return ok
}

// untrustedKmsg says why a /dev/kmsg record is not the kernel's: user space
// can write /dev/kmsg, but the kernel gives its records facility LOG_USER
// or above, while its own have facility 0 (PRI below 8).
func untrustedKmsg(line []byte) string {
	end := bytes.IndexByte(line, ',')
	pri, ok := parseUint(line[:max(end, 0)])
	if ok && pri < 8 {
		return ""
	}
	return "/dev/kmsg record written from user space (facility " + strconv.FormatUint(pri>>3, 10) + "), not by the kernel"
}

// untrustedTransport says why a journal entry is not the kernel's or
// audit's: only _TRANSPORT=kernel and _TRANSPORT=audit are written by
// them (journald sets the underscore fields; clients cannot).
func untrustedTransport(transport []byte) string {
	switch string(transport) {
	case "kernel", "audit":
		return ""
	case "":
		return "journal entry without _TRANSPORT: not known to come from the kernel or auditd"
	}
	return "journal entry of _TRANSPORT=" + strconv.QuoteToASCII(string(transport[:min(len(transport), 32)])) + ", not kernel or audit (another program's message)"
}

const (
	nestedRecord   = "an AppArmor record inside another record's text (a user space USER_AVC message), not the kernel's"
	userAVCMessage = "journal entry of _AUDIT_TYPE USER_AVC whose MESSAGE is not a USER_AVC record"
)

// untrustedUserAVC says why a USER_AVC record, parsed into ev (with
// Parser.Only too: it keeps what Class reads), is not evidence: it is not a dbus
// mediation (an operation dbus_… of class dbus), the only AppArmor events
// user space writes. Any process with CAP_AUDIT_WRITE can write one of a
// file or capability operation, which the kernel never reports this way.
func untrustedUserAVC(ev *Event) string {
	op := ev.Value(KeyOperation)
	class := ev.Class()
	if bytes.HasPrefix(op, []byte("dbus_")) && class == ClassDBus {
		return ""
	}
	return "USER_AVC record of operation " + strconv.QuoteToASCII(string(op[:min(len(op), 32)])) +
		" class " + strconv.QuoteToASCII(string(class[:min(len(class), 32)])) +
		": user space (any process with CAP_AUDIT_WRITE) writes USER_AVC, and only dbus mediation comes from it"
}

// reject turns a parsed record into a rejected one.
func (e *Event) reject(reason string) {
	e.Kind, e.Rejected = KindRejected, reason
}
