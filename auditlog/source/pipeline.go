package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/armorer-dev/armorer/auditlog"
)

// StateScheme names armorer's event store as a SOURCE: state:NAME, the
// events kept for profile NAME. The store lives above this package, so
// Options.State resolves it.
const StateScheme = "state:"

// K8sScheme names what Kubernetes node agents published as a SOURCE:
// k8s:NAME (or k8s:NAMESPACE/NAME), the accesses of profile NAME gathered
// from every node. Kubernetes lives above this package, so Options.K8s
// resolves it.
const K8sScheme = "k8s:"

// Options configure a pipeline (Open). The zero value reads files, stdin
// is unavailable and nothing is followed.
type Options struct {
	// Follow keeps reading after the current end: files across rotation
	// and truncation, kmsg: and journal: as records arrive. netlink:
	// always follows.
	Follow bool
	// FromEnd starts each source at its current end, the first time it
	// opens (with Follow: count only what happens from now on).
	FromEnd bool
	// Resume, per SOURCE, is the position of the last record already
	// processed; the source continues after it (see SourceOptions.Resume).
	Resume map[string]*Position
	// Stdin is read for the SOURCE "-".
	Stdin io.Reader
	// State resolves state:NAME to the stored events of profile NAME, as
	// log text (any format auditlog reads). Nil: state: is not available.
	State func(name string) (io.Reader, error)
	// K8s resolves k8s:NAME (the text after the scheme) the same way, to
	// the events the cluster's node agents published. Nil: k8s: is not
	// available.
	K8s func(name string) (io.Reader, error)
	// FirstOf reads only the first of the SOURCEs that opens, in order of
	// preference (e.g. netlink:, then kmsg:), instead of all of them.
	FirstOf bool
	// Retry, when positive, keeps a followed pipeline alive: a source that
	// fails or cannot be opened is tried again after Retry, doubling up to
	// MaxRetry (default 1 minute) while nothing opens, and resumes after the
	// last record it delivered. With FirstOf, every retry starts again
	// from the most preferred SOURCE. Without Retry, Open fails when a
	// source cannot be opened and the pipeline stops at the first failure.
	Retry, MaxRetry time.Duration
	// OnSource, if set, is told when a source opens (err nil) and when it
	// cannot be opened or stops (err says why); for health metrics. It is
	// called from the sources' goroutines.
	OnSource func(spec string, err error)
	// OnBad, if set, receives each line that looked like an AppArmor
	// record but could not be read (File and Line set). OnRejected
	// receives each AppArmor record that neither the kernel nor auditd
	// wrote. Both are called from the goroutine that iterates Events.
	OnBad      func(*auditlog.SyntaxError)
	OnRejected func(*auditlog.RejectedError)
	// OnIdle, if set, is called when the live sources have nothing more to
	// deliver for now (a follower caught up): the moment to flush output.
	OnIdle func()
	// Only, if set, keeps only these keys' fields in the events (see
	// auditlog.Parser.Only): for a caller that reads a few of them.
	Only []auditlog.Key
	// WhenFull and MaxRecord are passed to every raw source.
	WhenFull  WhenFull
	MaxRecord int
	// Logger receives the sources' warnings. Nil logs nothing.
	Logger *slog.Logger
	// OpenSource opens one raw source; default OpenSource. Tests inject
	// their own.
	OpenSource func(spec string, opts SourceOptions) (Source, error)
}

// Event is one AppArmor event a pipeline delivers: the parsed event and
// where it came from. It is valid until the iteration continues; Clone the
// auditlog.Event to keep it.
type Event struct {
	*auditlog.Event
	Source string   // the SOURCE, as given to Open
	Pos    Position // where in it (for a file read whole: Line only)
}

// Line is the number people see for the event's position: the 1-based
// line (or record ordinal), or the /dev/kmsg sequence number.
func (e *Event) Line() int64 {
	if e.Pos.Line != 0 {
		return e.Pos.Line
	}
	return int64(e.Pos.Seq)
}

