package auditlog

import (
	"bytes"
	"encoding/binary"

	"github.com/valyala/fastjson"
)

// Parser turns log lines into Events. It keeps buffers and an intern table
// between calls, so one Parser should read a whole stream.
//
// A Parser is not safe for concurrent use: use one per goroutine.
type Parser struct {
	intern interner
	json   fastjson.Parser
	msg    []byte // journald MESSAGE given as a byte array
	only   uint64 // see Only
}

// NewParser returns a Parser.
func NewParser() *Parser { return &Parser{} }

// Only makes p keep, of an event's key=value pairs, the last field of each
// of keys (and of KeyApparmor and ClassKeys, which the parser reads itself:
// a USER_AVC record must be dbus's) only, in the place of the first: Fields then
// hold no unknown keys and no repeated ones, and Lookup finds only these.
// Lines are read and checked as before (the same events, the same errors);
// only the fields no one reads are not stored. No keys: keep all (the
// default).
func (p *Parser) Only(keys ...Key) {
	p.only = keySet(keys)
}

// keySet is the bit set of keys for Event.only: 0 for none, else keys and
// those parseText reads (KeyApparmor, and what Class reads for
// untrustedUserAVC).
func keySet(keys []Key) uint64 {
	var s uint64
	for _, k := range keys {
		if k != KeyNone && k < numKeys {
			s |= 1 << k
		}
	}
	if s != 0 {
		s |= 1 << KeyApparmor
		for _, k := range ClassKeys() {
			s |= 1 << k
		}
	}
	return s
}

// Event.only holds a bit per Key.
var _ [64 - numKeys]struct{}

var (
	anchorApparmor = []byte("apparmor=")
	anchorAudit    = []byte("audit(")
	anchorType     = []byte("type=")
	anchorNode     = []byte("node=")
	anchorAVC      = []byte("AVC ")
	anchorLost     = []byte("audit_lost=")
	sfxSuppressed  = []byte(" callbacks suppressed")
	sfxRateLimit   = []byte("rate limit exceeded")
	sfxBacklog     = []byte("backlog limit exceeded")
)

// Parse reads one line in any supported text format (auditd, printk with
// any prefix, /dev/kmsg record, journald short output or one
// `journalctl -o json` object) into ev, which it resets first.
//
// A line that is not an AppArmor event or a lost-events notice gives
// ev.Kind == KindNone and a nil error. A line that looks like an AppArmor
// record but cannot be read gives a *SyntaxError. ev's slices alias line and
// p's buffers until the next Parse.
func (p *Parser) Parse(line []byte, ev *Event) error { return p.parse(line, ev, false) }

