package agent

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/armorer-dev/armorer/kube/apiclient"
)

// TestNodeLabeler: the label carries the loaded set's hash while ready,
// is removed (null in the merge patch) when not, and is patched only on a
// change. test/kubeapi runs it against a real API server.
func TestNodeLabeler(t *testing.T) {
	var patches []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPatch || r.URL.Path != "/api/v1/nodes/n1" || r.Header.Get("Content-Type") != "application/merge-patch+json" {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
			return
		}
		var p map[string]any
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Error(err)
		}
		patches = append(patches, p)
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	c := &apiclient.Client{Server: srv.URL, HTTP: srv.Client()}
	l := &NodeLabeler{Client: c, Node: "n1"}
	ctx := context.Background()
	label := func(i int) (any, bool) {
		v, ok := patches[i]["metadata"].(map[string]any)["labels"].(map[string]any)[NodeLabelKey]
		return v, ok
	}
	ready := Status{Ready: true, LoadedSetHash: Hash([]byte("web abc enforce\n"))}
	must(t, l.Update(ctx, ready))
	must(t, l.Update(ctx, ready))
	if len(patches) != 1 {
		t.Fatalf("%d patches for an unchanged set, want 1", len(patches))
	}
	if v, _ := label(0); v != ready.LoadedSetHash[:32] {
		t.Errorf("label when ready: %v", v)
	}
	must(t, l.Update(ctx, Status{Ready: false, LoadedSetHash: ready.LoadedSetHash}))
	if v, ok := label(1); !ok || v != nil {
		t.Errorf("label when not ready: %v, %v; want null (removed)", v, ok)
	}
	err := (&NodeLabeler{Client: c, Node: "missing"}).Update(ctx, ready)
	if !apiclient.IsNotFound(err) {
		t.Errorf("labelling a missing node: %v, want NotFound", err)
	}
}
