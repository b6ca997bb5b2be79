package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/monitor"
	"github.com/rogpeppe/go-internal/txtar"
)

// TestParseCgroup: every runtime × cgroup driver × cgroup version in
// testdata/cgroup.txtar gives the pod UID and container ID its want line
// says, and processes outside a workload container give none.
func TestParseCgroup(t *testing.T) {
	ar, err := txtar.ParseFile("testdata/cgroup.txtar")
	must(t, err)
	n := 0
	for _, f := range ar.Files {
		if f.Name == "README" {
			continue
		}
		n++
		t.Run(f.Name, func(t *testing.T) {
			first, _, _ := strings.Cut(string(f.Data), "\n")
			want, ok := strings.CutPrefix(first, "# want ")
			if !ok {
				t.Fatalf("no want line: %q", first)
			}
			ref, found := ParseCgroup(f.Data)
			got := "none"
			if found {
				got = fmt.Sprintf("uid=%s id=%s runtime=%s driver=%s version=%d", ref.PodUID, ref.ContainerID, ref.Runtime, ref.Driver, ref.Version)
			}
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
	if n < 16 {
		t.Errorf("only %d fixtures", n)
	}
}

func FuzzParseCgroup(f *testing.F) {
	ar, err := txtar.ParseFile("testdata/cgroup.txtar")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range ar.Files {
		f.Add(file.Data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, ok := ParseCgroup(data)
		if ok && (!isContainerID(ref.ContainerID) || !isPodUID(ref.PodUID)) {
			t.Errorf("accepted %+v", ref)
		}
	})
}

func TestWorkloadOf(t *testing.T) {
	for pod, want := range map[string]string{
		"web-7d4b9c8f6d-x2x9z":   "web",                  // Deployment
		"my-api-5f6c7b8d9-qwxzk": "my-api",               // Deployment, 9-char hash
		"fluentd-x7k2p":          "fluentd",              // DaemonSet
		"db-0":                   "db",                   // StatefulSet
		"cache-redis-12":         "cache-redis",          // StatefulSet
		"kube-apiserver-node1":   "kube-apiserver-node1", // static pod: its own workload
		"standalone":             "standalone",
		"backup-28391045-abcde":  "backup-28391045-abcde", // vowels: not a random suffix
		"":                       "",
	} {
		if got := WorkloadOf(pod); got != want {
			t.Errorf("WorkloadOf(%q) = %q, want %q", pod, got, want)
		}
	}
}

const (
	testUID = "6f2b1c3e-8a4d-4b7e-9c1f-2d3e4f5a6b7c"
	testCID = "3f9a2b7c4d1e8f605a9b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"
)

// fixtureRuntime writes /proc/PID/cgroup and the runtime's config for
// one container.
func fixtureRuntime(t *testing.T, root string, pid int, cgroup, configPath string, annotations map[string]string) {
	t.Helper()
	p := filepath.Join(root, "proc", fmt.Sprint(pid), "cgroup")
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(cgroup), 0o644))
	if configPath == "" {
		return
	}
	data, err := json.Marshal(map[string]any{"ociVersion": "1.0.2", "annotations": annotations})
	must(t, err)
	c := filepath.Join(root, configPath)
	must(t, os.MkdirAll(filepath.Dir(c), 0o755))
	must(t, os.WriteFile(c, data, 0o644))
}

// TestResolver: pod metadata from each runtime's OCI config (containerd's
// CRI annotations, CRI-O's, a runc bundle found through state.json).
func TestResolver(t *testing.T) {
	root := t.TempDir()
	sd := "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + strings.ReplaceAll(testUID, "-", "_") + ".slice/cri-containerd-" + testCID + ".scope\n"
	fixtureRuntime(t, root, 10, sd, "run/containerd/io.containerd.runtime.v2.task/k8s.io/"+testCID+"/config.json", map[string]string{
		"io.kubernetes.cri.sandbox-namespace": "shop", "io.kubernetes.cri.sandbox-name": "web-7d4b9c8f6d-x2x9z",
		"io.kubernetes.cri.container-name": "nginx", "io.kubernetes.cri.sandbox-uid": testUID,
	})
	crioID := strings.Repeat("ab", 32)
	fixtureRuntime(t, root, 20, "0::/kubepods/burstable/pod"+testUID+"/crio-"+crioID+"\n", "run/containers/storage/overlay-containers/"+crioID+"/userdata/config.json", map[string]string{
		"io.kubernetes.pod.namespace": "batch", "io.kubernetes.pod.name": "fluentd-x7k2p", "io.kubernetes.container.name": "fluentd", "io.kubernetes.pod.uid": testUID,
	})
	runcID := strings.Repeat("cd", 32)
	fixtureRuntime(t, root, 30, "0::/kubepods/besteffort/pod"+testUID+"/"+runcID+"\n", "srv/bundle/config.json", map[string]string{
		"io.kubernetes.cri.sandbox-namespace": "dev", "io.kubernetes.cri.sandbox-name": "db-0", "io.kubernetes.cri.container-name": "pg",
	})
	state := filepath.Join(root, "run/runc", runcID, "state.json")
	must(t, os.MkdirAll(filepath.Dir(state), 0o755))
	must(t, os.WriteFile(state, []byte(`{"id":"x","config":{"labels":["io.kubernetes.cri.container-name=pg","bundle=/srv/bundle"]}}`), 0o644))
	// Another pod's config under this container's ID: not trusted.
	liarID := strings.Repeat("ef", 32)
	fixtureRuntime(t, root, 40, "0::/kubepods/pod"+testUID+"/"+liarID+"\n", "run/containerd/io.containerd.runtime.v2.task/k8s.io/"+liarID+"/config.json", map[string]string{
		"io.kubernetes.cri.sandbox-namespace": "kube-system", "io.kubernetes.cri.sandbox-name": "x", "io.kubernetes.cri.sandbox-uid": "00000000-0000-0000-0000-000000000000",
	})
	fixtureRuntime(t, root, 50, "0::/system.slice/cron.service\n", "", nil)

	r := &Resolver{Proc: filepath.Join(root, "proc"), Root: root}
	for pid, want := range map[int64]string{
		10: "shop/web-7d4b9c8f6d-x2x9z/nginx workload=web runtime=containerd",
		20: "batch/fluentd-x7k2p/fluentd workload=fluentd runtime=cri-o",
		30: "dev/db-0/pg workload=db runtime=",
		40: "// workload= runtime=",
		50: "none",
		60: "none", // exited
	} {
		p, ok := r.Resolve(pid)
		got := "none"
		if ok {
			got = fmt.Sprintf("%s/%s/%s workload=%s runtime=%s", p.Namespace, p.Name, p.Container, p.Workload, p.Runtime)
			if p.PodUID != testUID {
				t.Errorf("pid %d: uid %s", pid, p.PodUID)
			}
		}
		if got != want {
			t.Errorf("pid %d: %s, want %s", pid, got, want)
		}
	}
}

// TestAttributor: labels carry namespace and workload, never the pod
// name or PID; runc's init is runtime noise; /denials keeps the details.
func TestAttributor(t *testing.T) {
	root := t.TempDir()
	sd := "0::/kubepods/besteffort/pod" + testUID + "/" + testCID + "\n"
	fixtureRuntime(t, root, 10, sd, "run/containerd/io.containerd.runtime.v2.task/k8s.io/"+testCID+"/config.json", map[string]string{
		"io.kubernetes.cri.sandbox-namespace": "shop", "io.kubernetes.cri.sandbox-name": "web-7d4b9c8f6d-x2x9z", "io.kubernetes.cri.container-name": "nginx",
	})
	fixtureRuntime(t, root, 11, sd, "", nil)
	a := &Attributor{Resolver: &Resolver{Proc: filepath.Join(root, "proc"), Root: root}, RecentSize: 2}
	m := monitor.New(monitor.Options{}, nil, nil)
	m.Registry().MustRegister(a)
	m.OnDenial = a.Observe
	for _, o := range []monitor.Observation{
		{Outcome: "DENIED", Operation: "open", Class: "file", Profile: "web", Name: "/etc/shadow", PID: 10, Comm: "nginx"},
		{Outcome: "DENIED", Operation: "open", Class: "file", Profile: "web", Name: "/etc/passwd", PID: 11, Comm: "nginx"},
		{Outcome: "DENIED", Operation: "exec", Class: "file", Profile: "web", Name: "/bin/sh", PID: 12, Comm: "runc:[2:INIT]"},
		{Outcome: "DENIED", Operation: "open", Class: "file", Profile: "web", Name: "/root/x", PID: 99, Comm: "gone"},
		{Outcome: "ALLOWED", Operation: "open", Class: "file", Profile: "web", Name: "/ok", PID: 10},
	} {
		m.Observe(o)
	}
	want := `
# HELP armorer_agent_pod_denials_total AppArmor denials attributed to pods, by namespace, workload (the pod's controller, from its name) and profile; namespace is empty for processes outside pods (or gone before they could be attributed).
# TYPE armorer_agent_pod_denials_total counter
armorer_agent_pod_denials_total{namespace="",profile="web",workload=""} 1
armorer_agent_pod_denials_total{namespace="shop",profile="web",workload="web"} 2
# HELP armorer_agent_runtime_denials_total Denials of the container runtime's own init (runc:[2:INIT] before the workload's exec), not counted against any workload.
# TYPE armorer_agent_runtime_denials_total counter
armorer_agent_runtime_denials_total 1
`
	if err := testutilGather(m, want); err != nil {
		t.Error(err)
	}
	rec := a.Recent()
	if len(rec) != 2 || rec[0].Name != "/root/x" || rec[0].Pod != nil || rec[1].Pod == nil || rec[1].Pod.Name != "web-7d4b9c8f6d-x2x9z" || rec[1].PID != 11 {
		t.Errorf("recent: %+v", rec)
	}
}

// TestEventKeeper: events of owned complain-mode profiles go to the event
// store (what `armorer learn state:NAME` reads) and, when publishing, to
// the publisher; others do not.
func TestEventKeeper(t *testing.T) {
	dir := t.TempDir()
	a := New(Config{StateDir: dir})
	a.complain.Store(&map[string]bool{"api": true})
	k := newEventKeeper(a)
	k.publish = &Publisher{Node: "n1"}
	p := auditlog.NewParser()
	for i, line := range []string{
		`type=AVC msg=audit(1795600186.001:101): apparmor="ALLOWED" operation="open" class="file" profile="api" name="/etc/hosts" pid=210 comm="api" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
		`type=AVC msg=audit(1795600186.002:102): apparmor="ALLOWED" operation="open" class="file" profile="api" name="/etc/hosts" pid=211 comm="api" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
		`type=AVC msg=audit(1795600186.003:103): apparmor="ALLOWED" operation="open" class="file" profile="api//child" name="/srv/x" pid=212 comm="api" requested_mask="w" denied_mask="w" fsuid=0 ouid=0`,
		`type=AVC msg=audit(1795600186.004:104): apparmor="DENIED" operation="open" class="file" profile="web" name="/etc/shadow" pid=213 comm="web" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
	} {
		var ev auditlog.Event
		must(t, p.Parse([]byte(line), &ev))
		k.observe(&source.Event{Event: &ev, Source: "kmsg:", Pos: source.Position{Seq: uint64(i + 1)}})
	}
	k.save(a)
	if n, err := k.store.Count("api"); err != nil || n != 2 {
		t.Errorf("api: %d events (%v), want 2 (one duplicate dropped, the child's kept)", n, err)
	}
	if _, err := os.Stat(k.store.Path("web")); err == nil {
		t.Errorf("an enforce-mode profile's events were kept")
	}
	cm, err := k.publish.object()
	must(t, err)
	if len(cm.Data) != 1 || strings.Count(cm.Data["api"], "\n") != 2 || !strings.Contains(cm.Data["api"], `"count":2`) {
		t.Errorf("published %v, want api's 2 distinct accesses, one seen twice", cm.Data)
	}
}
