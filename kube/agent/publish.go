package agent

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/internal/eventstore"
	"github.com/armorer-dev/armorer/kube"
	"github.com/armorer-dev/armorer/kube/apiclient"
)

// DefaultPublishInterval is how often a changed publication is written.
const DefaultPublishInterval = 30 * time.Second

// Publisher publishes the node's complain-mode accesses through the API
// (--publish-events), for `armorer k8s events` and the k8s:NAME SOURCE:
// one ConfigMap, kube.EventsConfigMapName(Node), in Namespace, holding
// per profile the distinct accesses with their counts (kube.Access),
// within MaxBytes (kube.MaxEventsBytes). When a new access would not
// fit, the least frequent accesses are dropped, the least recently seen
// first among equals, down to 15/16 of the bound, and counted per profile
// in the object's kube.DroppedAnnotation and in
// armorer_agent_events_published_dropped_total.
//
// The object is the publisher's memory across restarts: the first
// publication reads it back and continues from it. Each write is an
// update at the resourceVersion last read; when someone else changed the
// object in between (Conflict), the publisher reads it again and writes
// its own state over it: the object belongs to this node's agent.
type Publisher struct {
	Client    *apiclient.Client
	Namespace string
	Node      string
	MaxBytes  int           // default kube.MaxEventsBytes
	Interval  time.Duration // default DefaultPublishInterval
	Logger    *slog.Logger

	mu       sync.Mutex
	profiles map[string]map[string]*published // profile → access key → access
	dropped  map[string]int64                 // profile → accesses dropped, cumulative
	dirty    bool
	seeded   bool   // the object was read back (or found absent)
	version  string // its resourceVersion; "" when it does not exist
	size     int    // the data's size, as the API counts it
	key      []byte // reused by Observe
	writes   map[string]float64
}

type published struct {
	kube.Access
	key  string
	size int // of its line, newline included
}

// Observe counts one event of an owned complain-mode profile (its
// children and hats go to the top-level profile). now is when it was
// seen, when the event carries no time.
func (p *Publisher) Observe(ev *auditlog.Event, now time.Time) {
	if ev.Kind != auditlog.KindEvent {
		return
	}
	top := bytes.TrimSuffix(bytes.TrimSuffix(ev.Label(), []byte(" (complain)")), []byte(" (enforce)"))
	if i := bytes.Index(top, []byte("//")); i > 0 {
		top = top[:i]
	}
	if len(top) == 0 || string(top) == "unconfined" {
		return
	}
	t := now
	if !ev.Time.IsZero() {
		t = ev.Time.Time()
	}
	t = t.UTC().Truncate(time.Second) // a line's size changes only with its count's digits
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	m := p.profiles[string(top)]
	if m == nil {
		m = map[string]*published{}
		p.profiles[string(top)] = m
	}
	p.key = eventstore.AppendKey(p.key[:0], ev)
	if a := m[string(p.key)]; a != nil {
		a.Count++
		if t.After(a.Last) {
			a.Last = t
		}
		if tenPower(a.Count) { // one more digit
			p.resize(a)
			p.trim()
		}
		p.dirty = true
		return
	}
	a := &published{key: string(p.key), Access: kube.Access{Count: 1, First: t, Last: t, Event: ev.AppendJSON(nil, "", 0)}}
	if len(m) == 0 {
		p.size += len(top)
	}
	m[a.key] = a
	p.resize(a)
	p.dirty = true
	p.trim()
}

func (p *Publisher) init() {
	if p.profiles == nil {
		p.profiles = map[string]map[string]*published{}
		p.dropped = map[string]int64{}
		p.writes = map[string]float64{}
	}
}

// resize recomputes a's line size and the total.
func (p *Publisher) resize(a *published) {
	line, _ := a.Line()
	p.size += len(line) + 1 - a.size
	a.size = len(line) + 1
}

func tenPower(n int64) bool {
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}

func (p *Publisher) maxBytes() int {
	if p.MaxBytes > 0 {
		return p.MaxBytes
	}
	return kube.MaxEventsBytes
}

