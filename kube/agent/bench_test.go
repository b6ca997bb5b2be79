package agent

import (
	"fmt"
	"testing"
)

// BenchmarkParseCgroup: one /proc/PID/cgroup of a cgroup v1 node (13
// hierarchies), the longest form attribution reads per denial.
func BenchmarkParseCgroup(b *testing.B) {
	uid := "6f2b1c3e_8a4d_4b7e_9c1f_2d3e4f5a6b7c"
	path := "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid + ".slice/cri-containerd-" + testCID + ".scope"
	var data []byte
	for i := 12; i >= 1; i-- {
		data = fmt.Appendf(data, "%d:ctl%d:%s\n", i, i, path)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ParseCgroup(data); !ok {
			b.Fatal("not parsed")
		}
	}
}

// BenchmarkReconcileUnchanged: a resync of 50 loaded, unchanged profiles
// (no apparmor_parser run), on the fixture node.
func BenchmarkReconcileUnchanged(b *testing.B) {
	n := newNode(b)
	files := map[string]string{}
	for i := range 50 {
		name := fmt.Sprintf("p%02d", i)
		files[name] = profile(name, "", "  /srv/x/** r,\n")
	}
	atomicWrite(b, n.cm, files)
	a := New(n.config())
	if err := a.Reconcile(b.Context()); err != nil || !a.Status().Ready {
		b.Fatalf("%v %+v", err, a.Status())
	}
	b.ResetTimer()
	for b.Loop() {
		if err := a.Reconcile(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
