package agent

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/armorer-dev/armorer/kube/apiclient"
)

// NodeLabelKey is the label the agent keeps on its Node.
const NodeLabelKey = "armorer.dev/profiles"

// nodeLabelLen is how much of the loaded set's sha256 the label keeps: a
// label value holds at most 63 characters.
const nodeLabelLen = 32

// fieldManager names the agent in the objects it writes.
const fieldManager = "armorer-k8s-agent"

// NodeLabeler keeps NodeLabelKey on the agent's Node: the loaded
// set's hash while the agent is ready, no label while it is not, so a
// workload that selects the label never lands on a node without its
// profiles. It needs patch on nodes (the manifests' ClusterRole).
type NodeLabeler struct {
	Client *apiclient.Client
	Node   string

	last  *string // the value last written; nil: unknown
	error string  // the last error logged
}

// InClusterClient is the agent's API client: the pod's service account.
func InClusterClient() (*apiclient.Client, error) {
	c, err := apiclient.InCluster()
	if err != nil {
		return nil, err
	}
	c.UserAgent, c.FieldManager = fieldManager, fieldManager
	return c, nil
}

// Value is the label value for st ("" means no label).
func (l *NodeLabeler) Value(st Status) string {
	if !st.Ready {
		return ""
	}
	return st.LoadedSetHash[:nodeLabelLen]
}

// Update patches the Node when the label's value changes. A failure is
// retried on the next call.
func (l *NodeLabeler) Update(ctx context.Context, st Status) error {
	value := l.Value(st)
	if l.last != nil && *l.last == value {
		return nil
	}
	var v any // a JSON merge patch: null removes the label
	if value != "" {
		v = value
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{NodeLabelKey: v}}})
	if err != nil {
		return err
	}
	if err := l.Client.MergePatchNode(ctx, l.Node, patch); err != nil {
		return fmt.Errorf("label node %s: %w", l.Node, err)
	}
	l.last = &value
	return nil
}
