package monitor

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The source label is the SOURCE spec as configured (Runner.Specs, or
// AutoSources), as source.Options.OnSource reports it: a file path in it
// is the operator's, never a value from the events, so the series are as
// many as the configured sources (docs/update-workflow.md).
var (
	sourceUpDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "monitor", "source_up"),
		"Whether the monitor is reading from the source (1) or it is unavailable (0).",
		[]string{"source"}, nil)
	sourceErrorsDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "monitor", "source_errors_total"),
		"Errors reading a source (open failures, read errors, restarts).",
		[]string{"source"}, nil)
)

// sourceState tracks each source's health; the runner updates it.
type sourceState struct {
	mu     sync.Mutex
	up     map[string]bool
	errors map[string]float64
}

func newSourceState() *sourceState {
	return &sourceState{up: map[string]bool{}, errors: map[string]float64{}}
}

func (s *sourceState) setUp(name string, up bool) {
	s.mu.Lock()
	s.up[name] = up
	if _, ok := s.errors[name]; !ok {
		s.errors[name] = 0
	}
	s.mu.Unlock()
}

func (s *sourceState) addError(name string) {
	s.mu.Lock()
	s.errors[name]++
	if _, ok := s.up[name]; !ok {
		s.up[name] = false
	}
	s.mu.Unlock()
}

func (s *sourceState) anyUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, up := range s.up {
		if up {
			return true
		}
	}
	return false
}

type sourcesConcern struct{ s *sourceState }

func (sourcesConcern) describe(ch chan<- *prometheus.Desc) {
	ch <- sourceUpDesc
	ch <- sourceErrorsDesc
}

func (c sourcesConcern) update(_ context.Context, ch chan<- prometheus.Metric) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for name, up := range c.s.up {
		v := 0.0
		if up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(sourceUpDesc, prometheus.GaugeValue, v, name)
	}
	for name, n := range c.s.errors {
		ch <- prometheus.MustNewConstMetric(sourceErrorsDesc, prometheus.CounterValue, n, name)
	}
	return nil
}
