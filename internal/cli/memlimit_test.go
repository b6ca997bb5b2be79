package cli

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimitMemory(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	prev := debug.SetMemoryLimit(-1)
	prevPercent := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prevPercent)
	const floor = 8 << 20
	restore := limitMemory(floor)
	if got := debug.SetMemoryLimit(-1); got != floor {
		restore()
		t.Fatalf("limit %d, want the floor %d", got, floor)
	}
	if got := debug.SetGCPercent(learnGCPercent); got != learnGCPercent {
		t.Errorf("GOGC %d under the limit, want %d", got, learnGCPercent)
	}
	// A live heap above half the floor raises the limit to twice it after
	// a collection, so that the collector never works against it.
	live := make([]byte, 32<<20)
	for i := range live {
		live[i] = byte(i)
	}
	raised := false
	for range 100 {
		runtime.GC()
		if debug.SetMemoryLimit(-1) >= 2*int64(len(live)) {
			raised = true
			break
		}
		time.Sleep(10 * time.Millisecond) // the finalizer runs after the cycle
	}
	runtime.KeepAlive(live)
	restore()
	if !raised {
		t.Errorf("limit %d after collections with %d bytes live, want at least twice that", debug.SetMemoryLimit(-1), len(live))
	}
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("restored limit %d, want %d", got, prev)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("restored GOGC %d, want 100", got)
	}
}

func TestLimitMemoryRespectsGOGC(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "50")
	prevPercent := debug.SetGCPercent(50)
	defer debug.SetGCPercent(prevPercent)
	restore := limitMemory(8 << 20)
	got := debug.SetGCPercent(50)
	restore()
	if got != 50 {
		t.Errorf("GOGC %d with GOGC set, want it left at 50", got)
	}
}

func TestLimitMemoryRespectsGOMEMLIMIT(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	prev := debug.SetMemoryLimit(-1)
	restore := limitMemory(8 << 20)
	got := debug.SetMemoryLimit(-1)
	restore()
	if got != prev {
		t.Errorf("limit %d with GOMEMLIMIT set, want it left at %d", got, prev)
	}
}
