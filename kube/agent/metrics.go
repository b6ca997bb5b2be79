package agent

import (
	"context"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/monitor"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	readyDesc = prometheus.NewDesc(
		prometheus.BuildFQName("armorer", "agent", "ready"),
		"Whether every profile of the ConfigMap is loaded on this node (1) or not (0): what /readyz reports.",
		nil, nil)
	currentDesc = prometheus.NewDesc(
		prometheus.BuildFQName("armorer", "agent", "profile_current"),
		"Whether the ConfigMap's version of a profile is the one loaded (1), or an older one or none (0: invalid, refused or failed; see /status).",
		[]string{"profile"}, nil)
	reconcilesDesc = prometheus.NewDesc(
		prometheus.BuildFQName("armorer", "agent", "reconciles_total"),
		"Reconciles of the profiles volume with the kernel, by result (ok: it ran; error: it could not read the volume or the state).",
		[]string{"result"}, nil)
)

// collector exposes the agent's own state at scrape time.
type collector struct{ a *Agent }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- readyDesc
	ch <- currentDesc
	ch <- reconcilesDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.a.Status()
	ready := 0.0
	if st.Ready {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, ready)
	for _, p := range st.Profiles {
		if !p.Desired {
			continue
		}
		v := 0.0
		if p.Current() {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(currentDesc, prometheus.GaugeValue, v, p.Name)
	}
	c.a.mu.Lock()
	defer c.a.mu.Unlock()
	for _, r := range []string{"ok", "error"} {
		ch <- prometheus.MustNewConstMetric(reconcilesDesc, prometheus.CounterValue, c.a.reconciles[r], r)
	}
}

// Collector returns the agent's metrics collector.
func (a *Agent) Collector() prometheus.Collector { return collector{a} }

// ProfileSnapshot implements monitor.ProfileSource: the kernel's profiles,
// and as "defined" the ConfigMap's profiles, so the monitor's
// armorer_apparmor_profile_loaded{profile} covers exactly the desired set.
func (a *Agent) ProfileSnapshot(ctx context.Context) (monitor.ProfileSnapshot, error) {
	st, err := a.host.Status(ctx, host.GlobMatch)
	if err != nil {
		return monitor.ProfileSnapshot{}, err
	}
	snap := monitor.ProfileSnapshot{Loaded: map[string]string{}, Unconfined: len(st.Unconfined)}
	for _, lp := range st.Profiles {
		snap.Loaded[lp.Name] = string(lp.Mode)
	}
	for _, p := range a.Status().Profiles {
		if p.Desired {
			snap.Defined = append(snap.Defined, p.Name)
		}
	}
	return snap, nil
}
