package atomicfile

import (
	"errors"
	"sync"
)

// ErrStopped is returned by writes that start after Stop.
var ErrStopped = errors.New("armorer is stopping: nothing was written")

// inFlight counts the writes in progress, so that a process stopping on
// a signal can wait for them instead of leaving a temporary file.
var inFlight struct {
	sync.Mutex
	done    sync.Cond
	writing int
	stopped bool
}

func init() { inFlight.done.L = &inFlight.Mutex }

func begin() error {
	inFlight.Lock()
	defer inFlight.Unlock()
	if inFlight.stopped {
		return ErrStopped
	}
	inFlight.writing++
	return nil
}

func end() {
	inFlight.Lock()
	inFlight.writing--
	inFlight.done.Broadcast()
	inFlight.Unlock()
}

// Stop makes every later write fail with ErrStopped and waits for the
// writes in progress to finish (rename or roll back), so a process that
// exits right after leaves every file either old or new, and no
// temporary file behind.
func Stop() {
	inFlight.Lock()
	defer inFlight.Unlock()
	inFlight.stopped = true
	for inFlight.writing > 0 {
		inFlight.done.Wait()
	}
}