// Stats counts what a pipeline read, over all its sources.
type Stats struct {
	Lines      uint64 // lines (records) read
	Events     uint64 // AppArmor events delivered, duplicates not included
	Duplicates uint64 // the same event seen again (its printk and audit copies, or two sources) and dropped
	Bad        uint64 // lines that looked like AppArmor records but could not be read
	Rejected   uint64 // AppArmor records neither the kernel nor auditd wrote: no evidence, not delivered
	// Lost counts the events that never reached us: what the kernel's
	// notices report (rate limit, audit_lost=, callbacks suppressed), the
	// sources' own losses (kmsg sequence gaps, netlink overruns) and the
	// records dropped because the reader fell behind (Dropped).
	Lost     uint64
	Dropped  uint64 // of Lost: records read but dropped because the reader fell behind
	Overruns uint64 // times the kernel reported an overrun (kmsg EPIPE, netlink ENOBUFS)
}

// Incomplete reports whether the events read are not all there were:
// lines could not be read or events were lost.
func (s Stats) Incomplete() bool { return s.Bad > 0 || s.Lost > 0 }

// Pipeline is the one way armorer reads events: every SOURCE (see the
// package documentation, plus state:NAME), its format detected, parsed,
// de-duplicated across sources, losses counted, followed and resumed.
//
//	p, err := source.Open(ctx, []string{"/var/log/kern.log", "kmsg:"}, source.Options{})
//	if err != nil { … }
//	for ev := range p.Events() {
//		… ev.Event, ev.Source, ev.Line()
//	}
//	if err := p.Err(); err != nil { … }
//	st := p.Stats()
//
// Files (and stdin, auditd:PATH and state:NAME) that are not followed are
// read first, one after the other, in the iterating goroutine, with no
// copy per line (a journalctl -o export file is recognised by its first
// bytes); a regular file is mapped (on Linux) and read in place, as it
// was when Open opened it (its size then), and one truncated while it is
// read ends the pipeline with an error. Live and followed sources are read concurrently and parsed in
// the iterating goroutine. Events may be iterated once.
type Pipeline struct {
	ctx   context.Context
	opts  Options
	files []fileInput
	slots []*slot

	st     auditlog.Stream // used by the iterating goroutine only
	mu     sync.Mutex      // guards the fields below
	snap   auditlog.Stats  // st.Stats as last published
	done   Stats           // the raw counters of sources that finished
	live   map[Source]bool // running sources
	resume map[string]*Position
	err    error
	used   bool
	closed bool // by the iterating goroutine, or by the caller when Events never ran
}

type fileInput struct {
	spec string
	r    io.Reader
	c    io.Closer
	// data is the file mapped into memory (mapFile), read in place; nil:
	// read r.
	data []byte
}

// mapping closes a file mapped by mapFile: it unmaps it.
type mapping []byte

func (m mapping) Close() error {
	unmapFile(m)
	return nil
}

// slot is one live reader: a SOURCE, or with FirstOf the alternatives.
type slot struct {
	specs   []string
	first   Source // opened by Open; nil with Retry when none opened yet
	spec    string // first's spec
	started map[string]bool
}

