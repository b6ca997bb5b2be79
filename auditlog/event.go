package auditlog

import (
	"encoding/hex"
	"time"
	"unicode/utf8"
)

// Kind says what a parsed line turned out to be.
type Kind uint8

const (
	// KindNone: the line is not an AppArmor record (other log lines, other
	// audit record types). Nothing else in the Event is meaningful.
	KindNone Kind = iota
	// KindEvent: an AppArmor audit event (apparmor="DENIED", "ALLOWED",
	// "AUDIT", "STATUS", …); Fields and the header fields are set.
	KindEvent
	// KindLost: a notice that events were lost; see Event.Lost and
	// Event.LostCounter.
	KindLost
	// KindRejected: an AppArmor record that neither the kernel nor auditd
	// wrote, e.g. inside another program's syslog message (what logger lets
	// any user write); it is no evidence. Event.Rejected says why.
	KindRejected
)

// Format is the log format a line was recognised as.
type Format uint8

// Formats. A Reader detects them per line (journald export per stream).
const (
	FormatUnknown       Format = iota
	FormatAuditd               // type=AVC msg=audit(…): … (audit.log, optionally node=)
	FormatPrintk               // audit: type=1400 audit(…): … (dmesg, kern.log, syslog, journalctl -k)
	FormatKmsg                 // /dev/kmsg record: 6,1234,5678901,-;audit: …
	FormatJournalAudit         // audit[PID]: AVC apparmor=… (journald short output, audit transport)
	FormatJournalJSON          // journalctl -o json
	FormatJournalExport        // journalctl -o export record
	FormatBare                 // a program's own "apparmor=… operation=…" message, e.g. dbus-daemon's syslog line without auditd
)

var formatNames = [...]string{"unknown", "auditd", "printk", "kmsg", "journal-audit", "journal-json", "journal-export", "bare"}

func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "unknown"
}

// Encoding says how a field's value was written.
type Encoding uint8

const (
	EncBare   Encoding = iota // unquoted: key=value
	EncQuoted                 // key="value" or key='value'
	EncHex                    // unquoted hex digits: the kernel's encoding of untrusted strings
)

// Field is one key=value pair of an event, in the order of the line.
// Key and Value alias the parsed line (or the Event's own buffer) and are
// valid until the next Parse into the same Event.
type Field struct {
	Key  Key    // KeyNone for keys armorer does not know
	Name []byte // the key as written (requested=, FSUID=, …)
	// Value is the raw value without quotes. For EncHex it is the hex text
	// until the value is first read through Event.Value/String, which
	// decodes it in place.
	Value   []byte
	Enc     Encoding
	decoded bool
}

// Event is one AppArmor audit event, or a lost-events notice (see Kind).
//
// An Event is filled by Parser.Parse. Its byte slices alias the parsed line
// and the Parser's buffers: they are valid until the next Parse into the
// same Event or with the same Parser. Clone copies what must outlive that.
// Hex-encoded values are decoded when first read, which modifies the Event:
// an Event is not safe for concurrent use, except a Clone, whose values are
// all decoded already and which is read-only from then on.
type Event struct {
	Kind   Kind
	Format Format

	// Type is the audit record type number: 1400 (AVC) for kernel
	// AppArmor events, 1107 (USER_AVC) for dbus-daemon's.
	Type uint16
	// Node is auditd's node= name, or empty.
	Node []byte
	// Time is the audit timestamp, from audit(EPOCH.MS:SERIAL) or journald's
	// _SOURCE_REALTIME_TIMESTAMP; its zero value means "none".
	Time Stamp
	// Serial is the audit serial number, 0 if unknown.
	Serial uint64
	// Cursor is journald's __CURSOR for journal records, else empty.
	Cursor []byte

	// Lost is the number of events a KindLost notice says were dropped
	// (callbacks suppressed: N; rate/backlog limit notices: 1).
	Lost uint64
	// LostCounter is the kernel's cumulative audit_lost= value, with
	// HasLostCounter. A Reader turns successive readings into increases.
	LostCounter    uint64
	HasLostCounter bool
	limitNotice    bool // "rate/backlog limit exceeded", printed after its audit_lost= reading

	// Rejected says why a KindRejected record is not evidence.
	Rejected string

	// Fields are all key=value pairs in line order, known keys and unknown
	// ones alike. A nested USER_AVC msg='…' is flattened in place.
	Fields []Field

	idx     [numKeys]uint16 // 1+index into Fields of the last field with that key
	scratch []byte          // decoded hex values
	intern  *interner
	only    uint64 // the keys the Parser keeps (Parser.Only), a bit per Key; 0: all fields
}

