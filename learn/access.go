// Package learn turns observed AppArmor events into profile rules: it
// merges file permissions per path, generalises paths by a documented
// policy, chooses exec transitions and abstractions, keeps evidence for
// every rule, and holds back sensitive accesses as findings for a human.
//
// The input is a stream of Access values (one per event; a Mapper builds
// them from auditlog events); the output is a Profile per profile label:
// policy AST nodes with their evidence (Learned) and the findings held
// back, which Merge adds to the files of a host.ProfileSet. Session does
// all of it for a profile directory.
package learn

import (
	"cmp"
	"strconv"
	"strings"
	"time"

	"github.com/armorer-dev/armorer/policy/aare"
)

// Class is the kind of access an event records, which decides the rule
// kind that allows it.
type Class uint8

const (
	ClassUnknown Class = iota
	ClassFile
	ClassCapability
	ClassNetwork
	ClassUnix
	ClassSignal
	ClassPtrace
	ClassDBus
	ClassMount
	ClassUmount
	ClassPivotRoot
	ClassChangeProfile
	ClassUserns
	ClassIOUring
	ClassMqueue
)

var classNames = [...]string{"unknown", "file", "capability", "network", "unix", "signal", "ptrace", "dbus",
	"mount", "umount", "pivot_root", "change_profile", "userns", "io_uring", "mqueue"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// kernelPerms reads a kernel mask such as "rw", "wc", "d", "::r" or
// "r::". Letters that are not file permissions are ignored; c and d
// (create, delete) become w, as AppArmor's rules spell them.
func kernelPerms[T ~string | ~[]byte](mask T) aare.Perm {
	var p aare.Perm
	for i := 0; i < len(mask); i++ {
		switch mask[i] {
		case 'r':
			p |= aare.PermRead
		case 'w', 'c', 'd':
			p |= aare.PermWrite
		case 'a':
			p |= aare.PermAppend
		case 'l':
			p |= aare.PermLink
		case 'k':
			p |= aare.PermLock
		case 'm':
			p |= aare.PermMmap
		case 'x':
			p |= aare.PermExec
		}
	}
	return normal(p)
}

// normal drops a when w is present: a rule cannot say both, and w implies a.
func normal(p aare.Perm) aare.Perm {
	if p&aare.PermWrite != 0 {
		p &^= aare.PermAppend
	}
	return p
}

// permString spells permissions in the order profiles usually use:
// m r w a l k (the exec mode is added by the rule, not here).
func permString(p aare.Perm) string {
	var b strings.Builder
	for _, c := range []struct {
		bit aare.Perm
		ch  byte
	}{{aare.PermMmap, 'm'}, {aare.PermRead, 'r'}, {aare.PermWrite, 'w'}, {aare.PermAppend, 'a'}, {aare.PermLink, 'l'}, {aare.PermLock, 'k'}} {
		if p&c.bit != 0 {
			b.WriteByte(c.ch)
		}
	}
	return b.String()
}

// Access is one observed access, normalised from one event. Only the
// fields of its Class are set.
type Access struct {
	// Profile is the subject's label as logged: "myapp",
	// "myapp//helper", or a complain-mode learning child such as
	// "myapp//null-/usr/bin/helper".
	Profile   string
	Class     Class
	Operation string

	// File: the path, its permissions, and whether the process owned the
	// file (fsuid == ouid). For exec, Target is the label the kernel
	// moved to; for link, Target is the link's target path.
	Path   string
	Perms  aare.Perm
	Owner  bool
	Target string

	// Capability: its name ("net_bind_service").
	Capability string

	// Network and unix: the family, socket type and protocol; unix
	// addresses as logged.
	Family, SockType, Protocol string
	Addr, PeerAddr             string

	// Signal, ptrace, unix, dbus: the requested permissions as the kernel
	// spells them ("send", "receive", "read", "trace", "connect", …),
	// the signal name and the peer label.
	Mask   []string
	Signal string
	Peer   string

	// DBus: bus, object path, interface, member and the peer's bus name.
	Bus, DBusPath, Interface, Member, PeerName string

	// Mqueue: "sysv" for a System V queue ("" is POSIX); Path is the
	// queue's name.
	MqType string

	// Mount: filesystem type, flags (options) and source; Path is the
	// mount point.
	FSType, Flags, Source string

	// Evidence: when and where the event was seen.
	Time time.Time
	Loc  Location

	// by is the Mapper that filled the access, profileID and pathID the
	// numbers it gave Profile and Path (0: none): Learner.Add's way to a
	// label's and a path's records without hashing them again.
	by                *Mapper
	profileID, pathID uint32
}

// Location is where an event was read: a SOURCE and its line number (or
// journal sequence number).
type Location struct {
	Source string
	Line   int64
}

func (l Location) String() string {
	if l.Source == "" && l.Line == 0 {
		return ""
	}
	return l.Source + ":" + strconv.FormatInt(l.Line, 10)
}

func compareLocations(a, b Location) int {
	return cmp.Or(strings.Compare(a.Source, b.Source), cmp.Compare(a.Line, b.Line))
}
