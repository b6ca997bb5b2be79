// Package eventstore keeps, per profile, the AppArmor events armorer has
// learned from, so that later commands (enforce's simulate gate, simulate,
// learn) can replay them after the kernel log has rotated away.
//
// Layout: DIR/events/NAME.jsonl under the state directory (default
// /var/lib/armorer), one `armorer events --json` object a line
// (auditlog.Event.AppendJSON). NAME is the top-level profile name, escaped
// so that any name is one safe file name; events of children and hats
// (NAME//…) go to NAME's file. Events are deduplicated on what they ask
// for (Key), so the file holds one line per distinct access; it is capped
// at Store.MaxBytes by dropping the oldest lines, and always replaced
// atomically (internal/atomicfile).
//
// It is a package of its own, beside internal/atomicfile rather than in
// host, because it is not about the kernel: learn and record write it,
// enforce and simulate read it, and none of them should need a Host.
package eventstore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/internal/atomicfile"
)

// DefaultMaxBytes caps one profile's file: about 4000 distinct accesses.
const DefaultMaxBytes = 1 << 20

// Store is the event store in one state directory.
type Store struct {
	// Dir holds the per-profile files (STATEDIR/events).
	Dir string
	// MaxBytes caps each file; 0 means DefaultMaxBytes.
	MaxBytes int
}

// New returns the store of a state directory.
func New(stateDir string) *Store {
	return &Store{Dir: filepath.Join(stateDir, "events")}
}

// Path returns the file that holds profile's events.
func (s *Store) Path(profile string) string {
	return filepath.Join(s.Dir, fileName(TopProfile(profile))+".jsonl")
}

// fileName escapes a profile name (which may be a path, hold spaces or
// start with '.') into one file name.
func fileName(name string) string {
	e := url.PathEscape(name) // escapes '/' too
	if strings.HasPrefix(e, ".") {
		e = "%2E" + e[1:]
	}
	return e
}

// TopProfile returns the top-level profile of a label: "a//null-/x" → "a",
// " (complain)" removed.
func TopProfile(label string) string {
	label = strings.TrimSuffix(strings.TrimSuffix(label, " (complain)"), " (enforce)")
	if i := strings.Index(label, "//"); i > 0 {
		label = label[:i]
	}
	return label
}

// Key identifies what an event asks for, for deduplication: class,
// operation, name and mask (requested and denied), and also the other
// fields that make two events different accesses — the subject's label
// (a child's access is not the parent's), the second name of links and
// renames, the exec target, capability, socket family/type/protocol,
// signal and peer, D-Bus path/interface/member, the mount type, and
// whether the process owned the file (the owner qualifier). Without these,
// "network inet stream" and "network inet6 stream" would be one event, and
// replaying the store would prove less than the log did.
func Key(ev *auditlog.Event) string { return string(appendKey(nil, ev)) }

// AppendKey appends Key(ev) to b, for callers that look keys up without
// allocating.
func AppendKey(b []byte, ev *auditlog.Event) []byte { return appendKey(b, ev) }

var keyFields = []auditlog.Key{
	auditlog.KeyOperation, auditlog.KeyName, auditlog.KeyRequestedMask, auditlog.KeyDeniedMask,
	auditlog.KeyProfile, auditlog.KeyLabel, auditlog.KeyName2, auditlog.KeyTarget, auditlog.KeyCapname,
	auditlog.KeyFamily, auditlog.KeySockType, auditlog.KeyProtocol, auditlog.KeySignal, auditlog.KeyPeer,
	auditlog.KeyPath, auditlog.KeyInterface, auditlog.KeyMember, auditlog.KeyFstype, auditlog.KeyMask,
}

func appendKey(b []byte, ev *auditlog.Event) []byte {
	if v := ev.Value(auditlog.KeyClass); v != nil { // as Class, without a copy
		b = append(b, v...)
	} else {
		b = append(b, ev.Class()...)
	}
	for _, k := range keyFields {
		b = append(b, 0)
		b = append(b, ev.Value(k)...)
	}
	b = append(b, 0)
	if ev.Has(auditlog.KeyOUID) && bytes.Equal(ev.Value(auditlog.KeyFSUID), ev.Value(auditlog.KeyOUID)) {
		b = append(b, 'o')
	}
	return b
}

// Batch collects events in memory, grouped by top-level profile and
// deduplicated, until Store.Save merges them into the files.
type Batch struct {
	profiles map[string]*entries
	key      []byte // reused: a key is only copied for a new event
}

type entries struct {
	seen  map[string]bool
	lines [][]byte // JSON objects, in arrival order
}

func (e *entries) add(key string, line []byte) bool {
	if e.seen[key] {
		return false
	}
	e.seen[key] = true
	e.lines = append(e.lines, line)
	return true
}

// NewBatch returns an empty batch.
func NewBatch() *Batch { return &Batch{profiles: map[string]*entries{}} }

