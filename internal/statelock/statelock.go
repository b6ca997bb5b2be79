// Package statelock serialises armorer processes that change the same
// state: an exclusive flock(2) on a file in armorer's state directory,
// held while the returned Lock is open. Two `learn --write` runs, an
// `enforce` and the node agent on one profile directory then read, merge
// and write one after the other instead of overwriting each other's work.
//
// flock is released by the kernel when the process dies, so a SIGKILLed
// writer never leaves a stale lock behind.
package statelock

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Lock is a held lock; Unlock releases it.
type Lock struct{ f *os.File }

// Unlock releases the lock. A nil Lock (no locking on this platform) is
// fine to unlock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	return l.f.Close() // closing the descriptor releases the flock
}

// poll is how often a waiting Acquire retries.
const poll = 20 * time.Millisecond

// Acquire takes the exclusive lock on file (creating it and its
// directory), waiting while another process holds it, until ctx ends.
// waiting, when not nil, is called once if the lock is busy, so the
// caller can say whom it waits for.
func Acquire(ctx context.Context, file string, waiting func()) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", file, err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", file, err)
	}
	for {
		busy, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", file, err)
		}
		if !busy {
			return &Lock{f: f}, nil
		}
		if waiting != nil {
			waiting()
			waiting = nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", file, ctx.Err())
		case <-time.After(poll):
		}
	}
}
