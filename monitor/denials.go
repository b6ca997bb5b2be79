package monitor

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	eventsDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "apparmor", "events_total"),
		"AppArmor audit events seen, by profile, class and outcome (the apparmor= value).",
		[]string{"profile", "class", "outcome"}, nil)
	denialsDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "apparmor", "denials_total"),
		"AppArmor denials (apparmor=\"DENIED\"), by profile, operation and class.",
		[]string{"profile", "operation", "class"}, nil)
	newDenialsDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "apparmor", "new_denials_total"),
		"Denials whose signature (profile, operation, path pattern) had not been seen before: an application change may need new rules.",
		[]string{"profile"}, nil)
	lostDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "apparmor", "events_lost_total"),
		"Audit events the kernel or a source reported as lost (rate limits, audit_lost, ring buffer overruns, full queues).",
		nil, nil)
	parseErrorsDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "monitor", "parse_errors_total"),
		"Lines from the sources that could not be parsed as audit events.",
		nil, nil)
)

// denialsConcern exposes the event counters. With the host's profiles, it
// also starts the denial series of every loaded profile at zero, so that
// dashboards and rate() see a 0 before the first denial instead of no data.
type denialsConcern struct {
	s        *state
	profiles *snapshots // nil when reading offline
}

func (denialsConcern) describe(ch chan<- *prometheus.Desc) {
	ch <- eventsDesc
	ch <- denialsDesc
	ch <- newDenialsDesc
	ch <- lostDesc
	ch <- parseErrorsDesc
}

func (c denialsConcern) update(ctx context.Context, ch chan<- prometheus.Metric) error {
	var declared []string
	if c.profiles != nil {
		// A failed read is the profiles concern's to report; the counters stand.
		if snap, err := c.profiles.get(ctx); err == nil {
			declared = snap.declaredProfiles(c.s.opts.MaxProfiles)
		}
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.events {
		ch <- prometheus.MustNewConstMetric(eventsDesc, prometheus.CounterValue, v, k.profile, k.class, k.outcome)
	}
	for k, v := range s.denials {
		ch <- prometheus.MustNewConstMetric(denialsDesc, prometheus.CounterValue, v, k.profile, k.operation, k.class)
	}
	for p, v := range s.newDenials {
		ch <- prometheus.MustNewConstMetric(newDenialsDesc, prometheus.CounterValue, v, p)
	}
	for _, p := range declared {
		// operation and class are unknown before a denial: empty labels,
		// which PromQL treats as absent (sum by (profile) sees a 0).
		if _, ok := s.denials[denialKey{p, "", ""}]; !ok {
			ch <- prometheus.MustNewConstMetric(denialsDesc, prometheus.CounterValue, 0, p, "", "")
		}
		if _, ok := s.newDenials[p]; !ok {
			ch <- prometheus.MustNewConstMetric(newDenialsDesc, prometheus.CounterValue, 0, p)
		}
	}
	ch <- prometheus.MustNewConstMetric(lostDesc, prometheus.CounterValue, s.lost)
	ch <- prometheus.MustNewConstMetric(parseErrorsDesc, prometheus.CounterValue, s.parseErrors)
	return nil
}
