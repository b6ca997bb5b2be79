package agent

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// NodeLabelKey is the label the agent keeps on its Node.
const NodeLabelKey = "armorer.dev/profiles"

var nodes = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}

// nodeLabelLen is how much of the loaded set's sha256 the label keeps: a
// label value holds at most 63 characters.
const nodeLabelLen = 32

// NodeLabeler keeps NodeLabelKey on the agent's Node: the loaded
// set's hash while the agent is ready, no label while it is not, so a
// workload that selects the label never lands on a node without its
// profiles. It needs get and patch on nodes (the manifests' ClusterRole).
type NodeLabeler struct {
	// Client is a dynamic client: one merge patch needs no typed
	// clientset (which would link every API group into armorer).
	Client dynamic.Interface
	Node   string

	last  *string // the value last written; nil: unknown
	error string  // the last error logged
}

// InClusterNodeLabeler labels node through the pod's service account.
func InClusterNodeLabeler(node string) (*NodeLabeler, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("node label: %w", err)
	}
	cfg.UserAgent = "armorer-k8s-agent"
	cs, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("node label: %w", err)
	}
	return &NodeLabeler{Client: cs, Node: node}, nil
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
	if _, err := l.Client.Resource(nodes).Patch(ctx, l.Node, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "armorer-k8s-agent"}); err != nil {
		return fmt.Errorf("label node %s: %w", l.Node, err)
	}
	l.last = &value
	return nil
}
