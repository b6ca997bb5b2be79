package kube

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/internal/eventstore"
	"github.com/armorer-dev/armorer/kube/apiclient"
)

// Published events: each node agent (--publish-events) keeps one
// ConfigMap, EventsConfigMapName(node), in its namespace, labelled
// EventsLabel. Each data key is a profile name; its value holds the
// distinct accesses of that profile's complain-mode events on the node
// (children and hats included), one JSON object a line (Access). The
// whole data, keys and values, stays within MaxEventsBytes (the API
// server's own limit of a ConfigMap, which counts the values only): when
// it would not fit,
// the least frequent accesses go first, the least recently seen first
// among equals, and the annotation DroppedAnnotation counts them per
// profile.
const (
	EventsLabel        = "armorer.dev/events"
	EventsLabelValue   = "node-agent"
	NodeAnnotation     = "armorer.dev/node"
	DroppedAnnotation  = "armorer.dev/dropped"   // JSON: profile → accesses dropped, since the object was created
	UpdatedAnnotation  = "armorer.dev/published" // RFC 3339: the last publication
	eventsPrefix       = "armorer-events-"
	MaxEventsBytes     = 1 << 20
	EventsSelector     = EventsLabel + "=" + EventsLabelValue
	maxObjectNameBytes = 253
)

// EventsConfigMapName is the ConfigMap a node's agent publishes to.
func EventsConfigMapName(node string) string { return eventsPrefix + node }

// CheckEventsNode says whether node's events ConfigMap can be named.
func CheckEventsNode(node string) error {
	if node == "" {
		return errors.New("no node name")
	}
	if n := len(EventsConfigMapName(node)); n > maxObjectNameBytes {
		return fmt.Errorf("node name %q is too long for the ConfigMap %s… (%d > %d bytes)", node, eventsPrefix, n, maxObjectNameBytes)
	}
	return nil
}

// Access is one distinct access, as published: how often and when the
// node saw it, and the event itself as `armorer events --json` prints it.
type Access struct {
	Count int64           `json:"count"`
	First time.Time       `json:"first"`
	Last  time.Time       `json:"last"`
	Event json.RawMessage `json:"event"`
}

// AccessKey identifies what an event object asks for (eventstore.Key):
// two accesses with the same key are one.
func AccessKey(event []byte) (string, error) {
	key, _, err := accessOf(event)
	return key, err
}

// accessOf is AccessKey and the top-level profile the event is of.
func accessOf(event []byte) (key, profile string, err error) {
	line, err := eventstore.ToAuditd(event)
	if err != nil {
		return "", "", err
	}
	var ev auditlog.Event
	if err := auditlog.NewParser().Parse(line, &ev); err != nil {
		return "", "", err
	}
	if ev.Kind != auditlog.KindEvent {
		return "", "", errors.New("not an AppArmor event")
	}
	return eventstore.Key(&ev), eventstore.TopProfile(string(ev.Label())), nil
}

// Line is a's line in a published value, without its newline: compact
// JSON, without the HTML escapes of json.Marshal (a path with & or <
// keeps its length).
func (a Access) Line() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// EncodeAccesses is the value of one profile's key: one Access a line.
func EncodeAccesses(as []Access) (string, error) {
	var b strings.Builder
	for _, a := range as {
		line, err := a.Line()
		if err != nil {
			return "", err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// DecodeAccesses reads one profile's value; a line that does not decode
// is an error naming it.
func DecodeAccesses(value string) ([]Access, error) {
	var out []Access
	n := 0
	for line := range strings.Lines(value) {
		n++
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var a Access
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			return out, fmt.Errorf("line %d: %w", n, err)
		}
		if len(a.Event) == 0 || a.Count < 1 {
			return out, fmt.Errorf("line %d: no event, or a count below 1", n)
		}
		out = append(out, a)
	}
	return out, nil
}

// DroppedCounts reads DroppedAnnotation.
func DroppedCounts(cm *corev1.ConfigMap) map[string]int64 {
	m := map[string]int64{}
	if v := cm.Annotations[DroppedAnnotation]; v != "" {
		json.Unmarshal([]byte(v), &m) // a hand-edited value counts nothing
	}
	return m
}

// NodeEvents is what one node published for a profile.
type NodeEvents struct {
	Node      string    `json:"node"`
	Accesses  int       `json:"accesses"`
	Dropped   int64     `json:"dropped,omitempty"`
	Published time.Time `json:"published,omitzero"`
	Error     string    `json:"error,omitempty"` // its value could not be read
}

// FleetEvents is a profile's published accesses gathered from every node:
// each distinct access once, its count the sum over the nodes.
type FleetEvents struct {
	Profile  string
	Nodes    []NodeEvents // sorted by node
	Accesses []Access     // by first seen, then by key
}

// GatherEvents reads every node's published accesses of profile in
// namespace ns and merges them.
func GatherEvents(ctx context.Context, c *apiclient.Client, ns, profile string) (*FleetEvents, error) {
	f := &FleetEvents{Profile: profile}
	merged := map[string]*Access{}
	err := c.ConfigMaps(ctx, ns, EventsSelector, 20, func(cm *corev1.ConfigMap) error {
		node := cm.Annotations[NodeAnnotation]
		if node == "" {
			node = strings.TrimPrefix(cm.Name, eventsPrefix)
		}
		value, ok := cm.Data[profile]
		if !ok {
			return nil
		}
		ne := NodeEvents{Node: node, Dropped: DroppedCounts(cm)[profile]}
		if t, err := time.Parse(time.RFC3339, cm.Annotations[UpdatedAnnotation]); err == nil {
			ne.Published = t
		}
		as, err := DecodeAccesses(value)
		if err == nil {
			for _, a := range as {
				key, of, kerr := accessOf(a.Event)
				if kerr == nil && of != profile {
					// Not this profile's evidence, whoever wrote it there.
					kerr = fmt.Errorf("an event of profile %q, not %s or its children; that node's remaining accesses are not used", of, profile)
				}
				if kerr != nil {
					err = kerr
					break
				}
				ne.Accesses++
				m := merged[key]
				if m == nil {
					merged[key] = &a
					continue
				}
				m.Count += a.Count
				if a.First.Before(m.First) {
					m.First, m.Event = a.First, a.Event
				}
				if a.Last.After(m.Last) {
					m.Last = a.Last
				}
			}
		}
		if err != nil {
			ne.Error = fmt.Sprintf("%s/%s key %s: %v", ns, cm.Name, profile, err)
		}
		f.Nodes = append(f.Nodes, ne)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(f.Nodes, func(a, b NodeEvents) int { return cmp.Compare(a.Node, b.Node) })
	keys := slices.Sorted(maps.Keys(merged))
	slices.SortStableFunc(keys, func(a, b string) int { return merged[a].First.Compare(merged[b].First) })
	for _, k := range keys {
		f.Accesses = append(f.Accesses, *merged[k])
	}
	return f, nil
}

// AuditLog returns the merged accesses as auditd log lines, which every
// SOURCE reader of armorer reads (the k8s:NAME SOURCE).
func (f *FleetEvents) AuditLog() ([]byte, error) {
	var out bytes.Buffer
	for _, a := range f.Accesses {
		line, err := eventstore.ToAuditd(a.Event)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Profile, err)
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}
