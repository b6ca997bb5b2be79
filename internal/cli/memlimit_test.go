package cli

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimitMemory(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetMemoryLimit(-1)
	const floor = 8 << 20
	restore := limitMemory(floor)
	if got := debug.SetMemoryLimit(-1); got != floor {
		restore()
		t.Fatalf("limit %d, want the floor %d", got, floor)
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
