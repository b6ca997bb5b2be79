package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/auditlog/source"
)

// AutoSources are tried in this order when no source is given: the audit
// netlink multicast group (a copy of every record, alongside auditd), then
// auditd's log, the journal, and the kernel ring buffer.
var AutoSources = []string{"netlink:", "auditd:", "journal:", "kmsg:"}

// Runner feeds a Monitor from event sources and survives their failures:
// a source that fails is marked down, retried with exponential backoff, and
// resumed where it stopped. In auto mode (no Specs) it uses the first of
// AutoSources that opens and goes back to the top of the list after a failure.
type Runner struct {
	Monitor *Monitor
	Specs   []string
	// Open opens a source; default source.Open. Tests inject their own.
	Open       func(spec string, opts source.Options) (source.Source, error)
	MinBackoff time.Duration // default 1s
	MaxBackoff time.Duration // default 1m
	Logger     *slog.Logger
	// FromStart reads what the sources already hold when they first open;
	// by default only new events are counted, so that a restart does not
	// count old denials again.
	FromStart bool
}

func (r *Runner) defaults() {
	if r.Open == nil {
		r.Open = source.Open
	}
	if r.MinBackoff <= 0 {
		r.MinBackoff = time.Second
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = time.Minute
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run reads events until ctx ends. It returns ctx's error.
func (r *Runner) Run(ctx context.Context) error {
	r.defaults()
	recs := make(chan source.Record, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.consume(ctx, recs)
	}()
	keepers := make(chan struct{}, 1)
	n := 0
	if len(r.Specs) == 0 {
		n = 1
		go func() { r.keep(ctx, AutoSources, recs); keepers <- struct{}{} }()
	}
	for _, spec := range r.Specs {
		n++
		go func() { r.keep(ctx, []string{spec}, recs); keepers <- struct{}{} }()
	}
	for range n {
		<-keepers
	}
	<-done
	return ctx.Err()
}

// consume parses records in one goroutine with one Stream, so that the
// same event delivered by two sources is counted once.
func (r *Runner) consume(ctx context.Context, recs <-chan source.Record) {
	m := r.Monitor
	p := auditlog.NewParser()
	var (
		ev                auditlog.Event
		st                auditlog.Stream
		lastLost, lastBad uint64
	)
	for {
		var rec source.Record
		select {
		case <-ctx.Done():
			return
		case rec = <-recs:
		}
		st.Stats.Lines++
		if err := p.Parse(rec.Data, &ev); err != nil {
			var se *auditlog.SyntaxError
			if errors.As(err, &se) {
				st.Stats.Bad++
			}
		} else if st.Add(&ev) {
			m.Observe(observationOf(&ev))
		}
		if d := st.Stats.Lost - lastLost; d > 0 {
			m.AddLost(float64(d))
			lastLost = st.Stats.Lost
		}
		if d := st.Stats.Bad - lastBad; d > 0 {
			m.AddParseErrors(float64(d))
			lastBad = st.Stats.Bad
		}
	}
}

// observationOf copies what the monitor counts out of an event.
func observationOf(ev *auditlog.Event) Observation {
	o := Observation{
		Outcome:   ev.Outcome(),
		Operation: ev.String(auditlog.KeyOperation),
		Class:     ev.Class(),
		Profile:   string(ev.Label()),
		Name:      ev.String(auditlog.KeyName),
		Requested: ev.String(auditlog.KeyRequestedMask),
		Denied:    ev.String(auditlog.KeyDeniedMask),
		Comm:      ev.String(auditlog.KeyComm),
	}
	if pid, ok := ev.Int(auditlog.KeyPID); ok {
		o.PID = pid
	}
	if !ev.Time.IsZero() {
		o.Time = ev.Time.Time()
	}
	return o
}

// keep runs the first source of specs that opens, restarting it (from the
// top of specs) with backoff whenever it fails, until ctx ends.
func (r *Runner) keep(ctx context.Context, specs []string, out chan<- source.Record) {
	backoff := r.MinBackoff
	resume := map[string]*source.Position{}
	started := map[string]bool{}
	for ctx.Err() == nil {
		ran := false
		for _, spec := range specs {
			opts := source.Options{Follow: true, Logger: r.Logger.With("source", spec), Resume: resume[spec]}
			opts.FromEnd = !r.FromStart && !started[spec]
			src, err := r.Open(spec, opts)
			if err != nil {
				r.Monitor.SourceUp(spec, false)
				r.Monitor.SourceError(spec)
				r.Logger.Warn("source unavailable", "source", spec, "err", err)
				continue
			}
			started[spec] = true
			ran = true
			r.Logger.Info("reading events", "source", spec)
			r.Monitor.SourceUp(spec, true)
			last, runErr := r.run(ctx, src, out)
			if last != nil {
				resume[spec] = last
			}
			r.Monitor.SourceUp(spec, false)
			if ctx.Err() != nil {
				return
			}
			r.Monitor.SourceError(spec)
			r.Logger.Warn("source stopped; retrying", "source", spec, "err", runErr, "backoff", backoff)
			break // back to the top of the preference list after the backoff
		}
		if !ran && len(specs) > 1 {
			r.Logger.Error("no event source is available", "tried", specs)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if ran {
			backoff = r.MinBackoff
		} else {
			backoff = min(2*backoff, r.MaxBackoff)
		}
	}
}

// run runs one source, forwarding its records and its loss counters, and
// returns the position of the last record it delivered.
func (r *Runner) run(ctx context.Context, src source.Source, out chan<- source.Record) (*source.Position, error) {
	in := make(chan source.Record, 256)
	errc := make(chan error, 1)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { errc <- src.Run(runCtx, in) }()
	var (
		last     *source.Position
		lastSeen source.Stats
	)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	account := func() {
		s := src.Stats()
		lost := (s.Lost - lastSeen.Lost) + (s.Dropped - lastSeen.Dropped)
		r.Monitor.AddLost(float64(lost))
		lastSeen = s
	}
	defer account()
	forward := func(rec source.Record) error {
		pos := rec.Pos
		last = &pos
		select {
		case out <- rec:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		select {
		case rec := <-in:
			if err := forward(rec); err != nil {
				return last, err
			}
		case err := <-errc:
			// Forward what the source sent before it stopped.
			for len(in) > 0 {
				if err := forward(<-in); err != nil {
					return last, err
				}
			}
			if err == nil {
				err = fmt.Errorf("source %s ended", src.Name())
			}
			return last, err
		case <-tick.C:
			account()
		}
	}
}
