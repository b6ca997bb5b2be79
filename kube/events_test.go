package kube

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/kube/apiclient"
)

func access(t *testing.T, path string, count int64, first time.Time) Access {
	t.Helper()
	line := `type=AVC msg=audit(1795600186.001:7): apparmor="ALLOWED" operation="open" class="file" profile="web" name="` + path + `" pid=1 comm="web" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`
	var ev auditlog.Event
	if err := auditlog.NewParser().Parse([]byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	return Access{Count: count, First: first, Last: first, Event: ev.AppendJSON(nil, "", 0)}
}

// TestGatherEvents: the nodes' accesses of one profile merge into one
// each, counts summed, the earliest first; an unreadable value is
// reported for its node, not fatal; other profiles are not read.
func TestGatherEvents(t *testing.T) {
	t0 := time.Unix(1795600000, 0).UTC()
	enc := func(as ...Access) string {
		v, err := EncodeAccesses(as)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cms := []corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: EventsConfigMapName("b"), Annotations: map[string]string{NodeAnnotation: "b", DroppedAnnotation: `{"web":4}`}},
			Data: map[string]string{"web": enc(access(t, "/shared", 2, t0.Add(time.Minute)), access(t, "/only-b", 1, t0.Add(2*time.Minute)))}},
		{ObjectMeta: metav1.ObjectMeta{Name: EventsConfigMapName("a"), Annotations: map[string]string{NodeAnnotation: "a"}},
			Data: map[string]string{"web": enc(access(t, "/shared", 3, t0)), "api": enc(access(t, "/api", 1, t0))}},
		{ObjectMeta: metav1.ObjectMeta{Name: EventsConfigMapName("c")}, Data: map[string]string{"web": "not json\n"}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/namespaces/ns/configmaps" || r.URL.Query().Get("labelSelector") != EventsSelector {
			t.Errorf("request %s", r.URL)
		}
		json.NewEncoder(w).Encode(corev1.ConfigMapList{Items: cms})
	}))
	defer srv.Close()
	f, err := GatherEvents(context.Background(), &apiclient.Client{Server: srv.URL, HTTP: srv.Client()}, "ns", "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Accesses) != 2 || f.Accesses[0].Count != 5 || !f.Accesses[0].First.Equal(t0) || f.Accesses[1].Count != 1 {
		t.Errorf("accesses %+v", f.Accesses)
	}
	if len(f.Nodes) != 3 || f.Nodes[0].Node != "a" || f.Nodes[1].Dropped != 4 || f.Nodes[2].Node != "c" || f.Nodes[2].Error == "" {
		t.Errorf("nodes %+v", f.Nodes)
	}
	log, err := f.AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(log)), "\n"); len(lines) != 2 || !strings.Contains(lines[0], `name="/shared"`) || !strings.HasPrefix(lines[0], "type=AVC msg=audit(") {
		t.Errorf("audit log:\n%s", log)
	}
}

// An access published under one profile's key whose event is another
// profile's is not that profile's evidence: learn k8s:web would otherwise
// write rules into the other profile. It is reported for its node.
func TestGatherEventsRefusesOtherProfiles(t *testing.T) {
	t0 := time.Unix(1795600000, 0).UTC()
	line := `type=AVC msg=audit(1795600186.001:7): apparmor="ALLOWED" operation="open" class="file" profile="sshd" name="/etc/shadow" pid=1 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`
	var ev auditlog.Event
	if err := auditlog.NewParser().Parse([]byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	child := access(t, "/child", 1, t0)
	child.Event = []byte(strings.Replace(string(child.Event), `"profile":"web"`, `"profile":"web//helper"`, 1))
	v, err := EncodeAccesses([]Access{access(t, "/ok", 1, t0), child, {Count: 1, First: t0, Last: t0, Event: ev.AppendJSON(nil, "", 0)}})
	if err != nil {
		t.Fatal(err)
	}
	cms := []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: EventsConfigMapName("a")}, Data: map[string]string{"web": v}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(corev1.ConfigMapList{Items: cms})
	}))
	defer srv.Close()
	f, err := GatherEvents(context.Background(), &apiclient.Client{Server: srv.URL, HTTP: srv.Client()}, "ns", "web")
	if err != nil {
		t.Fatal(err)
	}
	log, _ := f.AuditLog()
	if strings.Contains(string(log), "shadow") || len(f.Accesses) != 2 {
		t.Errorf("another profile's event was gathered for web:\n%s", log)
	}
	if len(f.Nodes) != 1 || !strings.Contains(f.Nodes[0].Error, "sshd") {
		t.Errorf("nodes %+v, want node a's error naming sshd", f.Nodes)
	}
}
