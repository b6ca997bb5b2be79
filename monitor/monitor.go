package monitor

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Monitor counts events and exposes them. It is safe for concurrent use.
type Monitor struct {
	state   *state
	sources *sourceState
	reg     *prometheus.Registry // what /metrics serves: own, plus process metrics and callers' collectors
	own     *prometheus.Registry // armorer's own metrics only: the textfile
	logger  *slog.Logger

	// OnNewDenial, when set, is called (outside any lock) for each denial
	// and told whether its signature is new.
	OnDenial func(o Observation, isNew bool)
}

// New returns a Monitor with its own registry (never the global default).
// profiles may be nil when the host's profile state is not available (for
// example when reading a log file offline).
func New(opts Options, profiles ProfileSource, logger *slog.Logger) *Monitor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{state: newState(opts), sources: newSourceState(), logger: logger}
	var snaps *snapshots
	if profiles != nil {
		// One read of the host per scrape, shared by the concerns that need it.
		snaps = &snapshots{src: profiles, maxAge: time.Second}
	}
	concerns := map[string]concern{
		"denials": denialsConcern{s: m.state, profiles: snaps},
		"sources": sourcesConcern{m.sources},
	}
	if snaps != nil {
		concerns["profiles"] = profilesConcern{snaps: snaps, maxProfiles: m.state.opts.MaxProfiles}
	}
	own := []prometheus.Collector{
		&multiCollector{concerns: concerns, logger: logger, timeout: 10 * time.Second},
		newBuildInfoCollector(opts.Build),
	}
	m.reg, m.own = prometheus.NewRegistry(), prometheus.NewRegistry()
	m.reg.MustRegister(own...)
	m.own.MustRegister(own...)
	return m
}

// RegisterProcessMetrics adds the Go runtime and process collectors to
// /metrics, for the long-running daemon. The textfile never carries them:
// node_exporter exports its own go_* and process_* series, and the same
// names from a textfile make every scrape log "was collected before".
func (m *Monitor) RegisterProcessMetrics() {
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Registry is the registry /metrics serves; a caller may register its own
// collectors on it. The textfile holds only the monitor's own metrics.
func (m *Monitor) Registry() *prometheus.Registry { return m.reg }

// Observe counts one event.
func (m *Monitor) Observe(o Observation) {
	isNew := m.state.observe(o)
	if o.Outcome == auditlog.OutcomeDenied && m.OnDenial != nil {
		m.OnDenial(o, isNew)
	}
}

// AddLost counts n events reported lost.
func (m *Monitor) AddLost(n float64) {
	if n <= 0 {
		return
	}
	m.state.mu.Lock()
	m.state.lost += n
	m.state.mu.Unlock()
}

// AddParseErrors counts n lines that were not parseable events.
func (m *Monitor) AddParseErrors(n float64) {
	if n <= 0 {
		return
	}
	m.state.mu.Lock()
	m.state.parseErrors += n
	m.state.mu.Unlock()
}

// SourceUp records whether a source is being read.
func (m *Monitor) SourceUp(name string, up bool) { m.sources.setUp(name, up) }

// SourceError counts an error on a source.
func (m *Monitor) SourceError(name string) { m.sources.addError(name) }

// Recent returns the most recent denials, newest first.
func (m *Monitor) Recent() []Denial {
	m.state.mu.Lock()
	obs := m.state.recent.list()
	m.state.mu.Unlock()
	out := make([]Denial, len(obs))
	for i, o := range obs {
		out[i] = denialOf(o)
	}
	return out
}

// WriteTextfile writes armorer's own metrics (never go_* or process_*) in
// the node_exporter textfile format, atomically: a temporary file beside
// path, whose name does not end in .prom, then rename.
func (m *Monitor) WriteTextfile(path string) error {
	return prometheus.WriteToTextfile(path, m.own)
}

// Handler serves /metrics, /healthz, /readyz and /denials.
func (m *Monitor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !m.sources.anyUp() {
			http.Error(w, "no event source is up", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /denials", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(m.Recent())
	})
	return mux
}

// RunTextfile writes the textfile every interval until ctx ends, and once more at the end.
func (m *Monitor) RunTextfile(ctx context.Context, path string, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := m.WriteTextfile(path); err != nil {
			m.logger.Error("write textfile", "path", path, "err", err)
		}
		select {
		case <-ctx.Done():
			return m.WriteTextfile(path)
		case <-t.C:
		}
	}
}
