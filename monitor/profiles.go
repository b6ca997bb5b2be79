package monitor

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ProfileSnapshot is the host's AppArmor state at one moment.
type ProfileSnapshot struct {
	Loaded     map[string]string // loaded profile name → mode (enforce, complain, kill, unconfined, prompt)
	Defined    []string          // profile names defined in the profile directory
	Unconfined int               // processes whose executable matches an attachment but run unconfined
}

// ProfileSource reads the host's profiles (securityfs, the profile
// directory, /proc). The host package provides the real one.
type ProfileSource interface {
	ProfileSnapshot(ctx context.Context) (ProfileSnapshot, error)
}

var (
	profilesDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "apparmor", "profiles"),
		"AppArmor profiles loaded in the kernel, by mode.", []string{"mode"}, nil)
	profileLoadedDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "apparmor", "profile_loaded"),
		"Whether a profile defined in the profile directory is loaded in the kernel (1) or not (0).",
		[]string{"profile"}, nil)
	unconfinedDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "apparmor", "unconfined_processes"),
		"Processes whose executable matches a profile's attachment but that run unconfined (started before the profile was loaded).",
		nil, nil)
)

// snapshots shares one ProfileSnapshot between the concerns of a scrape
// (the profiles concern and the denials concern's pre-declared series), so
// the host is read once per scrape and both see the same profiles.
type snapshots struct {
	src    ProfileSource
	maxAge time.Duration

	mu   sync.Mutex
	at   time.Time
	snap ProfileSnapshot
	err  error
}

func (s *snapshots) get(ctx context.Context) (ProfileSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at.IsZero() || time.Since(s.at) > s.maxAge {
		s.snap, s.err = s.src.ProfileSnapshot(ctx)
		s.at = time.Now()
	}
	return s.snap, s.err
}

// declaredProfiles are the loaded top-level profiles whose denial series
// start at zero, sorted, at most max of them. Children and hats (P//hat)
// get series only when they deny.
func (snap ProfileSnapshot) declaredProfiles(max int) []string {
	var names []string
	for name, mode := range snap.Loaded {
		if mode == "unconfined" || strings.Contains(name, "//") {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) > max {
		names = names[:max]
	}
	return names
}

type profilesConcern struct {
	snaps       *snapshots
	maxProfiles int
}

func (profilesConcern) describe(ch chan<- *prometheus.Desc) {
	ch <- profilesDesc
	ch <- profileLoadedDesc
	ch <- unconfinedDesc
}

func (c profilesConcern) update(ctx context.Context, ch chan<- prometheus.Metric) error {
	snap, err := c.snaps.get(ctx)
	if err != nil {
		return err
	}
	byMode := map[string]float64{"enforce": 0, "complain": 0}
	for _, mode := range snap.Loaded {
		byMode[mode]++
	}
	for mode, n := range byMode {
		ch <- prometheus.MustNewConstMetric(profilesDesc, prometheus.GaugeValue, n, mode)
	}
	defined := slices.Sorted(slices.Values(slices.Compact(slices.Sorted(slices.Values(snap.Defined)))))
	if len(defined) > c.maxProfiles {
		// Keep the unloaded ones first: they are the ones that matter.
		slices.SortStableFunc(defined, func(a, b string) int {
			_, la := snap.Loaded[a]
			_, lb := snap.Loaded[b]
			switch {
			case la == lb:
				return 0
			case !la:
				return -1
			default:
				return 1
			}
		})
		defined = defined[:c.maxProfiles]
	}
	for _, name := range defined {
		v := 0.0
		if _, ok := snap.Loaded[name]; ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(profileLoadedDesc, prometheus.GaugeValue, v, name)
	}
	ch <- prometheus.MustNewConstMetric(unconfinedDesc, prometheus.GaugeValue, float64(snap.Unconfined))
	return nil
}