// trim drops accesses when the data does not fit, until it takes at
// most 15/16 of MaxBytes (room for the next accesses, so that a stream of
// new ones does not sort everything each time): the least frequent first,
// the least recently seen first among equals.
func (p *Publisher) trim() {
	if p.size <= p.maxBytes() {
		return
	}
	target := p.maxBytes() - p.maxBytes()/16
	type ref struct {
		profile string
		a       *published
	}
	var all []ref
	for profile, m := range p.profiles {
		for _, a := range m {
			all = append(all, ref{profile, a})
		}
	}
	slices.SortFunc(all, func(x, y ref) int {
		return cmp.Or(cmp.Compare(x.a.Count, y.a.Count), x.a.Last.Compare(y.a.Last),
			cmp.Compare(x.profile, y.profile), cmp.Compare(x.a.key, y.a.key))
	})
	for _, r := range all {
		if p.size <= target {
			break
		}
		m := p.profiles[r.profile]
		delete(m, r.a.key)
		p.size -= r.a.size
		if len(m) == 0 {
			delete(p.profiles, r.profile)
			p.size -= len(r.profile)
		}
		p.dropped[r.profile]++
	}
}

// Keep removes the profiles keep rejects (no longer the agent's).
func (p *Publisher) Keep(keep func(profile string) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for profile, m := range p.profiles {
		if keep(profile) {
			continue
		}
		for _, a := range m {
			p.size -= a.size
		}
		p.size -= len(profile)
		delete(p.profiles, profile)
		delete(p.dropped, profile)
		p.dirty = true
	}
}

// Publish writes the publication when it changed since the last write
// (and reads the object back first, once).
func (p *Publisher) Publish(ctx context.Context) error {
	if err := kube.CheckEventsNode(p.Node); err != nil {
		return err
	}
	if err := p.seed(ctx); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		p.mu.Lock()
		if !p.dirty {
			p.mu.Unlock()
			return nil
		}
		cm, err := p.object()
		version := p.version
		p.dirty = false
		p.mu.Unlock()
		if err != nil {
			return err
		}
		var out *corev1.ConfigMap
		if version == "" {
			out, err = p.Client.CreateConfigMap(ctx, cm)
		} else {
			cm.ResourceVersion = version
			out, err = p.Client.UpdateConfigMap(ctx, cm)
		}
		p.mu.Lock()
		switch {
		case err == nil:
			p.version = out.ResourceVersion
			p.writes["ok"]++
			p.mu.Unlock()
			return nil
		case attempt < 3 && (apiclient.IsConflict(err) || apiclient.IsAlreadyExists(err) || apiclient.IsNotFound(err)):
			// Changed, created or deleted by someone else: take the
			// object's current version and write ours over it.
			p.dirty = true
			p.writes["conflict"]++
			p.mu.Unlock()
			cur, gerr := p.Client.GetConfigMap(ctx, p.Namespace, cm.Name)
			p.mu.Lock()
			switch {
			case gerr == nil:
				p.version = cur.ResourceVersion
			case apiclient.IsNotFound(gerr):
				p.version = ""
			default:
				p.mu.Unlock()
				return fmt.Errorf("publish events: %w", gerr)
			}
			p.mu.Unlock()
		default:
			p.dirty = true
			p.writes["error"]++
			p.mu.Unlock()
			return fmt.Errorf("publish events: %w", err)
		}
	}
}

// seed reads the object back once, so a restarted agent continues its
// counts instead of starting over.
func (p *Publisher) seed(ctx context.Context) error {
	p.mu.Lock()
	done := p.seeded
	p.mu.Unlock()
	if done {
		return nil
	}
	cm, err := p.Client.GetConfigMap(ctx, p.Namespace, kube.EventsConfigMapName(p.Node))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	switch {
	case apiclient.IsNotFound(err):
		p.seeded = true
		return nil
	case err != nil:
		return fmt.Errorf("publish events: read %s/%s: %w", p.Namespace, kube.EventsConfigMapName(p.Node), err)
	}
	p.seeded, p.version = true, cm.ResourceVersion
	for profile, n := range kube.DroppedCounts(cm) {
		p.dropped[profile] += n
	}
	for _, profile := range slices.Sorted(maps.Keys(cm.Data)) {
		as, err := kube.DecodeAccesses(cm.Data[profile])
		if err != nil {
			p.log().Warn("published events unreadable, starting over", "profile", profile, "err", err)
			p.dirty = true
			continue
		}
		m := p.profiles[profile]
		if m == nil {
			m = map[string]*published{}
			p.profiles[profile] = m
			p.size += len(profile)
		}
		for _, a := range as {
			key, err := kube.AccessKey(a.Event)
			if err != nil {
				p.dirty = true
				continue
			}
			if cur := m[key]; cur != nil { // seen since the start: add the old counts
				cur.Count += a.Count
				cur.First = a.First
				cur.Event = a.Event
				p.resize(cur)
				continue
			}
			na := &published{Access: a, key: key}
			m[key] = na
			p.resize(na)
		}
	}
	p.trim()
	return nil
}

