package agent

import (
	"strings"
	"sync"

	"github.com/armorer-dev/armorer/monitor"
	"github.com/prometheus/client_golang/prometheus"
)

// PodDenial is one denial with the pod it came from, as /denials lists it.
type PodDenial struct {
	monitor.Denial
	Pod *Pod `json:"kubernetes,omitempty"` // nil: not in a container, or the process had exited
}

// Attributor attributes the monitor's denials to pods: the details (pod,
// container, PID) go to the recent list, the counters carry only
// namespace, workload and profile (bounded label values).
type Attributor struct {
	Resolver *Resolver
	// MaxSeries bounds the distinct label sets; past it, denials count
	// under namespace="other", workload="other".
	MaxSeries int
	// RecentSize is how many denials /denials keeps; default 256.
	RecentSize int

	mu     sync.Mutex
	counts map[podKey]float64
	noise  float64
	recent []PodDenial
	next   int
}

type podKey struct{ namespace, workload, profile string }

var (
	podDenialsDesc = prometheus.NewDesc(
		prometheus.BuildFQName("armorer", "agent", "pod_denials_total"),
		"AppArmor denials attributed to pods, by namespace, workload (the pod's controller, from its name) and profile; namespace is empty for processes outside pods (or gone before they could be attributed).",
		[]string{"namespace", "workload", "profile"}, nil)
	runtimeNoiseDesc = prometheus.NewDesc(
		prometheus.BuildFQName("armorer", "agent", "runtime_denials_total"),
		"Denials of the container runtime's own init (runc:[2:INIT] before the workload's exec), not counted against any workload.",
		nil, nil)
)

// IsRuntimeNoise tells denials of the runtime's init process, which runs
// under the container's profile for a moment before it execs the
// workload: they are the runtime's, not the workload's.
func IsRuntimeNoise(o monitor.Observation) bool {
	return strings.HasPrefix(o.Comm, "runc:[") || strings.HasPrefix(o.Comm, "crun:")
}

// Observe attributes one denial; use it as monitor.Monitor.OnDenial.
func (a *Attributor) Observe(o monitor.Observation, _ bool) {
	if IsRuntimeNoise(o) {
		a.mu.Lock()
		a.noise++
		a.mu.Unlock()
		return
	}
	d := PodDenial{Denial: monitor.Denial{Profile: o.Profile, Operation: o.Operation, Class: string(o.Class), Name: o.Name,
		Requested: o.Requested, Denied: o.Denied, PID: o.PID, Comm: o.Comm}}
	if !o.Time.IsZero() {
		t := o.Time.UTC()
		d.Time = &t
	}
	if o.PID > 0 && a.Resolver != nil {
		if p, ok := a.Resolver.Resolve(o.PID); ok {
			d.Pod = &p
		}
	}
	key := podKey{profile: o.Profile}
	if d.Pod != nil {
		key.namespace, key.workload = d.Pod.Namespace, d.Pod.Workload
		if key.namespace == "" {
			key.namespace, key.workload = "unknown", "unknown" // the container's config was not found
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.counts == nil {
		a.counts = map[podKey]float64{}
	}
	max := a.MaxSeries
	if max <= 0 {
		max = 500
	}
	if _, seen := a.counts[key]; !seen && len(a.counts) >= max {
		key = podKey{"other", "other", "other"}
	}
	a.counts[key]++
	size := a.RecentSize
	if size <= 0 {
		size = 256
	}
	if len(a.recent) < size {
		a.recent = append(a.recent, d)
	} else {
		a.recent[a.next] = d
	}
	a.next = (a.next + 1) % size
}

// Recent returns the kept denials, newest first.
func (a *Attributor) Recent() []PodDenial {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.recent)
	out := make([]PodDenial, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, a.recent[(a.next-i+n)%n])
	}
	return out
}

func (a *Attributor) Describe(ch chan<- *prometheus.Desc) {
	ch <- podDenialsDesc
	ch <- runtimeNoiseDesc
}

func (a *Attributor) Collect(ch chan<- prometheus.Metric) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, v := range a.counts {
		ch <- prometheus.MustNewConstMetric(podDenialsDesc, prometheus.CounterValue, v, k.namespace, k.workload, k.profile)
	}
	ch <- prometheus.MustNewConstMetric(runtimeNoiseDesc, prometheus.CounterValue, a.noise)
}