// parse is Parse; oneLine says that line holds no '\n' (a Reader's line),
// so that the search for /dev/kmsg dictionary lines, a pass over every
// byte, is not needed.
func (p *Parser) parse(line []byte, ev *Event, oneLine bool) error {
	ev.reset()
	ev.intern, ev.only = &p.intern, p.only
	line = trimEOL(line)
	if len(line) == 0 {
		return nil
	}
	if line[0] == '{' {
		return p.parseJSON(line, ev)
	}
	format := FormatUnknown
	body := 0
	if byteClass[line[0]]&clsDigit != 0 {
		if b, ok := kmsgBody(line); ok {
			format, body = FormatKmsg, b
		}
	}
	if err := p.parseText(line, body, ev, oneLine); err != nil {
		return err
	}
	if format != FormatUnknown && ev.Kind != KindNone {
		ev.Format = format
	}
	return nil
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// kmsgBody returns where the message of a /dev/kmsg record
// ("PRI,SEQ,USEC,FLAGS[,…];message") starts.
func kmsgBody(line []byte) (int, bool) {
	commas := 0
	for i, c := range line {
		switch {
		case c == ',':
			commas++
		case c == ';':
			return i + 1, commas >= 3
		case commas < 3 && byteClass[c]&clsDigit == 0:
			return 0, false
		case i > 64:
			return 0, false
		}
	}
	return 0, false
}

// parseText parses line[from:], a message with its anchors somewhere in it.
// oneLine says that line holds no '\n'.
func (p *Parser) parseText(line []byte, from int, ev *Event, oneLine bool) error {
	body := line[from:]
	if !oneLine {
		if nl := bytes.IndexByte(body, '\n'); nl >= 0 { // /dev/kmsg dictionary lines follow
			body = body[:nl]
		}
	}
	ok, paren := mayBeAppArmor(body)
	if !ok {
		return nil
	}
	ap := indexApparmor(body)
	if ap < 0 {
		parseLoss(body, ev)
		return nil
	}
	var kv int      // where the key=value pairs start, relative to body
	var anchor int  // where the record starts: what is before it is a log prefix
	nested := false // another record's header is before it: it is in that record's text
	if a := indexAuditBefore(body, ap, paren); a >= 0 {
		t := lastIndexType(body[:a])
		if t < 0 || (t > 0 && byteClass[body[t-1]]&clsSpace == 0 && body[t-1] != ':') {
			return nil // "audit(" without a record type: not a record
		}
		te := t + len(anchorType)
		for te < a && body[te] != ' ' {
			te++
		}
		ev.Type = recordTypeNumber(body[t+len(anchorType) : te])
		anchor = t
		nested = containsType(body[:t])
		if bytes.HasSuffix(body[:a], []byte("msg=")) {
			ev.Format = FormatAuditd
			if n := bytes.Index(body[:t], anchorNode); n >= 0 {
				ne := n + len(anchorNode)
				for ne < t && body[ne] != ' ' {
					ne++
				}
				ev.Node = body[n+len(anchorNode) : ne]
				anchor = n
			}
		} else {
			if ev.Type != 0 && !isAppArmorType(ev.Type) {
				ev.Type = 0
				return nil // as in mayBePrintkAppArmor, for a header it did not see
			}
			ev.Format = FormatPrintk
			if bytes.HasSuffix(body[:t], printkPrefix) {
				anchor = t - len(printkPrefix)
			}
		}
		end, err := parseStamp(body, a+len(anchorAudit), ev)
		if err != nil {
			err.Col += from
			return err
		}
		kv = end
	} else if v := bytes.LastIndex(body[:ap], anchorAVC); v >= 0 {
		switch {
		case v >= 5 && string(body[v-5:v]) == "USER_":
			ev.Type, anchor = TypeUserAVC, v-5
		case v == 0 || body[v-1] == ' ' || body[v-1] == ':':
			ev.Type, anchor = TypeAVC, v
		default:
			return nil
		}
		ev.Format = FormatJournalAudit
		kv = v + len(anchorAVC)
		nested = bytes.Contains(body[:anchor], anchorAVC)
	} else if ap == 0 || (ap >= 2 && body[ap-2] == ':' && body[ap-1] == ' ') {
		// dbus-daemon without auditd logs its AVC text itself, to syslog
		// or the journal: "dbus-daemon[712]: apparmor="DENIED" …". No
		// audit header: no type, time or serial.
		ev.Format = FormatBare
		kv, anchor = ap, ap
	} else {
		return nil // apparmor= in some other text
	}
	untrusted := ""
	switch {
	case from > 0:
		if untrusted = untrustedKmsg(line); untrusted == "" && anchor > 0 {
			untrusted = "text before the record in a /dev/kmsg record"
		}
	case ev.Format == FormatBare:
		untrusted = "a program's own AppArmor message in the log, not the kernel's or auditd's"
	case anchor > 0:
		untrusted = untrustedPrefix(body[:anchor])
	}
	if nested && untrusted == "" {
		untrusted = nestedRecord
	}
	if err := scanPairs(line, from+kv, from+len(body), ev, false); err != nil {
		ev.Fields = ev.Fields[:0]
		ev.idx = [numKeys]uint16{}
		if untrusted != "" {
			ev.reject(untrusted) // forged and malformed: no evidence either way
			return nil
		}
		return err
	}
	if !ev.Has(KeyApparmor) {
		ev.Fields = ev.Fields[:0]
		ev.idx = [numKeys]uint16{}
		ev.Type, ev.Format, ev.Node, ev.Time, ev.Serial = 0, FormatUnknown, nil, Stamp{}, 0
		return nil // another record type that mentions apparmor= in a value
	}
	ev.Kind = KindEvent
	if untrusted == "" && ev.Type == TypeUserAVC {
		untrusted = untrustedUserAVC(ev)
	}
	if untrusted != "" {
		ev.reject(untrusted)
	}
	return nil
}

// indexAuditBefore finds "audit(" in body[:ap]. In kernel records it is
// the last '(' before apparmor=, a few bytes back; otherwise (USER_AVC,
// whose subj= may hold parentheses) search forward. paren is body's first
// '(' if mayBeAppArmor found it, or -1.
func indexAuditBefore(body []byte, ap, paren int) int {
	// bytes.LastIndexByte goes byte by byte; a vectorised search forward
	// from the start finds the last '(' in one or two steps in most lines.
	i := paren
	if i < 0 || i >= ap {
		i = bytes.IndexByte(body[:ap], '(')
	}
	for i >= 0 {
		j := bytes.IndexByte(body[i+1:ap], '(')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	if i >= 5 && string(body[i-5:i+1]) == "audit(" {
		return i - 5
	}
	return bytes.Index(body[:ap], anchorAudit)
}

// containsType reports whether b holds "type=": from its '=', which log
// prefixes rarely hold (one vectorised search), where bytes.Contains
// would stop at each 't'.
func containsType(b []byte) bool {
	for off := 0; ; {
		i := bytes.IndexByte(b[off:], '=')
		if i < 0 {
			return false
		}
		if i += off; i >= 4 && string(b[i-4:i]) == "type" {
			return true
		}
		off = i + 1
	}
}

// lastIndexType finds the last "type=" in b: it sits a few bytes before
// "audit(", so a backward scan beats a general search.
func lastIndexType(b []byte) int {
	// The kernel's "type=NNNN " (no later "type=" can start in
	// "ype=N…": only at the byte after '=', which is not a 't').
	if n := len(b) - len("type=0000 "); n >= 0 && binary.LittleEndian.Uint32(b[n:]) == 't'|'y'<<8|'p'<<16|'e'<<24 && b[n+4] == '=' && b[n+5] != 't' {
		return n
	}
	for i := len(b) - len(anchorType); i >= 0; i-- {
		if b[i] == 't' && b[i+1] == 'y' && b[i+2] == 'p' && b[i+3] == 'e' && b[i+4] == '=' {
			return i
		}
	}
	return -1
}

// indexApparmor finds "apparmor=". bytes.Index looks for the needle's
// first byte with IndexByte, and 'a' and 'p' are frequent in log lines
// (several per line: each a call, then a byte-by-byte search); 'm' is the
// rarest of its bytes (less than one per line of a kernel log), so look for
// it and check the bytes around it.
func indexApparmor(b []byte) int {
	const m = 5 // "apparmor="[m] == 'm'
	for off := m; off < len(b); {
		i := bytes.IndexByte(b[off:], 'm')
		if i < 0 {
			return -1
		}
		i += off
		if i+len(anchorApparmor)-m <= len(b) && string(b[i-m:i-m+len(anchorApparmor)]) == string(anchorApparmor) {
			return i - m
		}
		off = i + 1
	}
	return -1
}

// mayBeAppArmor rejects auditd records of other types (SYSCALL, PATH,
// PROCTITLE, …: most of audit.log) from their first bytes, without
// scanning the line, and printk records of other types from their header
// (mayBePrintkAppArmor). paren is body's first '(' when it was found, or
// -1.
func mayBeAppArmor(body []byte) (ok bool, paren int) {
	if bytes.HasPrefix(body, anchorNode) {
		sp := bytes.IndexByte(body, ' ')
		if sp < 0 {
			return true, -1
		}
		body = body[sp+1:]
	}
	if !bytes.HasPrefix(body, anchorType) {
		return mayBePrintkAppArmor(body)
	}
	t := body[len(anchorType):]
	if sp := bytes.IndexByte(t, ' '); sp >= 0 {
		t = t[:sp]
	}
	return len(t) == 0 || isAppArmorType(recordTypeNumber(t)), -1
}

// isAppArmorType reports whether records of type n can be AppArmor's:
// AVC, USER_AVC (dbus) or AUDIT_APPARMOR_* (old kernels).
func isAppArmorType(n uint16) bool {
	return n == TypeAVC || n == TypeUserAVC || (n >= typeAAFirst && n <= typeAALast)
}

// printkHeaderWindow bounds where mayBePrintkAppArmor looks for a record's
// header: after a syslog or dmesg prefix, never far into the line.
const printkHeaderWindow = 256

// mayBePrintkAppArmor rejects printk records of other types (SYSCALL,
// PROCTITLE, USER_*, …: a third of a kernel log with audit on) from their
// header "type=N audit(", without searching the line for apparmor=. The
// kernel writes one record per line, its header first after the log
// prefix, so the first header is the record's: an apparmor= in its text
// (a user's USER_* message, even one that holds a whole forged AppArmor
// record) is not an AppArmor record. Anything else (no "audit(" at the
// line's first '(', a type that is not a number) is left to parseText.
func mayBePrintkAppArmor(body []byte) (ok bool, paren int) {
	// One vectorised search for a byte that log prefixes rarely hold
	// ('t', the first of "type=", is in most words); parseText's search
	// for "audit(" starts from it.
	a := bytes.IndexByte(body[:min(len(body), printkHeaderWindow)], '(')
	const audit = " audit"
	if a < len("type=0"+audit) || string(body[a-len(audit):a]) != audit {
		return true, a
	}
	e := a - len(audit)
	if e >= len("type=0000") && string(body[e-8:e-4]) == "ype=" && body[e-9] == 't' && allDigits4(body[e-4:e]) {
		// The kernel's "type=NNNN audit(", read as below.
		if t := e - len("type=0000"); t > 0 && body[t-1] != ' ' && body[t-1] != ':' {
			return true, a
		}
		n := uint16(body[e-4]-'0')*1000 + uint16(body[e-3]-'0')*100 + uint16(body[e-2]-'0')*10 + uint16(body[e-1]-'0')
		return isAppArmorType(n), a
	}
	n, d := 0, e
	for m := 1; d > 0 && e-d < 6 && body[d-1]-'0' <= 9; m *= 10 {
		d--
		n += int(body[d]-'0') * m
	}
	t := d - len(anchorType)
	if d == e || e-d > 5 || t < 0 || string(body[t:d]) != string(anchorType) ||
		(t > 0 && body[t-1] != ' ' && body[t-1] != ':') {
		return true, a
	}
	return n > 0xffff || isAppArmorType(uint16(n)), a // parseText reads a larger one as type 0
}

// parseStamp reads "EPOCH.MS:SERIAL)" at body[i:] and the ':' after it,
// returning the offset after them.
func parseStamp(body []byte, i int, ev *Event) (int, *SyntaxError) {
	// digits scans a decimal number of at most 19 digits at body[i:] in
	// one pass.
	digits := func(i int) (uint64, int, bool) {
		var n uint64
		d := body[i:min(len(body), i+19)]
		for j, c := range d {
			if c-'0' > 9 {
				return n, i + j, j > 0
			}
			n = n*10 + uint64(c-'0')
		}
		return n, i + len(d), len(d) > 0
	}
	var sec uint64
	var ok bool
	if i+11 <= len(body) && body[i+10] == '.' && allDigits8(body[i:]) && body[i+8]-'0' <= 9 && body[i+9]-'0' <= 9 {
		// Epochs from 2001 to 2286 have 10 digits: 8 of them in one word.
		sec, i, ok = parse8Digits(body[i:])*100+uint64(body[i+8]-'0')*10+uint64(body[i+9]-'0'), i+10, true
	} else {
		sec, i, ok = digits(i)
	}
	if !ok || i >= len(body) || body[i] != '.' {
		return 0, &SyntaxError{Col: i + 1, Msg: "malformed audit(EPOCH.MS:SERIAL) timestamp"}
	}
	var ms uint64
	if i+5 <= len(body) && body[i+4] == ':' && body[i+1]-'0' <= 9 && body[i+2]-'0' <= 9 && body[i+3]-'0' <= 9 {
		// The kernel writes 3 digits.
		ms, i, ok = uint64(body[i+1]-'0')*100+uint64(body[i+2]-'0')*10+uint64(body[i+3]-'0'), i+4, true
	} else {
		ms, i, ok = digits(i + 1)
	}
	if !ok || i >= len(body) || body[i] != ':' || ms > 999 {
		return 0, &SyntaxError{Col: i + 1, Msg: "malformed audit(EPOCH.MS:SERIAL) timestamp"}
	}
	serial, i, ok := digits(i + 1)
	if !ok || i >= len(body) || body[i] != ')' {
		return 0, &SyntaxError{Col: i + 1, Msg: "malformed audit(EPOCH.MS:SERIAL) serial"}
	}
	i++
	if i < len(body) && body[i] == ':' {
		i++
	}
	ev.Time = Stamp{Sec: int64(sec), Msec: uint32(ms)}
	ev.Serial = serial
	return i, nil
}

// allDigits8 reports whether b's first 8 bytes are ASCII digits.
func allDigits8(b []byte) bool {
	v := binary.LittleEndian.Uint64(b)
	// A byte below '0' borrows into its top bit; one above '9' carries.
	return ((v-0x3030303030303030)|(v+0x4646464646464646))&0x8080808080808080 == 0
}

// allDigits4 reports whether b's first 4 bytes are ASCII digits.
func allDigits4(b []byte) bool {
	v := binary.LittleEndian.Uint32(b)
	return ((v-0x30303030)|(v+0x46464646))&0x80808080 == 0
}

// parse8Digits reads the 8 ASCII digits at b's start (allDigits8) as a
// number, a word at a time.
func parse8Digits(b []byte) uint64 {
	v := binary.LittleEndian.Uint64(b) - 0x3030303030303030 // digit values, first digit lowest
	v = v*10 + v>>8                                         // pairs: 2-digit numbers in bytes 0, 2, 4, 6
	v = (v&0x000000ff000000ff)*(100+1000000<<32) + (v>>16&0x000000ff000000ff)*(1+10000<<32)
	return v >> 32
}

// parseLoss recognises the kernel's lost-event notices:
//
//	kauditd_printk_skb: 12 callbacks suppressed
//	audit: audit_lost=5 audit_rate_limit=0 audit_backlog_limit=64
//	audit: rate limit exceeded
//	audit: backlog limit exceeded
func parseLoss(body []byte, ev *Event) {
	switch {
	case bytes.HasSuffix(body, sfxSuppressed):
		rest := body[:len(body)-len(sfxSuppressed)]
		d := len(rest)
		for d > 0 && byteClass[rest[d-1]]&clsDigit != 0 {
			d--
		}
		n, ok := parseUint(rest[d:])
		fn := bytes.TrimSuffix(rest[:d], []byte(" "))
		if !ok || !bytes.HasSuffix(fn, []byte(":")) {
			return
		}
		// Only audit's own printk ratelimit (kauditd_printk_skb,
		// audit_printk_skb, audit_log_…) drops audit records.
		fn = fn[:len(fn)-1]
		if s := bytes.LastIndexByte(fn, ' '); s >= 0 {
			fn = fn[s+1:]
		}
		if !bytes.Contains(fn, []byte("audit")) {
			return
		}
		ev.Kind, ev.Lost = KindLost, n
	case bytes.HasSuffix(body, sfxRateLimit) || bytes.HasSuffix(body, sfxBacklog):
		if !bytes.Contains(body, []byte("audit")) {
			return
		}
		ev.Kind, ev.Lost, ev.limitNotice = KindLost, 1, true
	default:
		// The kernel's line ends "audit_lost=N audit_rate_limit=N
		// audit_backlog_limit=N": look at the last word before scanning,
		// after a vectorised search for a byte most lines lack ('_'),
		// since finding the last word is a byte-by-byte loop.
		if bytes.IndexByte(body, '_') < 0 ||
			!bytes.HasPrefix(body[bytes.LastIndexByte(body, ' ')+1:], []byte("audit_backlog_limit=")) {
			return
		}
		i := bytes.Index(body, anchorLost)
		if i < 0 || (i > 0 && body[i-1] != ' ' && body[i-1] != ':') {
			return
		}
		j := i + len(anchorLost)
		e := j
		for e < len(body) && byteClass[body[e]]&clsDigit != 0 {
			e++
		}
		n, ok := parseUint(body[j:e])
		if !ok || !bytes.Contains(body[e:], []byte("audit_")) {
			return // not the kernel's "audit_lost=N audit_rate_limit=… audit_backlog_limit=…"
		}
		ev.Kind, ev.LostCounter, ev.HasLostCounter = KindLost, n, true
	}
}

// journalRecord holds the journald fields armorer reads, from -o json or
// -o export.
type journalRecord struct {
	message, cursor, auditType, auditID, sourceTime, transport []byte
}

func (p *Parser) parseJSON(line []byte, ev *Event) error {
	// Most journal entries have nothing to do with audit: skip them without
	// a full parse.
	if !bytes.Contains(line, anchorApparmor) && !bytes.Contains(line, []byte("audit")) &&
		!bytes.Contains(line, []byte(`"MESSAGE":[`)) {
		return nil
	}
	v, err := p.json.ParseBytes(line)
	if err != nil {
		return &SyntaxError{Col: 1, Msg: "journal JSON: " + err.Error()}
	}
	if v.Type() != fastjson.TypeObject {
		return &SyntaxError{Col: 1, Msg: "journal JSON: not an object"}
	}
	var r journalRecord
	r.cursor = v.GetStringBytes("__CURSOR")
	r.auditType = v.GetStringBytes("_AUDIT_TYPE")
	r.auditID = v.GetStringBytes("_AUDIT_ID")
	r.sourceTime = v.GetStringBytes("_SOURCE_REALTIME_TIMESTAMP")
	r.transport = v.GetStringBytes("_TRANSPORT")
	m := v.Get("MESSAGE")
	switch {
	case m == nil:
		return nil
	case m.Type() == fastjson.TypeString:
		r.message = m.GetStringBytes()
	case m.Type() == fastjson.TypeArray:
		// journald writes a MESSAGE that is not UTF-8 as an array of bytes.
		p.msg = p.msg[:0]
		for _, b := range m.GetArray() {
			n, err := b.Int()
			if err != nil || n < 0 || n > 255 {
				return &SyntaxError{Col: 1, Msg: "journal JSON: MESSAGE array holds a non-byte"}
			}
			p.msg = append(p.msg, byte(n))
		}
		r.message = p.msg
	default:
		return &SyntaxError{Col: 1, Msg: "journal JSON: MESSAGE is neither string nor byte array"}
	}
	return p.finishJournal(&r, ev, FormatJournalJSON)
}

// finishJournal parses a journald record's MESSAGE and adds what journald
// knows beside it: the audit type, serial and time of audit-transport
// entries (whose MESSAGE is "AVC apparmor=…", without audit(…)).
func (p *Parser) finishJournal(r *journalRecord, ev *Event, format Format) error {
	if err := p.parseText(r.message, 0, ev, false); err != nil {
		return err
	}
	if ev.Kind == KindNone {
		return nil
	}
	ev.Format = format
	ev.Cursor = r.cursor
	if ev.Kind == KindEvent || ev.Kind == KindRejected {
		if why := untrustedTransport(r.transport); why != "" {
			ev.reject(why)
		}
	}
	if ev.Kind != KindEvent {
		return nil
	}
	if n := recordTypeNumber(r.auditType); n != 0 {
		if n == TypeUserAVC && ev.Type != TypeUserAVC {
			ev.reject(userAVCMessage) // its MESSAGE did not say USER_AVC: not journald's
			return nil
		}
		ev.Type = n
	}
	if n, ok := parseUint(r.auditID); ok && ev.Serial == 0 {
		ev.Serial = n
	}
	if us, ok := parseUint(r.sourceTime); ok && ev.Time.IsZero() && len(r.auditID) > 0 {
		// journald builds _SOURCE_REALTIME_TIMESTAMP of audit entries
		// from audit(EPOCH.MS:…), so this is the same stamp.
		ev.Time = Stamp{Sec: int64(us / 1e6), Msec: uint32(us % 1e6 / 1e3)}
	}
	return nil
}

// ParseExport reads one `journalctl -o export` record (its fields, without
// the blank line that ends it) into ev. Text fields are NAME=value lines;
// binary ones are NAME, a newline, a 64-bit little-endian length, the data
// and a newline. See Reader for detecting the export format of a stream.
func (p *Parser) ParseExport(rec []byte, ev *Event) error {
	ev.reset()
	ev.intern, ev.only = &p.intern, p.only
	var r journalRecord
	for i := 0; i < len(rec); {
		nl := bytes.IndexByte(rec[i:], '\n')
		var line []byte
		if nl < 0 {
			line = rec[i:]
		} else {
			line = rec[i : i+nl]
		}
		eq := bytes.IndexByte(line, '=')
		var name, value []byte
		if eq >= 0 {
			name, value = line[:eq], line[eq+1:]
			i += len(line) + 1
		} else {
			name = line
			j := i + len(line) + 1
			if nl < 0 || j+8 > len(rec) {
				return &SyntaxError{Col: i + 1, Msg: "journal export: binary field " + string(name) + " without its length"}
			}
			n := leUint64(rec[j : j+8])
			if n > uint64(len(rec)-j-8) {
				return &SyntaxError{Col: j + 1, Msg: "journal export: binary field " + string(name) + " longer than its record"}
			}
			value = rec[j+8 : j+8+int(n)]
			i = j + 8 + int(n) + 1
		}
		switch string(name) {
		case "MESSAGE":
			r.message = value
		case "__CURSOR":
			r.cursor = value
		case "_AUDIT_TYPE":
			r.auditType = value
		case "_AUDIT_ID":
			r.auditID = value
		case "_SOURCE_REALTIME_TIMESTAMP":
			r.sourceTime = value
		case "_TRANSPORT":
			r.transport = value
		}
	}
	return p.finishJournal(&r, ev, FormatJournalExport)
}

func leUint64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// interner shares one string per distinct value of low-cardinality fields.
// It stops growing at a bound so that hostile input cannot grow it forever.
type interner struct{ m map[string]string }

const maxInterned = 1 << 14

func (in *interner) get(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if in.m == nil {
		in.m = make(map[string]string)
	}
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}