// Open opens every SOURCE of specs, so that a malformed SOURCE
// (*SpecError) or one that cannot be used here (*UnavailableError) fails
// before anything is read; with Retry only malformed ones fail.
func Open(ctx context.Context, specs []string, opts Options) (*Pipeline, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.OpenSource == nil {
		opts.OpenSource = OpenSource
	}
	if opts.MaxRetry <= 0 {
		opts.MaxRetry = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{ctx: ctx, opts: opts, live: map[Source]bool{}, resume: map[string]*Position{}}
	for spec, pos := range opts.Resume {
		p.resume[spec] = pos
	}
	var live []string
	for _, spec := range specs {
		if in, ok, err := p.openResolved(spec); ok {
			if err != nil {
				p.Close()
				return nil, err
			}
			p.files = append(p.files, in)
			continue
		}
		if path, ok := wholeFile(spec); ok && !opts.Follow && !opts.FirstOf {
			in, err := p.openWhole(spec, path)
			if err != nil {
				p.Close()
				return nil, err
			}
			p.files = append(p.files, in)
			continue
		}
		live = append(live, spec)
	}
	groups := [][]string{}
	if opts.FirstOf && len(live) > 0 {
		groups = append(groups, live)
	} else {
		for _, s := range live {
			groups = append(groups, []string{s})
		}
	}
	for _, g := range groups {
		sl := &slot{specs: g, started: map[string]bool{}}
		p.slots = append(p.slots, sl)
		err := p.openSlot(sl)
		var se *SpecError
		if err != nil && (opts.Retry <= 0 || errors.As(err, &se)) {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// openResolved opens a SOURCE the caller resolves (state:NAME, k8s:NAME);
// ok is false for any other SOURCE.
func (p *Pipeline) openResolved(spec string) (in fileInput, ok bool, err error) {
	scheme, what, doing, resolve := StateScheme, "the event store (state:)", "read the stored events of ", p.opts.State
	name, ok := strings.CutPrefix(spec, scheme)
	if !ok {
		scheme, what, doing, resolve = K8sScheme, "Kubernetes (k8s:)", "gather the events the nodes published for ", p.opts.K8s
		if name, ok = strings.CutPrefix(spec, scheme); !ok {
			return fileInput{}, false, nil
		}
	}
	if name == "" {
		return fileInput{}, true, &SpecError{Spec: spec, Msg: scheme + " needs a profile name: " + scheme + "NAME"}
	}
	if resolve == nil {
		return fileInput{}, true, &SpecError{Spec: spec, Msg: what + " is not available here"}
	}
	r, err := resolve(name)
	if err != nil {
		return fileInput{}, true, &UnavailableError{Source: spec, What: doing + name, Err: err}
	}
	c, _ := r.(io.Closer)
	return fileInput{spec: spec, r: r, c: c}, true, nil
}

// wholeFile says whether spec is read as a whole file (a path, -, or
// auditd:[PATH]) when not followed, and which.
func wholeFile(spec string) (string, bool) {
	if spec == "-" {
		return spec, true
	}
	scheme, arg, ok := splitScheme(spec)
	switch {
	case !ok:
		return spec, spec != ""
	case scheme == "auditd" && arg == "":
		return DefaultAuditdLog, true
	case scheme == "auditd":
		return arg, true
	}
	return "", false
}

func (p *Pipeline) openWhole(spec, path string) (fileInput, error) {
	if path == "-" {
		if p.opts.Stdin == nil {
			return fileInput{}, &SpecError{Spec: spec, Msg: "stdin (-) is not available here"}
		}
		return fileInput{spec: spec, r: p.opts.Stdin}, nil
	}
	f, err := os.Open(path)
	var fi os.FileInfo
	if err == nil {
		if fi, err = f.Stat(); err == nil && fi.IsDir() {
			err = &fs.PathError{Op: "read", Path: path, Err: errors.New("is a directory")}
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		ue := fileUnavailable(spec, path, err)
		if strings.HasPrefix(spec, "auditd:") && errors.Is(err, fs.ErrNotExist) {
			ue.(*UnavailableError).Hint = "is auditd installed and running? Without auditd, read netlink:, journal: or kmsg:"
		}
		return fileInput{}, ue
	}
	// A regular file is read in place, as it is now: mapped, without a
	// copy of every byte through read(2). Anything else (a pipe, a
	// device, /proc's files of size 0) is read.
	if fi.Mode().IsRegular() {
		if data, ok := mapFile(f, fi.Size()); ok {
			f.Close()
			return fileInput{spec: spec, c: mapping(data), data: data}, nil
		}
	}
	return fileInput{spec: spec, r: f, c: f}, nil
}

// openSlot opens the first of sl's SOURCEs that opens.
func (p *Pipeline) openSlot(sl *slot) error {
	var errs []error
	for _, spec := range sl.specs {
		o := SourceOptions{
			Follow: p.opts.Follow, FromEnd: p.opts.FromEnd && !sl.started[spec],
			Stdin: p.opts.Stdin, WhenFull: p.opts.WhenFull, MaxRecord: p.opts.MaxRecord,
			Logger: p.opts.Logger,
		}
		p.mu.Lock()
		o.Resume = p.resume[spec]
		p.mu.Unlock()
		src, err := p.opts.OpenSource(spec, o)
		if err != nil {
			p.report(spec, err)
			var se *SpecError
			if errors.As(err, &se) {
				return err
			}
			errs = append(errs, err)
			continue
		}
		sl.first, sl.spec, sl.started[spec] = src, spec, true
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return fmt.Errorf("no event source is available: %w", errors.Join(errs...))
}

func (p *Pipeline) report(spec string, err error) {
	if p.opts.OnSource != nil {
		p.opts.OnSource(spec, err)
	}
}

// Events returns the iterator over the pipeline's events. It closes the
// pipeline when it ends; Err then says whether it ended by a failure.
func (p *Pipeline) Events() iter.Seq[*Event] {
	return func(yield func(*Event) bool) {
		p.mu.Lock()
		used := p.used
		p.used = true
		p.mu.Unlock()
		if used {
			p.setErr(errors.New("source: the events of a pipeline can be read only once"))
			return
		}
		defer p.Close()
		defer p.publish()
		for _, f := range p.files {
			if !p.readWhole(f, yield) {
				return
			}
		}
		if len(p.slots) > 0 {
			p.readLive(yield)
		}
	}
}

// readWhole reads one file through an auditlog.Reader sharing the
// pipeline's Stream. It returns false when the iteration must stop.
func (p *Pipeline) readWhole(f fileInput, yield func(*Event) bool) bool {
	ro := auditlog.ReaderOptions{Name: f.spec, Stream: &p.st,
		MaxLine: p.opts.MaxRecord, OnBad: p.opts.OnBad, OnRejected: p.opts.OnRejected, Only: p.opts.Only}
	var r *auditlog.Reader
	mc := mapCursor{data: f.data}
	if f.data != nil {
		r = auditlog.NewBytesReader(f.data, ro)
		// A mapped file that shrinks under us (truncated by another
		// program) faults where it ended: nextMapped turns that into
		// an error instead of a crash.
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	} else {
		r = auditlog.NewReader(f.r, ro)
	}
	ev := Event{Source: f.spec}
	n := 0
	for {
		var more bool
		if f.data != nil {
			var err error
			if more, err = nextMapped(r, f.data); err != nil {
				p.setErr(fmt.Errorf("read %s: %w", f.spec, err))
				return false
			}
		} else {
			more = r.Next()
		}
		if !more {
			break
		}
		if n++; n&63 == 0 {
			p.publish()
			if err := p.ctx.Err(); err != nil {
				p.setErr(err)
				return false
			}
			if f.data != nil {
				mc.at(r.Offset())
			}
		}
		ev.Event, ev.Pos = r.Event(), Position{Line: r.Line()}
		if !yield(&ev) {
			return false
		}
	}
	if err := r.Err(); err != nil {
		p.setErr(fmt.Errorf("read %s: %w", f.spec, err))
		return false
	}
	return true
}

// errMappedFault: reading a mapped file faulted.
var errMappedFault = errors.New("the file was truncated while it was read (or could not be read: I/O error)")

// nextMapped is r.Next for a Reader of the mapped data, with faults on
// data (the file truncated: its pages beyond the new end are gone) as
// errMappedFault. The goroutine must panic on faults
// (debug.SetPanicOnFault).
func nextMapped(r *auditlog.Reader, data []byte) (more bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			if f, ok := v.(interface{ Addr() uintptr }); ok {
				base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
				if a := f.Addr(); a >= base && a-base < uintptr(len(data)) {
					more, err = false, errMappedFault
					return
				}
			}
			panic(v)
		}
	}()
	return r.Next(), nil
}

// dropEvery is how much of a mapped file is read between two drops
// (dropMapped) of what was read: reading a large file does not count it
// all as the process's memory.
const dropEvery = 8 << 20

// mapCursor drops what was read of a mapped file.
type mapCursor struct {
	data    []byte
	dropped int64 // data[:dropped] was dropped
}

// at is told the reader's offset off.
func (c *mapCursor) at(off int64) {
	end := (off - 1<<16) &^ int64(os.Getpagesize()-1) // not the pages of the lines just read
	if end-c.dropped >= dropEvery {
		dropMapped(c.data[c.dropped:end])
		c.dropped = end
	}
}

// readLive runs the live slots concurrently and parses their records in
// this goroutine, with the pipeline's one Stream.
func (p *Pipeline) readLive(yield func(*Event) bool) {
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	recs := make(chan Record, 4096)
	var wg sync.WaitGroup
	for _, sl := range p.slots {
		wg.Go(func() {
			if err := p.keep(ctx, sl, recs); err != nil && ctx.Err() == nil {
				p.setErr(err)
				cancel() // one source failed: the pipeline ends
			}
		})
	}
	go func() { wg.Wait(); close(recs) }()
	defer func() {
		cancel()
		for range recs { // let the senders finish
		}
	}()

	parser := auditlog.NewParser()
	parser.Only(p.opts.Only...)
	var aev auditlog.Event
	ev := Event{Event: &aev}
	for {
		var rec Record
		var ok bool
		select {
		case rec, ok = <-recs:
		default:
			p.publish()
			if p.opts.OnIdle != nil {
				p.opts.OnIdle()
			}
			rec, ok = <-recs
		}
		if !ok {
			return
		}
		p.st.Stats.Lines++
		ev.Source, ev.Pos = rec.Source, rec.Pos
		if err := parser.Parse(rec.Data, &aev); err != nil {
			p.st.Stats.Bad++
			if p.opts.OnBad != nil {
				var se *auditlog.SyntaxError
				if !errors.As(err, &se) {
					se = &auditlog.SyntaxError{Col: 1, Msg: err.Error()}
				}
				se.File, se.Line = rec.Source, ev.Line()
				p.opts.OnBad(se)
			}
			continue
		}
		if p.st.Add(&aev) {
			if !yield(&ev) {
				return
			}
		} else if aev.Kind == auditlog.KindRejected && p.opts.OnRejected != nil {
			p.opts.OnRejected(&auditlog.RejectedError{File: rec.Source, Line: ev.Line(), Reason: aev.Rejected})
		}
	}
}

// keep runs a slot's source until it ends; with Retry it reopens it (from
// the most preferred SOURCE) after a failure, resuming, until ctx ends.
func (p *Pipeline) keep(ctx context.Context, sl *slot, out chan<- Record) error {
	backoff := p.opts.Retry
	for {
		if sl.first == nil {
			if err := p.openSlot(sl); err != nil && p.opts.Retry <= 0 {
				return err
			}
		}
		if src, spec := sl.first, sl.spec; src != nil {
			sl.first = nil
			p.report(spec, nil)
			p.mu.Lock()
			p.live[src] = true
			p.mu.Unlock()
			err := src.Run(ctx, out)
			p.finished(src, spec)
			if ctx.Err() != nil {
				return nil
			}
			if p.opts.Retry <= 0 {
				return err
			}
			if err == nil {
				err = fmt.Errorf("source %s ended", spec)
			}
			p.report(spec, err)
			p.opts.Logger.Warn("source stopped; retrying", "source", spec, "err", err, "backoff", p.opts.Retry)
			backoff = p.opts.Retry
		} else {
			if len(sl.specs) > 1 {
				p.opts.Logger.Error("no event source is available", "tried", sl.specs)
			}
			backoff = min(2*backoff, p.opts.MaxRetry)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
}

// finished folds a source that stopped into the totals and keeps where it
// stopped, to resume there.
func (p *Pipeline) finished(src Source, spec string) {
	s := src.Stats()
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.live, src)
	p.done.Lost += s.Lost
	p.done.Dropped += s.Dropped
	p.done.Overruns += s.Overruns
	if lp, ok := src.(interface{ lastPos() (Position, bool) }); ok {
		if pos, ok := lp.lastPos(); ok {
			p.resume[spec] = &pos
		}
	}
}

func (p *Pipeline) publish() {
	p.mu.Lock()
	p.snap = p.st.Stats
	p.mu.Unlock()
}

func (p *Pipeline) setErr(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

// Err returns what ended the iteration, nil at the end of the input or
// when the context ended.
func (p *Pipeline) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if errors.Is(p.err, context.Canceled) || errors.Is(p.err, context.DeadlineExceeded) {
		return nil
	}
	return p.err
}

// Stats returns the counts so far. It is safe to call from any goroutine;
// while events flow it may lag the iteration by a few dozen lines, and it
// is exact once Events has returned.
func (p *Pipeline) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	src := p.done
	for s := range p.live {
		st := s.Stats()
		src.Lost += st.Lost
		src.Dropped += st.Dropped
		src.Overruns += st.Overruns
	}
	a := p.snap
	return Stats{
		Lines: a.Lines, Events: a.Events, Duplicates: a.Duplicates, Bad: a.Bad, Rejected: a.Rejected,
		Lost: a.Lost + src.Lost + src.Dropped, Dropped: src.Dropped, Overruns: src.Overruns,
	}
}

// Close releases what Open opened and Events did not read. Events closes
// the pipeline itself when it ends.
func (p *Pipeline) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	for _, f := range p.files {
		if f.c != nil {
			f.c.Close()
		}
	}
	for _, sl := range p.slots {
		if sl.first != nil {
			sl.first.Close()
			sl.first = nil
		}
	}
	return nil
}

// Sources returns the SOURCEs the pipeline reads: with FirstOf, the one
// that opened.
func (p *Pipeline) Sources() []string {
	var specs []string
	for _, f := range p.files {
		specs = append(specs, f.spec)
	}
	for _, sl := range p.slots {
		if sl.spec != "" {
			specs = append(specs, sl.spec)
		} else {
			specs = append(specs, sl.specs...)
		}
	}
	return specs
}
