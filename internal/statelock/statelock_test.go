package statelock

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// A read-modify-write of a counter file under the lock by many goroutines
// (each its own open file description, as separate processes have) loses
// no increment.
func TestAcquireSerialises(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "state", "x.lock")
	counter := filepath.Join(dir, "counter")
	os.WriteFile(counter, []byte("0"), 0o644)
	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			l, err := Acquire(context.Background(), lock, nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer l.Unlock()
			b, _ := os.ReadFile(counter)
			v, _ := strconv.Atoi(string(b))
			time.Sleep(time.Millisecond)
			os.WriteFile(counter, []byte(strconv.Itoa(v+1)), 0o644)
		})
	}
	wg.Wait()
	b, _ := os.ReadFile(counter)
	if string(b) != strconv.Itoa(n) {
		t.Fatalf("counter = %s after %d locked increments", b, n)
	}
}

// A waiter gives up when its context ends, and is told the lock is busy.
func TestAcquireWaitsUntilContext(t *testing.T) {
	lock := filepath.Join(t.TempDir(), "x.lock")
	held, err := Acquire(context.Background(), lock, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	told := false
	if _, err := Acquire(ctx, lock, func() { told = true }); err == nil {
		t.Fatal("second Acquire succeeded while the lock is held")
	}
	if !told {
		t.Error("waiting callback not called")
	}
	held.Unlock()
	l, err := Acquire(context.Background(), lock, nil)
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	l.Unlock()
}
