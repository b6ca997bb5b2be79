package cli

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// learnMemoryFloor is the soft memory limit of a learn run: a log's
// accesses and one profile's work at a time fit in it (the 1M-line
// benchmark corpus's live heap peaks near 110 MiB), and without it the
// heap goal (twice the live heap) and the free pages the runtime keeps
// push a 1M-line run past 256 MiB (BENCHMARKS.md, issue 14 §4).
const learnMemoryFloor = 192 << 20

// limitMemory sets a soft memory limit of floor bytes for a long
// computation, raised after each collection to twice the live heap when
// that is more: a small heap is collected a little earlier and its free
// pages are returned, a large one (a longer log) as without a limit,
// never against a limit it cannot meet. It does nothing when GOMEMLIMIT
// is set. The returned function restores the previous limit.
func limitMemory(floor int64) (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(floor)
	var done atomic.Bool
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var after func(*gcCycle)
	after = func(*gcCycle) {
		if done.Load() {
			return
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(max(floor, 2*int64(sample[0].Value.Uint64())))
		}
		runtime.SetFinalizer(&gcCycle{}, after)
	}
	runtime.SetFinalizer(&gcCycle{}, after)
	return func() {
		done.Store(true)
		debug.SetMemoryLimit(prev)
	}
}

// gcCycle is garbage as soon as it is made: its finalizer runs after the
// next collection (it holds a pointer, so that it is not batched with
// other tiny objects, which would delay that).
type gcCycle struct{ _ *byte }
