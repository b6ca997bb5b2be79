package learn

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// millionEvents builds about 1M kernel log lines from the bundled real
// log: the same accesses repeated with different pids, serials and
// upload file names, as a long-running service would log them.
func millionEvents(tb testing.TB) []byte {
	src, err := os.ReadFile("../examples/myapp/audit.log")
	if err != nil {
		tb.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(src), []byte("\n"))
	var out bytes.Buffer
	out.Grow(1 << 28)
	n := 0
	for i := 0; n < 1_000_000; i++ {
		for _, l := range lines {
			n++
			// A distinct audit(TIME:SERIAL) per line: the reader drops
			// repeated serials as duplicates.
			if i, j := bytes.Index(l, []byte("audit(")), bytes.IndexByte(l, ')'); i >= 0 && j > i {
				l = append(append(append([]byte{}, l[:i]...), fmt.Sprintf("audit(%d.%03d:%d", 1795600335+n/1000, n%1000, n)...), l[j:]...)
			}
			l = bytes.ReplaceAll(l, []byte("pid=1"), []byte("pid="+strconv.Itoa(2+i%30000)))
			l = bytes.ReplaceAll(l, []byte("/proc/1"), []byte("/proc/"+strconv.Itoa(2+i%30000)))
			l = bytes.ReplaceAll(l, []byte("myapp-upload-"), []byte("myapp-upload-"+strconv.Itoa(i)))
			out.Write(l)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// BenchmarkLearn1M: 1M events from log text to the printed profile, on
// the path `armorer learn` takes (parse, map, learn, generalise, choose
// abstractions against the bundled tree, merge, print). Run with -cpu 1.
func BenchmarkLearn1M(b *testing.B) {
	data := millionEvents(b)
	n := bytes.Count(data, []byte("\n"))
	pol, err := host.LoadProfileSet(bundled)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		l := New(WithProfiles(Options{}, pol, nil, nil))
		r := auditlog.NewReader(bytes.NewReader(data), auditlog.ReaderOptions{Name: "audit.log"})
		var a Access
		var m Mapper
		for r.Next() {
			if m.Map(r.Event(), "audit.log", r.Line(), &a) {
				l.Add(&a)
			}
		}
		ps, err := l.Result()
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		for _, p := range ps {
			pf := ProfileFile{Name: p.Name, Abstractions: p.Abstractions}
			for _, r := range p.Rules {
				pf.Rules = append(pf.Rules, r.Explained())
			}
			policy.Format(&out, nil, pf.File())
		}
		if out.Len() == 0 {
			b.Fatal("no profile")
		}
	}
	b.ReportMetric(float64(n), "events/op")
}

// distinctPathAccesses: n reads of distinct files in a few hundred
// directories, as a data service logs them.
func distinctPathAccesses(n int) []*Access {
	out := make([]*Access, n)
	for i := range out {
		out[i] = &Access{Profile: "myapp", Class: ClassFile, Operation: "open",
			Path: fmt.Sprintf("/srv/data/d%d/file%d.dat", i%397, i), Perms: aare.PermRead, Owner: true}
	}
	return out
}

// BenchmarkLearnDistinctPaths: learn --glob none of n distinct paths into
// the bundled tree's existing profile (learn, then merge next to the most
// similar rule): every path is its own rule, so the work must grow
// n log n, not n² (issue 13 item 12).
func BenchmarkLearnDistinctPaths(b *testing.B) {
	for _, n := range []int{20_000, 200_000} {
		b.Run(strconv.Itoa(n/1000)+"k", func(b *testing.B) {
			accesses := distinctPathAccesses(n)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				pol, err := host.LoadProfileSet(bundled)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				l := New(WithProfiles(Options{Glob: GlobNone}, pol, nil, nil))
				for _, a := range accesses {
					l.Add(a)
				}
				ps, err := l.Result()
				if err != nil {
					b.Fatal(err)
				}
				cs, err := Merge(pol, ps, MergeOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if len(cs) != 1 || bytes.Count(cs[0].New, []byte("\n")) < n {
					b.Fatalf("%d changes, want one with %d rules", len(cs), n)
				}
			}
			b.ReportMetric(float64(n), "paths/op")
		})
	}
}
