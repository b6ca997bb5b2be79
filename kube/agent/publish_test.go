package agent

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/kube"
)

// complainEvent is a complain-mode file event of profile for path, in
// auditd's format.
func complainEvent(t testing.TB, profile, path string, serial int) *auditlog.Event {
	t.Helper()
	line := fmt.Sprintf(`type=AVC msg=audit(1795600186.%03d:%d): apparmor="ALLOWED" operation="open" class="file" profile="%s" name="%s" pid=210 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`, serial%1000, serial, profile, path)
	var ev auditlog.Event
	if err := auditlog.NewParser().Parse([]byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	return ev.Clone()
}

// dataSize is a ConfigMap's size as the API server counts it.
func dataSize(data map[string]string) int {
	n := 0
	for k, v := range data {
		n += len(k) + len(v)
	}
	return n
}

// TestPublisherCounts: one line per distinct access, counted, children
// and hats under their top-level profile; Size is exactly the data's size.
func TestPublisherCounts(t *testing.T) {
	p := &Publisher{Node: "n1", Namespace: "ns"}
	now := time.Unix(1795600200, 0)
	for range 3 {
		p.Observe(complainEvent(t, "web", "/etc/a", 1), now)
	}
	p.Observe(complainEvent(t, "web//null-/bin/sh", "/etc/a", 2), now) // another subject: another access
	p.Observe(complainEvent(t, "api", "/etc/b&<c>", 3), now)
	cm, err := p.object()
	must(t, err)
	if got := dataSize(cm.Data); got != p.Size() {
		t.Errorf("Size %d, the object's data is %d bytes", p.Size(), got)
	}
	web, err := kube.DecodeAccesses(cm.Data["web"])
	must(t, err)
	if len(web) != 2 || web[0].Count != 3 || web[1].Count != 1 {
		t.Fatalf("web's accesses: %+v", web)
	}
	if !strings.Contains(cm.Data["api"], `/etc/b&<c>`) {
		t.Errorf("api's value escapes its path: %s", cm.Data["api"])
	}
	if cm.Name != "armorer-events-n1" || cm.Labels[kube.EventsLabel] != kube.EventsLabelValue || cm.Annotations[kube.NodeAnnotation] != "n1" {
		t.Errorf("object meta: %+v", cm.ObjectMeta)
	}
	p.Keep(func(name string) bool { return name == "web" })
	if cm, _ := p.object(); len(cm.Data) != 1 || dataSize(cm.Data) != p.Size() {
		t.Errorf("after Keep(web): %d keys, size %d, want 1 and %d", len(cm.Data), dataSize(cm.Data), p.Size())
	}
}

// TestPublisherBound: past MaxBytes the least frequent accesses go, the
// least recently seen first among equals, and are counted per profile;
// the frequent ones and the newest stay.
func TestPublisherBound(t *testing.T) {
	p := &Publisher{Node: "n1", MaxBytes: 4096}
	t0 := time.Unix(1795600200, 0)
	// Two frequent accesses, then many seen once.
	for range 5 {
		p.Observe(complainEvent(t, "web", "/etc/frequent", 1), t0)
		p.Observe(complainEvent(t, "api", "/etc/also-frequent", 2), t0)
	}
	for i := range 100 {
		p.Observe(complainEvent(t, "web", fmt.Sprintf("/var/once/%03d", i), 10+i), t0.Add(time.Duration(i)*time.Second))
	}
	cm, err := p.object()
	must(t, err)
	if size := dataSize(cm.Data); size > 4096 || size != p.Size() {
		t.Fatalf("data %d bytes (Size %d), bound 4096", size, p.Size())
	}
	web, _ := kube.DecodeAccesses(cm.Data["web"])
	if !strings.Contains(cm.Data["web"], "/etc/frequent") || !strings.Contains(cm.Data["api"], "/etc/also-frequent") {
		t.Errorf("a frequent access was dropped:\n%v", cm.Data)
	}
	if !strings.Contains(cm.Data["web"], "/var/once/099") {
		t.Errorf("the newest access was dropped")
	}
	if strings.Contains(cm.Data["web"], "/var/once/000") {
		t.Errorf("the oldest access seen once was kept")
	}
	kept := len(web) - 1
	if d := p.Dropped()["web"]; d != int64(100-kept) || d == 0 {
		t.Errorf("dropped %d of web, want %d (kept %d of 100)", d, 100-kept, kept)
	}
	if got := kube.DroppedCounts(cm)["web"]; got != p.Dropped()["web"] {
		t.Errorf("annotation says %d dropped, the publisher %d", got, p.Dropped()["web"])
	}
}

// TestPublisherObserveAllocs: counting an access seen before allocates
// nothing (the agent sees every complain-mode event).
func TestPublisherObserveAllocs(t *testing.T) {
	p := &Publisher{Node: "n1"}
	ev := complainEvent(t, "web", "/etc/a", 1)
	now := time.Unix(1795600200, 0)
	p.Observe(ev, now)
	if n := testing.AllocsPerRun(100, func() { p.Observe(ev, now) }); n > 0 {
		t.Errorf("Observe of a known access: %v allocations", n)
	}
}