// object builds the ConfigMap from the current state.
func (p *Publisher) object() (*corev1.ConfigMap, error) {
	dropped, err := json.Marshal(p.dropped)
	if err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      kube.EventsConfigMapName(p.Node),
			Namespace: p.Namespace,
			Labels:    map[string]string{kube.EventsLabel: kube.EventsLabelValue, "app.kubernetes.io/part-of": "armorer"},
			Annotations: map[string]string{
				kube.NodeAnnotation:    p.Node,
				kube.DroppedAnnotation: string(dropped),
				kube.UpdatedAnnotation: time.Now().UTC().Format(time.RFC3339),
			},
		},
		Data: map[string]string{},
	}
	for profile, m := range p.profiles {
		as := make([]kube.Access, 0, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			as = append(as, m[k].Access)
		}
		slices.SortStableFunc(as, func(a, b kube.Access) int { return a.First.Compare(b.First) })
		v, err := kube.EncodeAccesses(as)
		if err != nil {
			return nil, err
		}
		cm.Data[profile] = v
	}
	return cm, nil
}

// Size is the publication's data size as the API server counts it.
func (p *Publisher) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size
}

// Writes counts the writes of the object by result: ok, conflict (read
// again and retried), error.
func (p *Publisher) Writes(result string) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.writes[result]
}

// Dropped returns the accesses dropped per profile to stay within MaxBytes.
func (p *Publisher) Dropped() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.dropped)
}

func (p *Publisher) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// Run publishes every Interval until ctx ends, and once more then.
func (p *Publisher) Run(ctx context.Context, keep func(string) bool) {
	iv := p.Interval
	if iv <= 0 {
		iv = DefaultPublishInterval
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			fin, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			p.Keep(keep)
			p.Publish(fin)
			cancel()
			return
		case <-t.C:
		}
		p.Keep(keep)
		if err := p.Publish(ctx); err != nil {
			if err.Error() != last {
				p.log().Error("publish events", "err", err)
			}
			last = err.Error()
		} else {
			last = ""
		}
	}
}

var (
	publishedBytesDesc = prometheus.NewDesc(
		prometheus.BuildFQName("armorer", "agent", "events_published_bytes"),
		"Size of the node's published complain-mode accesses (the events ConfigMap's data, as the API counts it).",
		nil, nil)
	publishedDroppedDesc = prometheus.NewDesc(
		prometheus.BuildFQName("armorer", "agent", "events_published_dropped_total"),
		"Distinct accesses dropped from the events ConfigMap to stay within its bound (the least frequent, least recently seen first).",
		[]string{"profile"}, nil)
	publishWritesDesc = prometheus.NewDesc(
		prometheus.BuildFQName("armorer", "agent", "events_publish_writes_total"),
		"Writes of the events ConfigMap, by result (ok, conflict: retried after reading the object again, error).",
		[]string{"result"}, nil)
)

func (p *Publisher) Describe(ch chan<- *prometheus.Desc) {
	ch <- publishedBytesDesc
	ch <- publishedDroppedDesc
	ch <- publishWritesDesc
}

func (p *Publisher) Collect(ch chan<- prometheus.Metric) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(publishedBytesDesc, prometheus.GaugeValue, float64(p.size))
	for profile, n := range p.dropped {
		ch <- prometheus.MustNewConstMetric(publishedDroppedDesc, prometheus.CounterValue, float64(n), profile)
	}
	for _, r := range []string{"ok", "conflict", "error"} {
		ch <- prometheus.MustNewConstMetric(publishWritesDesc, prometheus.CounterValue, p.writes[r], r)
	}
}
