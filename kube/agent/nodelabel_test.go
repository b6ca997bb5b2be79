package agent

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestNodeLabeler: the label carries the loaded set's hash while ready,
// is removed when not, keeps the node's other labels, and is patched only
// on a change.
func TestNodeLabeler(t *testing.T) {
	node := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{"name": "n1", "labels": map[string]any{"kubernetes.io/os": "linux"}},
	}}
	cs := fake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{nodes: "NodeList"}, node)
	l := &NodeLabeler{Client: cs, Node: "n1"}
	ctx := context.Background()
	labels := func() map[string]string {
		n, err := cs.Resource(nodes).Get(ctx, "n1", metav1.GetOptions{})
		must(t, err)
		return n.GetLabels()
	}
	patches := func() int {
		n := 0
		for _, a := range cs.Actions() {
			if _, ok := a.(k8stesting.PatchAction); ok {
				n++
			}
		}
		return n
	}
	ready := Status{Ready: true, LoadedSetHash: Hash([]byte("web abc enforce\n"))}
	must(t, l.Update(ctx, ready))
	if got := labels()[NodeLabelKey]; got != ready.LoadedSetHash[:32] || labels()["kubernetes.io/os"] != "linux" {
		t.Errorf("labels when ready: %v", labels())
	}
	must(t, l.Update(ctx, ready))
	if n := patches(); n != 1 {
		t.Errorf("%d patches for an unchanged set, want 1", n)
	}
	must(t, l.Update(ctx, Status{Ready: false, LoadedSetHash: ready.LoadedSetHash}))
	if _, ok := labels()[NodeLabelKey]; ok || labels()["kubernetes.io/os"] != "linux" {
		t.Errorf("labels when not ready: %v", labels())
	}
	if err := (&NodeLabeler{Client: cs, Node: "missing"}).Update(ctx, ready); err == nil {
		t.Errorf("labelling a missing node succeeded")
	}
}
