package agent

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Pod is who a process belongs to.
type Pod struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"pod,omitempty"`
	Container string `json:"container,omitempty"`
	// Workload is the pod's controller as its name shows it (a
	// Deployment's pods are NAME-HASH-XXXXX): bounded, for metric labels.
	Workload string `json:"workload,omitempty"`
	ContainerRef
}

// Resolver attributes PIDs to pods without the API server: the PID's
// cgroup (/proc/PID/cgroup) names the pod UID and the container ID, and
// the container's OCI config.json, which the CRI runtime writes in its
// state directory, carries the pod's namespace, name and container name
// as annotations. A node agent reads both with hostPID and the runtime's
// state directory mounted read-only; it needs no RBAC.
type Resolver struct {
	Proc string // procfs; default /proc
	// Root prefixes the runtimes' state directories (the host's / mounted
	// elsewhere); default "/".
	Root string

	mu    sync.Mutex
	cache map[string]Pod // container ID → metadata
}

// Where CRI runtimes keep each container's OCI config.json, and where
// runc's state (whose labels name the bundle) lives.
var (
	ociConfigs = []string{
		"run/containerd/io.containerd.runtime.v2.task/k8s.io/%s/config.json", // containerd (CRI)
		"run/containers/storage/overlay-containers/%s/userdata/config.json",  // CRI-O
	}
	runcRoots = []string{"run/containerd/runc/k8s.io", "run/runc", "run/crio/runc"}
)

// Resolve attributes pid. ok is false when the process is gone or not in
// a container; a container whose config cannot be found still gets its
// pod UID and container ID.
func (r *Resolver) Resolve(pid int64) (Pod, bool) {
	proc := r.Proc
	if proc == "" {
		proc = "/proc"
	}
	data, err := readSmall(filepath.Join(proc, strconv.FormatInt(pid, 10), "cgroup"))
	if err != nil {
		return Pod{}, false
	}
	ref, ok := ParseCgroup(data)
	if !ok {
		return Pod{}, false
	}
	r.mu.Lock()
	p, hit := r.cache[ref.ContainerID]
	r.mu.Unlock()
	if hit {
		return p, true
	}
	p = r.metadata(ref)
	r.mu.Lock()
	if r.cache == nil || len(r.cache) >= 4096 {
		r.cache = map[string]Pod{} // bounded: containers come and go
	}
	r.cache[ref.ContainerID] = p
	r.mu.Unlock()
	return p, true
}

func (r *Resolver) metadata(ref ContainerRef) Pod {
	p := Pod{ContainerRef: ref}
	ann := r.annotations(ref.ContainerID)
	pick := func(keys ...string) string {
		for _, k := range keys {
			if v := ann[k]; v != "" {
				return v
			}
		}
		return ""
	}
	p.Namespace = pick("io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace")
	p.Name = pick("io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name")
	p.Container = pick("io.kubernetes.cri.container-name", "io.kubernetes.container.name")
	if uid := pick("io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"); uid != "" && uid != ref.PodUID {
		// The config belongs to another pod: trust the cgroup, not it.
		p.Namespace, p.Name, p.Container = "", "", ""
	}
	p.Workload = WorkloadOf(p.Name)
	return p
}

// annotations reads the container's OCI annotations from the first
// runtime state directory that has its config.json.
func (r *Resolver) annotations(id string) map[string]string {
	root := r.Root
	if root == "" {
		root = "/"
	}
	var configs []string
	for _, f := range ociConfigs {
		configs = append(configs, filepath.Join(root, strings.Replace(f, "%s", id, 1)))
	}
	for _, rr := range runcRoots {
		if bundle := runcBundle(filepath.Join(root, rr, id, "state.json")); bundle != "" {
			configs = append(configs, filepath.Join(root, bundle, "config.json"))
		}
	}
	for _, c := range configs {
		data, err := readSmall(c)
		if err != nil {
			continue
		}
		var spec struct {
			Annotations map[string]string `json:"annotations"`
		}
		if json.Unmarshal(data, &spec) == nil {
			return spec.Annotations
		}
	}
	return nil
}

// runcBundle reads the bundle directory from runc's state.json (runc
// stores it as the label "bundle=DIR").
func runcBundle(state string) string {
	data, err := readSmall(state)
	if err != nil {
		return ""
	}
	var st struct {
		Config struct {
			Labels []string `json:"labels"`
		} `json:"config"`
	}
	if json.Unmarshal(data, &st) != nil {
		return ""
	}
	for _, l := range st.Config.Labels {
		if b, ok := strings.CutPrefix(l, "bundle="); ok && filepath.IsAbs(b) {
			return b
		}
	}
	return ""
}

// readSmall reads at most 4 MiB of a file (configs and /proc files).
func readSmall(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4<<20+1))
	if len(data) > 4<<20 {
		return nil, errors.New(name + ": too large")
	}
	return data, err
}

// WorkloadOf guesses a pod's workload from its name, the way the
// controllers build names: a Deployment's pod is NAME-<pod-template-hash>
// -<5 random>, a DaemonSet's or Job's NAME-<5 random>, a StatefulSet's
// NAME-<ordinal>. A name that fits none of these is its own workload.
func WorkloadOf(pod string) string {
	if pod == "" {
		return ""
	}
	parts := strings.Split(pod, "-")
	if len(parts) < 2 {
		return pod
	}
	last := parts[len(parts)-1]
	switch {
	case len(last) == 5 && isRandSuffix(last):
		parts = parts[:len(parts)-1]
		if n := len(parts); n >= 2 && len(parts[n-1]) >= 6 && len(parts[n-1]) <= 10 && isRandSuffix(parts[n-1]) {
			parts = parts[:n-1] // the ReplicaSet's pod-template-hash
		}
	case isDigits(last):
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, "-")
}

// isRandSuffix: the alphabet of k8s.io/apimachinery's rand.String
// (no vowels, no 0, 1 or 3) and of pod-template hashes.
func isRandSuffix(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", rune(s[i])) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
