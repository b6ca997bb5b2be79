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
// benchmark corpus's live heap peaks near 105 MiB), and without it the
// heap goal (twice the live heap) and the free pages the runtime keeps
// push a 1M-line run past 256 MiB (BENCHMARKS.md, issue 14 §4). A 1M-line
// run's peak RSS is the limit and about 10 MiB (234-237 MiB); the room
// above the live heap is what the collector runs less often for (the 1M
// corpus: 13 collections at 192 MiB and GOGC=200, 9 here).
const learnMemoryFloor = 224 << 20

// summaryMemoryFloor is the soft memory limit of events --summary (not
// followed): the 1M-line benchmark corpus's counts are a live heap near
// 30 MiB.
const summaryMemoryFloor = 128 << 20

// learnGCPercent is the GOGC of a learn run under its memory limit.
const learnGCPercent = 400

// limitMemory sets a soft memory limit of floor bytes for a long
// computation, raised after each collection to twice the live heap when
// that is more: a small heap is collected a little earlier and its free
// pages are returned, a large one (a longer log) as without a limit,
// never against a limit it cannot meet. Under the limit the heap may grow
// to five times the live heap (GOGC=400) between collections: the limit
// bounds it, and a small heap is then collected less often (the 1M
// corpus at GOGC=200: 5.06 s → 4.79 s CPU, the same peak RSS). It does nothing when
// GOMEMLIMIT is set, and leaves GOGC's setting alone when that is set.
// The returned function restores the previous settings.
func limitMemory(floor int64) (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prevPercent := -2 // unchanged
	if os.Getenv("GOGC") == "" {
		prevPercent = debug.SetGCPercent(learnGCPercent)
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
		if prevPercent != -2 {
			debug.SetGCPercent(prevPercent)
		}
	}
}

// gcCycle is garbage as soon as it is made: its finalizer runs after the
// next collection (it holds a pointer, so that it is not batched with
// other tiny objects, which would delay that).
type gcCycle struct{ _ *byte }