// Stamp is an audit timestamp: seconds since the epoch and milliseconds.
type Stamp struct {
	Sec  int64
	Msec uint32
}

// IsZero reports whether the event carried no timestamp.
func (s Stamp) IsZero() bool { return s.Sec == 0 && s.Msec == 0 }

// Time converts the stamp to a UTC time.Time.
func (s Stamp) Time() time.Time {
	return time.Unix(s.Sec, int64(s.Msec)*int64(time.Millisecond)).UTC()
}

func (e *Event) reset() {
	e.Kind, e.Format, e.Type = KindNone, FormatUnknown, 0
	e.Node, e.Cursor = nil, nil
	e.Time, e.Serial = Stamp{}, 0
	e.Lost, e.LostCounter, e.HasLostCounter, e.limitNotice = 0, 0, false, false
	e.Rejected = ""
	e.Fields = e.Fields[:0]
	e.idx = [numKeys]uint16{}
	e.scratch = e.scratch[:0]
}

// Has reports whether the event has a field with key k.
func (e *Event) Has(k Key) bool { return k < numKeys && e.idx[k] != 0 }

// field returns the last field with key k, or nil.
func (e *Event) field(k Key) *Field {
	if k >= numKeys || e.idx[k] == 0 {
		return nil
	}
	return &e.Fields[e.idx[k]-1]
}

// Value returns the decoded value of the last field with key k, or nil.
// The slice is valid until the next Parse into e.
func (e *Event) Value(k Key) []byte {
	f := e.field(k)
	if f == nil {
		return nil
	}
	return e.decode(f)
}

// String returns the decoded value of key k as a string ("" if absent).
// Values of keys with few distinct values (profile, operation, comm, masks,
// …) are interned by the Parser and cost no allocation after the first time.
func (e *Event) String(k Key) string {
	v := e.Value(k)
	if v == nil {
		return ""
	}
	if keyInfos[k].intern && e.intern != nil {
		return e.intern.get(v)
	}
	return string(v)
}

// Int returns key k's value as an integer, and whether it was one.
func (e *Event) Int(k Key) (int64, bool) {
	v := e.Value(k)
	if len(v) > 0 && v[0] == '-' {
		n, ok := parseUint(v[1:])
		return -int64(n), ok && n <= 1<<63
	}
	n, ok := parseUint(v)
	return int64(n), ok && n < 1<<63
}

// Lookup returns the decoded value of the last field named name as
// written in the line (for keys armorer does not know), and whether it
// exists.
func (e *Event) Lookup(name string) ([]byte, bool) {
	for i := len(e.Fields) - 1; i >= 0; i-- {
		f := &e.Fields[i]
		if string(f.Name) == name || (f.Key != KeyNone && keyInfos[f.Key].name == name) {
			return e.decode(f), true
		}
	}
	return nil, false
}

// FieldValue returns the decoded value of f, which must be one of e.Fields.
func (e *Event) FieldValue(f *Field) []byte { return e.decode(f) }

// decode returns f's value, decoding hex in place the first time.
func (e *Event) decode(f *Field) []byte {
	if f.Enc != EncHex || f.decoded {
		return f.Value
	}
	start := len(e.scratch)
	var err error
	e.scratch, err = hex.AppendDecode(e.scratch, f.Value)
	if err != nil { // cannot happen: the parser checked the digits
		e.scratch = e.scratch[:start]
		return f.Value
	}
	f.Value = e.scratch[start:len(e.scratch):len(e.scratch)]
	f.decoded = true
	return f.Value
}

// Outcome is an event's apparmor= value.
type Outcome string

// The outcomes the kernel writes.
const (
	OutcomeAudit   Outcome = "AUDIT"   // an audit rule allowed it
	OutcomeAllowed Outcome = "ALLOWED" // complain mode allowed it
	OutcomeDenied  Outcome = "DENIED"
	OutcomeHint    Outcome = "HINT"
	OutcomeStatus  Outcome = "STATUS" // a profile was loaded, replaced, removed
	OutcomeError   Outcome = "ERROR"
	OutcomeKill    Outcome = "KILL" // denied, and the task killed
)

