package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

// Record is one raw record read from a source. See the package documentation
// for what Data holds for each kind of source.
//
// Data is never reused or overwritten by the source: a Record stays valid
// after it is received, for as long as the receiver keeps it. Data shares a
// backing slab with records read around the same time, so a consumer that
// keeps a few records for a long time should copy Data (bytes.Clone) to let
// the rest of the slab be freed.
type Record struct {
	Data   []byte   // the raw bytes of one record
	Pos    Position // where the record came from; pass it back in SourceOptions.Resume
	Source string   // the source spec, as given to Open (e.g. "kmsg:", "/var/log/syslog")
}

// Position locates a record in its source. Which fields are set depends on
// the source kind; the others are zero.
type Position struct {
	// Line is the 1-based line number in the current file (file, stdin,
	// auditd) or the 1-based ordinal of the record (journal, netlink).
	// After a file is rotated or truncated, numbering restarts at 1.
	Line int64
	// Offset is the byte offset just past the record in the current file
	// (file, auditd): the resume point.
	Offset int64
	// Inode identifies the current file (file, auditd; 0 where the system
	// has no inode numbers), so that a resume notices a replaced file.
	Inode uint64
	// Seq is the kernel's sequence number of a /dev/kmsg record.
	Seq uint64
	// Boot is the boot ID (/proc/sys/kernel/random/boot_id) a kmsg Seq
	// belongs to: sequence numbers restart at 0 when the machine boots.
	Boot string
	// Cursor is the journal cursor (__CURSOR) of a journal entry.
	Cursor string
}

// SourceStats counts what a raw source did. All counters only grow.
type SourceStats struct {
	Delivered uint64 // records sent on the channel
	Dropped   uint64 // records read but not delivered because the channel was full
	Lost      uint64 // records the kernel lost before we could read them (kmsg sequence gaps, netlink ENOBUFS counts as one)
	Overruns  uint64 // times the kernel reported an overrun (kmsg EPIPE, netlink ENOBUFS)
	Errors    uint64 // recoverable errors: over-long records, malformed kmsg headers or netlink messages, failed polls
	Rotations uint64 // file rotations and truncations followed
}

// WhenFull says what a source does when its output channel is full.
type WhenFull int

const (
	// FullDefault drops for live kernel records (netlink, and kmsg once it
	// has read what the ring buffer held when it started), since a reader
	// that stalls makes the kernel lose records anyway; it waits for
	// everything else: file, stdin, auditd and journal records wait safely
	// on disk, and the records a kmsg reader catches up on wait in the
	// ring buffer (if the kernel overwrites them meanwhile, the sequence
	// gap counts them as Lost).
	FullDefault WhenFull = iota
	// FullDrop never blocks: a record that does not fit is dropped and
	// counted in Stats.Dropped.
	FullDrop
	// FullWait blocks until the channel has room or the context ends.
	FullWait
)

// SourceOptions configure OpenSource.
type SourceOptions struct {
	// Follow keeps reading after the current end: a file across rotation
	// and truncation, /dev/kmsg and the journal as records arrive. Without
	// it, file, kmsg and journal sources return at their end. The netlink
	// source always follows.
	Follow bool
	// FromEnd skips what exists when the source opens and delivers only new
	// records (files, kmsg, journal). It is meant to be used with Follow.
	FromEnd bool
	// Resume, if not nil, is the Position of the last record already
	// processed; the source continues after it. A file uses Offset and
	// Line (when the file is now shorter than Offset, or Inode differs,
	// it was truncated or replaced, and reading starts at 0); kmsg uses
	// Seq (records the kernel has overwritten in between count as Lost;
	// a Seq from another boot is ignored); the journal uses Cursor.
	// Ignored by netlink and stdin.
	Resume *Position
	// WhenFull selects what happens when the output channel is full.
	WhenFull WhenFull
	// MaxRecord bounds the size of one record (a file line); longer lines
	// are cut to MaxRecord bytes and counted in Stats.Errors. Default 1 MiB.
	MaxRecord int
	// Stdin is read for the spec "-". Default: nothing (Open fails), so
	// that a library never reads the process's stdin by surprise; the CLI
	// passes os.Stdin.
	Stdin io.Reader
	// Logger receives warnings (rotations, overruns, retries). Nil logs
	// nothing.
	Logger *slog.Logger

	// noWatch disables fsnotify so that tests exercise the poll fallback.
	noWatch bool
	// rcvBuf overrides the netlink socket's receive buffer size, so that
	// tests can provoke ENOBUFS.
	rcvBuf int
}

