package agent

import (
	"bufio"
	"bytes"
	"strings"
)

// ContainerRef is what a process's cgroup says about its container.
type ContainerRef struct {
	PodUID      string `json:"pod_uid"`      // with dashes, as the API writes it (static pods: 32 hex digits)
	ContainerID string `json:"container_id"` // 64 hex digits
	Runtime     string `json:"runtime"`      // containerd, cri-o, docker; "" when the path does not say
	Driver      string `json:"cgroup_driver"`
	Version     int    `json:"cgroup_version"` // 1 or 2
}

// ParseCgroup finds the pod and container of a process in the text of
// /proc/PID/cgroup, for the forms kubelet and the runtimes write:
//
//	systemd driver  …/kubepods-besteffort-pod<UID_WITH_UNDERSCORES>.slice/cri-containerd-<ID>.scope
//	                …/kubepods-burstable-pod<UID>.slice/crio-<ID>.scope   (CRI-O; conmon is crio-conmon-<ID>)
//	                …/kubepods-pod<UID>.slice/docker-<ID>.scope            (guaranteed QoS; dockershim)
//	cgroupfs driver …/kubepods/besteffort/pod<UID>/<ID>                    (containerd)
//	                …/kubepods/burstable/pod<UID>/crio-<ID>                (CRI-O)
//
// under cgroup v2 (one "0::PATH" line) or v1 (one line per hierarchy; the
// first that names a pod wins). Anything may come before kubepods (kind
// nests it under the node container's cgroup). ok is false for a process
// outside any pod, and for conmon (the runtime's monitor, not the workload).
func ParseCgroup(data []byte) (ref ContainerRef, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	lines := 0
	for sc.Scan() {
		line := sc.Text()
		lines++
		// hierarchy-ID:controllers:path; the path may contain ':'.
		i := strings.IndexByte(line, ':')
		if i < 0 {
			continue
		}
		j := strings.IndexByte(line[i+1:], ':')
		if j < 0 {
			continue
		}
		hier, path := line[:i], line[i+1+j+1:]
		if r, found := parseCgroupPath(path); found {
			r.Version = 1
			if hier == "0" && line[i+1:i+1+j] == "" {
				r.Version = 2
			}
			ref, ok = r, true
			break
		}
	}
	return ref, ok
}

// parseCgroupPath looks for a pod component followed by a container
// component: the outermost, which kubelet and the runtime made. Names
// below a container's cgroup are the workload's own (it may be able to
// write its cgroup tree), so a child named like another pod's container
// does not make its processes that pod's.
func parseCgroupPath(path string) (ContainerRef, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i < len(parts)-1; i++ {
		uid, driver, ok := podComponent(parts[i])
		if !ok {
			continue
		}
		id, runtime, ok := containerComponent(parts[i+1], driver)
		if !ok {
			return ContainerRef{}, false // the pod's own cgroup, or conmon
		}
		return ContainerRef{PodUID: uid, ContainerID: id, Runtime: runtime, Driver: driver}, true
	}
	return ContainerRef{}, false
}

// podComponent parses "pod<UID>" (cgroupfs) or
// "kubepods[-QOS]-pod<UID_>.slice" (systemd: dashes escaped as '_').
func podComponent(c string) (uid, driver string, ok bool) {
	if rest, found := strings.CutSuffix(c, ".slice"); found {
		i := strings.LastIndex(rest, "-pod")
		if i < 0 || !strings.Contains(rest[:i+1], "kubepods") { // kind: kubelet-kubepods-…
			return "", "", false
		}
		uid = strings.ReplaceAll(rest[i+len("-pod"):], "_", "-")
		driver = "systemd"
	} else if rest, found := strings.CutPrefix(c, "pod"); found {
		uid, driver = rest, "cgroupfs"
	} else {
		return "", "", false
	}
	if !isPodUID(uid) {
		return "", "", false
	}
	return uid, driver, true
}

// isPodUID accepts a UUID (8-4-4-4-12 hex) or the 32 hex digits kubelet
// gives static pods.
func isPodUID(s string) bool {
	switch len(s) {
	case 36:
		for i, c := range s {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if c != '-' {
					return false
				}
			} else if !isHex(byte(c)) {
				return false
			}
		}
		return true
	case 32:
		return isHexString(s)
	}
	return false
}

// containerComponent parses the container's cgroup under its pod's.
func containerComponent(c, driver string) (id, runtime string, ok bool) {
	if driver == "systemd" {
		rest, found := strings.CutSuffix(c, ".scope")
		if !found {
			return "", "", false
		}
		c = rest
	}
	for _, p := range []struct{ prefix, runtime string }{
		{"cri-containerd-", "containerd"},
		{"crio-conmon-", ""}, // conmon: not the workload
		{"crio-", "cri-o"},
		{"docker-", "docker"},
	} {
		if rest, found := strings.CutPrefix(c, p.prefix); found {
			if p.runtime == "" || !isContainerID(rest) {
				return "", "", false
			}
			return rest, p.runtime, true
		}
	}
	if driver == "cgroupfs" && isContainerID(c) {
		return c, "", true // containerd and docker write the bare ID
	}
	return "", "", false
}

func isContainerID(s string) bool { return len(s) == 64 && isHexString(s) }

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return s != ""
}

func isHex(b byte) bool { return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' }