// Outcome returns the apparmor= value (interned, no allocation).
func (e *Event) Outcome() Outcome { return Outcome(e.String(KeyApparmor)) }

// Denied reports whether the event is a denial (apparmor="DENIED" or
// "KILL"; complain mode's "ALLOWED" is not).
func (e *Event) Denied() bool {
	v := Outcome(e.Value(KeyApparmor))
	return v == OutcomeDenied || v == OutcomeKill
}

// Label returns the subject's label: profile= on kernel events, label= on
// dbus (USER_AVC) events and newer kernels. The slice aliases the line.
func (e *Event) Label() []byte {
	if v := e.Value(KeyProfile); v != nil {
		return v
	}
	return e.Value(KeyLabel)
}

// Class is an event's class, as class= spells it.
type Class string

// The classes: those kernels write in class= (6.8+), which Class infers
// for older kernels too.
const (
	ClassFile      Class = "file"
	ClassCap       Class = "cap"
	ClassNet       Class = "net" // 6.12 writes net for unix sockets too
	ClassUnix      Class = "unix"
	ClassSignal    Class = "signal"
	ClassPtrace    Class = "ptrace"
	ClassDBus      Class = "dbus"
	ClassMount     Class = "mount"
	ClassNamespace Class = "namespace" // userns_create
	ClassIOUring   Class = "io_uring"
	ClassMqueue    Class = "posix_mqueue"
	ClassRlimits   Class = "rlimits"
	ClassStatus    Class = "status"
)

// Class returns the event class: class= when the kernel wrote it (6.8+),
// otherwise inferred from the operation and the fields present, as
// libapparmor and aa-logprof do.
func (e *Event) Class() Class {
	if !e.Has(KeyClass) {
		return Class(inferClass(e))
	}
	v := e.Value(KeyClass)
	for _, c := range knownClasses { // without the intern table's hash
		if string(v) == string(c) {
			return c
		}
	}
	return Class(e.String(KeyClass))
}

// ClassKeys returns the keys whose fields Class reads: a Parser that
// keeps only some keys (Parser.Only) must keep these for Class to work.
func ClassKeys() []Key {
	return []Key{KeyClass, KeyOperation, KeyApparmor, KeyCapname, KeyCapability, KeySignal, KeyBus,
		KeyFamily, KeySockType, KeyName, KeyRequestedMask}
}

var knownClasses = [...]Class{ClassFile, ClassNet, ClassUnix, ClassCap, ClassSignal, ClassPtrace, ClassDBus,
	ClassMount, ClassNamespace, ClassIOUring, ClassMqueue, ClassRlimits, ClassStatus}

// DecodeAll decodes every hex-encoded value, so that later reads do not
// modify the Event.
func (e *Event) DecodeAll() {
	for i := range e.Fields {
		e.decode(&e.Fields[i])
	}
}

// Clone returns a deep copy of e that owns its memory, with every value
// decoded. The copy is read-only and may be shared between goroutines.
func (e *Event) Clone() *Event {
	e.DecodeAll()
	n := len(e.Node) + len(e.Cursor)
	for _, f := range e.Fields {
		n += len(f.Name) + len(f.Value)
	}
	buf := make([]byte, 0, n)
	cp := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		s := len(buf)
		buf = append(buf, b...)
		return buf[s:len(buf):len(buf)]
	}
	c := &Event{
		Kind: e.Kind, Format: e.Format, Type: e.Type, Time: e.Time, Serial: e.Serial,
		Lost: e.Lost, LostCounter: e.LostCounter, HasLostCounter: e.HasLostCounter, limitNotice: e.limitNotice,
		Rejected: e.Rejected,
		idx:      e.idx,
	}
	c.Node, c.Cursor = cp(e.Node), cp(e.Cursor)
	c.Fields = make([]Field, len(e.Fields))
	for i, f := range e.Fields {
		c.Fields[i] = Field{Key: f.Key, Name: cp(f.Name), Value: cp(f.Value), Enc: f.Enc, decoded: f.decoded}
	}
	return c
}

// ValidUTF8 reports whether f's decoded value is valid UTF-8; values that
// are not are also written as <key>_hex in JSON.
func (e *Event) ValidUTF8(f *Field) bool { return utf8.Valid(e.decode(f)) }
