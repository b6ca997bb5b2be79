package policy_test

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/policy/aare"
)

// longPathProfile is a profile whose one file rule has a path of n bytes.
func longPathProfile(n int) []byte {
	var b bytes.Buffer
	b.WriteString("abi <abi/3.0>,\nprofile long {\n  /")
	for b.Len() < n {
		b.WriteString("abcdefg/")
	}
	b.WriteString("x rw,\n}\n")
	return b.Bytes()
}

// BenchmarkCheckLongPath: check is linear in the length of a path (issue
// 13, item 12: it was quadratic, 3–6 s for a 100 KB path).
func BenchmarkCheckLongPath(b *testing.B) {
	for _, n := range []int{10 << 10, 100 << 10, 1 << 20} {
		src := longPathProfile(n)
		b.Run(fmt.Sprintf("%dKB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				res := policy.CheckFile(policy.NewLoader(), "long", src, policy.CheckConfig{})
				if !res.Valid() {
					b.Fatal(res.Errors())
				}
			}
		})
	}
}

// BenchmarkCompileLongPath: compiling a long path's pattern (what lint's
// sensitive-path checks do for every file rule of armorer check) is linear:
// merging its literal bytes was quadratic (38 s for a 100 KB path).
func BenchmarkCompileLongPath(b *testing.B) {
	for _, n := range []int{10 << 10, 100 << 10} {
		path := longPath(n)
		b.Run(fmt.Sprintf("%dKB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(len(path)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := aare.Parse(path, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func longPath(n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString("/abcdefg")
	}
	return b.String()
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestCheckLinearInPathLength fails when checking, or parsing a pattern,
// allocates more than linearly in the length of a path: four times the
// path may cost at most eight times the memory (quadratic is sixteen).
func TestCheckLinearInPathLength(t *testing.T) {
	const n = 64 << 10
	for name, fn := range map[string]func(size int) func(){
		"CheckFile": func(size int) func() {
			src := longPathProfile(size)
			return func() { policy.CheckFile(policy.NewLoader(), "long", src, policy.CheckConfig{}) }
		},
		"aare.Parse": func(size int) func() {
			p := longPath(size)
			return func() { _, _ = aare.Parse(p, nil) }
		},
	} {
		small, large := allocated(fn(n)), allocated(fn(4*n))
		if small == 0 || large > 8*small {
			t.Errorf("%s: %d bytes for a %d KB path, %d bytes for %d KB: not linear", name, small, n>>10, large, 4*n>>10)
		}
	}
}