// Add adds one event (read from src at line). Events without a profile
// label, or of the unconfined label, are not kept. Only a new distinct
// event costs an allocation.
func (b *Batch) Add(ev *auditlog.Event, src string, line int64) {
	if ev.Kind != auditlog.KindEvent {
		return
	}
	label := ev.Label()
	top := bytes.TrimSuffix(bytes.TrimSuffix(label, []byte(" (complain)")), []byte(" (enforce)"))
	if i := bytes.Index(top, []byte("//")); i > 0 {
		top = top[:i]
	}
	if len(top) == 0 || string(top) == "unconfined" {
		return
	}
	e := b.profiles[string(top)]
	if e == nil {
		e = &entries{seen: map[string]bool{}}
		b.profiles[string(top)] = e
	}
	b.key = appendKey(b.key[:0], ev)
	if e.seen[string(b.key)] {
		return
	}
	e.add(string(b.key), ev.AppendJSON(nil, src, line))
}

// Profiles returns the profiles the batch has events for, sorted.
func (b *Batch) Profiles() []string {
	var names []string
	for n := range b.profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Len returns the number of distinct events the batch holds for profile.
func (b *Batch) Len(profile string) int {
	if e := b.profiles[profile]; e != nil {
		return len(e.lines)
	}
	return 0
}

// Saved says what Save did to one profile's file.
type Saved struct {
	Profile string
	Path    string
	Added   int // new distinct events
	Total   int // distinct events in the file now
	Dropped int // oldest events dropped to stay under MaxBytes
}

// Save merges the batch into the store: each profile's file keeps its
// events and gains the new distinct ones, then the oldest lines are dropped
// until it fits MaxBytes. Files are replaced atomically.
func (s *Store) Save(b *Batch) ([]Saved, error) {
	var out []Saved
	for _, name := range b.Profiles() {
		sv, err := s.save(name, b.profiles[name])
		if err != nil {
			return out, err
		}
		out = append(out, sv)
	}
	return out, nil
}

func (s *Store) save(name string, add *entries) (Saved, error) {
	sv := Saved{Profile: name, Path: s.Path(name)}
	merged := &entries{seen: map[string]bool{}}
	err := s.each(name, func(ev *auditlog.Event, line []byte) {
		merged.add(Key(ev), line)
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return sv, err
	}
	before := len(merged.lines)
	for _, l := range add.lines {
		ev, err := parseLine(l)
		if err != nil {
			return sv, fmt.Errorf("event store: %w", err)
		}
		merged.add(Key(ev), l)
	}
	sv.Added = len(merged.lines) - before
	if sv.Added == 0 {
		sv.Total = len(merged.lines)
		return sv, nil
	}
	max := s.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	size := 0
	for _, l := range merged.lines {
		size += len(l) + 1
	}
	lines := merged.lines
	for size > max && len(lines) > 0 {
		size -= len(lines[0]) + 1
		lines = lines[1:]
		sv.Dropped++
	}
	sv.Total = len(lines)
	var buf bytes.Buffer
	buf.Grow(size)
	for _, l := range lines {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return sv, fmt.Errorf("event store: %w", err)
	}
	if _, err := atomicfile.WritePath(sv.Path, buf.Bytes(), 0o600, ""); err != nil {
		return sv, fmt.Errorf("event store: %w", err)
	}
	return sv, nil
}

// Events calls fn with every stored event of profile (and its children),
// in file order. A profile without a file has no events (no error).
func (s *Store) Events(profile string, fn func(ev *auditlog.Event)) error {
	err := s.each(profile, func(ev *auditlog.Event, _ []byte) { fn(ev) })
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Count returns the number of stored events of profile.
func (s *Store) Count(profile string) (int, error) {
	n := 0
	err := s.Events(profile, func(*auditlog.Event) { n++ })
	return n, err
}

// AuditLog returns profile's stored events as auditd log lines (type=AVC
// msg=audit(…): key=value …), which every SOURCE reader of armorer reads.
// A profile without a file yields an empty log.
func (s *Store) AuditLog(profile string) ([]byte, error) {
	var out []byte
	err := s.eachRaw(profile, func(line []byte, lineNo int) error {
		l, err := ToAuditd(line)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", s.Path(profile), lineNo, err)
		}
		out = append(append(out, l...), '\n')
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return out, err
}

// each parses every line of profile's file; a line that does not parse
// is an error naming file and line.
func (s *Store) each(profile string, fn func(ev *auditlog.Event, line []byte)) error {
	return s.eachRaw(profile, func(line []byte, lineNo int) error {
		ev, err := parseLine(line)
		if err != nil {
			return fmt.Errorf("%s:%d: %w (remove the line or the file)", s.Path(profile), lineNo, err)
		}
		fn(ev, line)
		return nil
	})
}

func (s *Store) eachRaw(profile string, fn func(line []byte, lineNo int) error) error {
	f, err := os.Open(s.Path(profile))
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := fn(bytes.Clone(line), n); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", s.Path(profile), err)
	}
	return nil
}

// parseLine reads one stored JSON object back into an Event.
func parseLine(line []byte) (*auditlog.Event, error) {
	text, err := ToAuditd(line)
	if err != nil {
		return nil, err
	}
	var ev auditlog.Event
	if err := auditlog.NewParser().Parse(text, &ev); err != nil {
		return nil, err
	}
	if ev.Kind != auditlog.KindEvent {
		return nil, errors.New("not an AppArmor event")
	}
	return ev.Clone(), nil
}
