package monitor

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/auditlog/source"
)

// AutoSources are tried in this order when no source is given: the audit
// netlink multicast group (a copy of every record, alongside auditd), then
// auditd's log, the journal, and the kernel ring buffer.
var AutoSources = []string{"netlink:", "auditd:", "journal:", "kmsg:"}

// Runner feeds a Monitor from the event pipeline and survives its sources'
// failures: a source that fails is marked down, retried with exponential
// backoff, and resumed where it stopped (source.Options.Retry). In auto
// mode (no Specs) it reads the first of AutoSources that opens and goes
// back to the top of the list after a failure.
type Runner struct {
	Monitor *Monitor
	Specs   []string
	// Open opens a raw source; default source.OpenSource. Tests inject
	// their own.
	Open       func(spec string, opts source.SourceOptions) (source.Source, error)
	MinBackoff time.Duration // default 1s
	MaxBackoff time.Duration // default 1m
	Logger     *slog.Logger
	// FromStart reads what the sources already hold when they first open;
	// by default only new events are counted, so that a restart does not
	// count old denials again.
	FromStart bool
	// PositionFile, when set, keeps where each source stood (in the state
	// directory): saved at most once a second and when Run ends, and read
	// when Run starts, so a restarted monitor (even after kill -9)
	// resumes after the last event it counted instead of at the end.
	PositionFile string
	// OnEvent, when set, sees every event before it is counted (the node
	// agent keeps the events of its complain-mode profiles). ev is valid
	// only during the call.
	OnEvent func(ev *source.Event)
}

func (r *Runner) defaults() {
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
	m := r.Monitor
	specs, auto := r.Specs, len(r.Specs) == 0
	if auto {
		specs = AutoSources
	}
	pos, err := loadPositions(r.PositionFile)
	if err != nil {
		r.Logger.Warn("cannot resume the sources", "err", err)
	}
	p, err := source.Open(ctx, specs, source.Options{
		Follow: true, FromEnd: !r.FromStart, FirstOf: auto, Resume: pos.resume(),
		Retry: r.MinBackoff, MaxRetry: r.MaxBackoff,
		Logger: r.Logger, OpenSource: r.Open,
		OnSource: func(spec string, err error) {
			m.SourceUp(spec, err == nil)
			if err == nil {
				r.Logger.Info("reading events", "source", spec)
				return
			}
			m.SourceError(spec)
			r.Logger.Warn("source unavailable or stopped", "source", spec, "err", err)
		},
	})
	if err != nil { // a malformed SOURCE: nothing to retry
		r.Logger.Error("cannot read events", "err", err)
		for _, spec := range specs {
			m.SourceUp(spec, false)
			m.SourceError(spec)
		}
		<-ctx.Done()
		return ctx.Err()
	}
	var acc accountant
	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() { // losses happen between events too
		defer close(ticked)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				acc.account(m, p.Stats())
				if err := pos.save(); err != nil {
					r.Logger.Warn("cannot keep the source positions", "err", err)
				}
			}
		}
	}()
	for ev := range p.Events() {
		if r.OnEvent != nil {
			r.OnEvent(ev)
		}
		m.Observe(observationOf(ev.Event))
		acc.account(m, p.Stats())
		pos.set(ev.Source, ev.Pos)
	}
	close(stop)
	<-ticked
	acc.account(m, p.Stats())
	if err := pos.save(); err != nil {
		r.Logger.Warn("cannot keep the source positions", "err", err)
	}
	return ctx.Err()
}

// accountant turns the pipeline's growing counts into counter increments.
type accountant struct {
	mu        sync.Mutex
	lost, bad uint64
}

func (a *accountant) account(m *Monitor, st source.Stats) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.Lost > a.lost {
		m.AddLost(float64(st.Lost - a.lost))
		a.lost = st.Lost
	}
	if st.Bad > a.bad {
		m.AddParseErrors(float64(st.Bad - a.bad))
		a.bad = st.Bad
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
