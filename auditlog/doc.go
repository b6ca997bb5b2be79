// Package auditlog reads AppArmor audit events from every log format Linux
// writes them in, fast and without losing any.
//
// Formats, detected per line so that mixed input works:
//   - auditd's audit.log: type=AVC / type=1400 / type=USER_AVC (dbus, with
//     the nested msg='…'), the node= prefix, and the enriched form with
//     \x1d and upper-case FSUID=/OUID= after it;
//   - kernel printk: "audit: type=1400 audit(…): …" behind any prefix
//     (dmesg, dmesg -T, kern.log/syslog in BSD, RFC 5424 and ISO-8601 form,
//     journalctl -k), and /dev/kmsg records ("6,1234,5678901,-;audit: …");
//   - journald: journalctl -o json lines, -o export records (detected per
//     stream by Reader), and the short "audit[PID]: AVC apparmor=…" form;
//   - dbus-daemon's own "dbus-daemon[PID]: apparmor=…" syslog line, written
//     when it cannot send USER_AVC records to the audit subsystem: read,
//     but rejected as evidence (see below).
//
// Every field layout of kernels 6.1 to 6.12 and Ubuntu's is read; keys
// armorer does not know are kept. Values the kernel hex-encodes are
// decoded when first read.
//
// # Evidence
//
// Only what the kernel or auditd wrote is an event: raw records (audit.log,
// netlink, dmesg), kernel printk lines behind a syslog header tagged
// kernel: or audit[PID]:, /dev/kmsg records of the kernel's facility, and
// journal entries of _TRANSPORT=kernel or audit. An AppArmor record inside
// another program's message (logger lets any user write "host alice:
// type=1400 audit(…): apparmor=…" into the system log), a journal entry of
// another transport, or a /dev/kmsg record written from user space is
// KindRejected, with the reason in Event.Rejected, and counted in
// Stats.Rejected. An audit.log line or printk record of another audit
// type (SYSCALL, PROCTITLE, USER_*, …) is no AppArmor record whatever its
// text holds, so that apparmor= inside a user's USER_* message, even a
// whole forged record, is not an event: only AVC, USER_AVC and
// AUDIT_APPARMOR_* records are. And USER_AVC records only of dbus: any
// process with CAP_AUDIT_WRITE (root in a default container) writes one,
// with any text, through the kernel into audit.log, and user space
// mediates dbus only (dbus-daemon, dbus-broker), so a USER_AVC record of
// another class (a file open, a capability), or an AppArmor record nested
// in its text, is KindRejected.
//
// Parser parses one line into a caller-owned Event whose slices alias the
// line; Stream removes duplicates (the printk copy and the audit copy of
// one event) and counts lost events; Reader does both over an io.Reader in
// constant memory. None of them is safe for concurrent use. They are the
// building blocks: programs that read events from SOURCEs (files, the
// kernel's live logs, the journal) use package auditlog/source, the one
// event pipeline on top of them.
package auditlog
