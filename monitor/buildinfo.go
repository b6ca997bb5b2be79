package monitor

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// BuildInfo identifies the armorer build that exports the metrics.
type BuildInfo struct {
	Version   string // v1.2.3 or (devel)
	Revision  string // the git commit
	GoVersion string // default: this binary's toolchain
}

// newBuildInfoCollector exports armorer_build_info, the one series every
// node has from the start (in textfile mode too): dashboards list nodes from it.
func newBuildInfoCollector(b BuildInfo) prometheus.Collector {
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.GoVersion == "" {
		b.GoVersion = runtime.Version()
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace:   namespace,
		Name:        "build_info",
		Help:        "A metric with a constant '1' value labelled by the version, revision and Go version armorer was built with.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "goversion": b.GoVersion},
	})
	g.Set(1)
	return g
}
