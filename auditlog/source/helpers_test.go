package source

import (
	"context"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/testenv"
)

// waitTime bounds every wait for a record in the live tests. It is a
// deadline, not an assertion: a passing test returns as soon as the record
// arrives.
const waitTime = 15 * time.Second

// needReal fails the test under CI, where every real component must be
// present, and skips it elsewhere.
func needReal(t testing.TB, format string, args ...any) {
	t.Helper()
	testenv.Missing(t, format, args...)
}

// runAll runs src to its end and returns what it delivered.
func runAll(t testing.TB, src Source) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	out := make(chan Record, 64)
	done := make(chan []Record)
	go func() {
		var recs []Record
		for r := range out {
			recs = append(recs, r)
		}
		done <- recs
	}()
	err := src.Run(ctx, out)
	close(out)
	recs := <-done
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st := src.Stats(); st.Dropped != 0 {
		t.Fatalf("stats %+v: records dropped", st)
	}
	return recs
}

// running is a source running in the background.
type running struct {
	t      testing.TB
	src    Source
	out    chan Record
	cancel context.CancelFunc
	done   chan error
}

// start runs src in the background until the test ends.
func start(t testing.TB, src Source, capacity int) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: t, src: src, out: make(chan Record, capacity), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx, r.out) }()
	t.Cleanup(func() { r.stop() })
	return r
}

// next waits for the next record.
func (r *running) next() Record {
	r.t.Helper()
	select {
	case rec := <-r.out:
		return rec
	case err := <-r.done:
		r.done <- err
		select { // records sent before Run returned
		case rec := <-r.out:
			return rec
		default:
		}
		r.t.Fatalf("source ended early: %v (stats %+v)", err, r.src.Stats())
	case <-time.After(waitTime):
		r.t.Fatalf("no record after %v (stats %+v)", waitTime, r.src.Stats())
	}
	return Record{}
}

// until returns the first record for which match is true, skipping others.
func (r *running) until(match func(Record) bool) Record {
	r.t.Helper()
	deadline := time.After(waitTime)
	for {
		select {
		case rec := <-r.out:
			if match(rec) {
				return rec
			}
		case err := <-r.done:
			r.done <- err
			for len(r.out) > 0 { // records sent before Run returned
				if rec := <-r.out; match(rec) {
					return rec
				}
			}
			r.t.Fatalf("source ended early: %v (stats %+v)", err, r.src.Stats())
		case <-deadline:
			r.t.Fatalf("no matching record after %v (stats %+v)", waitTime, r.src.Stats())
		}
	}
}

// stop cancels the source and waits until Run returns.
func (r *running) stop() error {
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(waitTime):
		r.t.Errorf("Run did not return %v after cancel", waitTime)
		return nil
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTime)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