// Source is one opened source. Run may be called once.
type Source interface {
	// Name returns the spec the source was opened with.
	Name() string
	// Run sends records on out until the source ends (nil), the context
	// is done (ctx.Err()) or a fatal error happens. Run never closes out,
	// so several sources can share one channel. Run releases the
	// source's resources when it returns.
	Run(ctx context.Context, out chan<- Record) error
	// Stats returns the counters so far; it is safe to call concurrently
	// with Run.
	Stats() SourceStats
	// Close releases the source's resources if Run was never called.
	Close() error
}

// DefaultAuditdLog is where auditd writes, read by the spec "auditd:".
const DefaultAuditdLog = "/var/log/audit/audit.log"

// OpenSource parses one source spec (see the package documentation) and
// opens it as a raw record source: the building block of the pipeline
// (Open), for programs that want the records themselves. state: is not a
// raw source; Open resolves it.
// Errors are *SpecError for a malformed spec and *UnavailableError when
// the source cannot be used on this machine; both say what to do.
func OpenSource(spec string, opts SourceOptions) (Source, error) {
	if opts.MaxRecord <= 0 {
		opts.MaxRecord = 1 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Logger = opts.Logger.With("source", spec)
	scheme, arg, ok := splitScheme(spec)
	if !ok {
		if spec == "" {
			return nil, &SpecError{Spec: spec, Msg: "empty source; give a file path, - for stdin, or one of " + schemeList}
		}
		if spec == "-" {
			if opts.Stdin == nil {
				return nil, &SpecError{Spec: spec, Msg: "stdin (-) is not available here"}
			}
			return newReaderSource(spec, opts.Stdin, opts), nil
		}
		return openFile(spec, spec, opts)
	}
	switch scheme {
	case "kmsg":
		if arg != "" {
			return nil, &SpecError{Spec: spec, Msg: "kmsg: takes no argument; write kmsg:"}
		}
		return openKmsg(spec, opts)
	case "journal":
		return openJournal(spec, arg, opts)
	case "auditd":
		path := arg
		if path == "" {
			path = DefaultAuditdLog
		}
		src, err := openFile(spec, path, opts)
		var ue *UnavailableError
		if errors.As(err, &ue) && errors.Is(err, fs.ErrNotExist) {
			ue.Hint = "is auditd installed and running? Without auditd, read netlink:, journal: or kmsg:"
		}
		return src, err
	case "netlink":
		if arg != "" {
			return nil, &SpecError{Spec: spec, Msg: "netlink: takes no argument; write netlink:"}
		}
		return openNetlink(spec, opts)
	}
	return nil, &SpecError{Spec: spec, Msg: fmt.Sprintf("unknown source scheme %q; use a file path, - for stdin, or one of %s (a file whose name has a colon: write ./%s)", scheme+":", schemeList, spec)}
}

const schemeList = "kmsg:, journal:[PATH], auditd:[PATH], netlink:"

// splitScheme splits "name:rest" when name looks like a scheme: lower-case
// letters and digits, starting with a letter, so that paths such as
// "./a:b" or "/x:y" stay paths.
func splitScheme(spec string) (scheme, arg string, ok bool) {
	i := strings.IndexByte(spec, ':')
	if i <= 0 {
		return "", "", false
	}
	for j, c := range spec[:i] {
		if (c < 'a' || c > 'z') && (j == 0 || c < '0' || c > '9') { // k8s: has a digit
			return "", "", false
		}
	}
	return spec[:i], spec[i+1:], true
}

// SpecError reports a source spec that cannot be understood.
type SpecError struct {
	Spec string
	Msg  string
}

func (e *SpecError) Error() string { return fmt.Sprintf("source %q: %s", e.Spec, e.Msg) }

// UnavailableError reports a source that cannot be used on this machine: a
// missing file or program, a missing permission, a kernel without the
// feature. Err is the cause (errors.Is works through it), Hint says what
// to do.
type UnavailableError struct {
	Source string // the spec
	What   string // what failed, e.g. "open /dev/kmsg"
	Err    error
	Hint   string
}

func (e *UnavailableError) Error() string {
	msg := fmt.Sprintf("source %q: %s: %v", e.Source, e.What, e.Err)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// counters are the live Stats of one source, and the position of the
// last record it delivered.
type counters struct {
	delivered, dropped, lost, overruns, errors, rotations atomic.Uint64
	// last is written by Run's goroutine and read only after Run returned
	// (by the goroutine that called it): no lock needed.
	last     Position
	haveLast bool
}

// lastPos returns the position of the last record delivered.
func (c *counters) lastPos() (Position, bool) { return c.last, c.haveLast }

func (c *counters) Stats() SourceStats {
	return SourceStats{
		Delivered: c.delivered.Load(),
		Dropped:   c.dropped.Load(),
		Lost:      c.lost.Load(),
		Overruns:  c.overruns.Load(),
		Errors:    c.errors.Load(),
		Rotations: c.rotations.Load(),
	}
}

// sender delivers records to the output channel under a WhenFull policy and
// copies their bytes into slabs, so that read buffers can be reused.
type sender struct {
	c    *counters
	out  chan<- Record
	name string
	drop bool
	slab []byte
}

func newSender(c *counters, out chan<- Record, name string, policy WhenFull, kernel bool) *sender {
	drop := policy == FullDrop || (policy == FullDefault && kernel)
	return &sender{c: c, out: out, name: name, drop: drop}
}

const slabSize = 64 << 10

// copyOf returns a copy of b carved from the current slab.
func (s *sender) copyOf(b []byte) []byte {
	if len(b) > slabSize/4 {
		return append([]byte(nil), b...)
	}
	if len(b) > cap(s.slab)-len(s.slab) {
		s.slab = make([]byte, 0, slabSize)
	}
	n := len(s.slab)
	s.slab = append(s.slab, b...)
	return s.slab[n:len(s.slab):len(s.slab)]
}

// unsend gives back the slab space of the last copyOf when its record was
// dropped.
func (s *sender) unsend(b []byte) {
	n := len(s.slab) - len(b)
	if n >= 0 && len(b) > 0 && &s.slab[n:][0] == &b[0] {
		s.slab = s.slab[:n]
	}
}

// send delivers a copy of data. It returns ctx.Err() only when it waited
// and the context ended.
func (s *sender) send(ctx context.Context, data []byte, pos Position) error {
	rec := Record{Data: s.copyOf(data), Pos: pos, Source: s.name}
	if s.drop {
		select {
		case s.out <- rec:
			s.c.delivered.Add(1)
			s.c.last, s.c.haveLast = pos, true
		default:
			s.c.dropped.Add(1)
			s.unsend(rec.Data)
		}
		return nil
	}
	select {
	case s.out <- rec:
		s.c.delivered.Add(1)
		s.c.last, s.c.haveLast = pos, true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// once guards the single Run and idempotent Close of a source.
type once struct {
	mu      sync.Mutex
	started bool
	closed  bool
}

var errRunTwice = errors.New("source: Run called on a source that already ran or was closed")

// start marks the source as running; it fails if Run already ran or the
// source was closed.
func (o *once) start() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.started || o.closed {
		return errRunTwice
	}
	o.started = true
	return nil
}

// close reports whether the caller should release resources: true only
// for the first close of a source that is not running.
func (o *once) close() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.started {
		return false
	}
	o.closed = true
	return true
}
