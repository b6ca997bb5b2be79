package agent

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// settle is how long the watcher waits after an event for the rest of a
// change (a plain directory written file by file) before it reconciles.
const settle = 200 * time.Millisecond

// Run reconciles at once, then on every swap of the volume's ..data link
// and every Resync, until ctx ends; a reconcile that failed, or left a
// profile failed for a reason other than its content, is retried with
// exponential backoff (1 s up to Resync). It returns ctx's error.
func (a *Agent) Run(ctx context.Context) error {
	trigger := make(chan struct{}, 1)
	go a.watch(ctx, trigger)
	backoff := time.Second
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-trigger:
		case <-timer.C:
		}
		err := a.Reconcile(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if a.afterReconcile != nil {
			a.afterReconcile(ctx, a.Status())
		}
		next := a.cfg.Resync
		if err != nil || a.retryWanted() {
			next, backoff = backoff, min(2*backoff, a.cfg.Resync)
			if err != nil {
				a.log.Error("reconcile failed; retrying", "err", err, "in", next)
			}
		} else {
			backoff = time.Second
		}
		timer.Reset(next)
	}
}

// retryWanted reports a profile that failed for a reason other than its
// content (a kernel rejection, a parser that could not run).
func (a *Agent) retryWanted() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.status.Profiles {
		if p.State == StateFailed {
			return true
		}
	}
	return false
}

// watch sends on trigger when the volume changes: in a ConfigMap volume
// only the ..data swap counts (kubelet's atomic writer renames ..data
// last, after the new version is complete); in a plain directory, any
// change. It re-adds the watch if the directory is not there yet.
func (a *Agent) watch(ctx context.Context, trigger chan<- struct{}) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		a.log.Warn("no fsnotify; relying on the periodic resync", "err", err)
		return
	}
	defer w.Close()
	dir := a.cfg.ProfilesDir
	for {
		if err := w.Add(dir); err == nil {
			break
		} else {
			a.log.Warn("cannot watch the profiles volume yet", "dir", dir, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
	fire := func() {
		select {
		case trigger <- struct{}{}:
		default: // a reconcile is already due: it reads the latest state
		}
	}
	var pending <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if a.counts(ev) {
				pending = time.After(settle)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			a.log.Warn("fsnotify error; the resync catches up", "err", err)
			fire()
		case <-pending:
			pending = nil
			fire()
		}
	}
}

// counts tells whether an event is a change to react to.
func (a *Agent) counts(ev fsnotify.Event) bool {
	if filepath.Base(ev.Name) == dataLink {
		return ev.Has(fsnotify.Create) || ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Remove)
	}
	if _, err := os.Lstat(filepath.Join(a.cfg.ProfilesDir, dataLink)); err == nil {
		return false // a ConfigMap volume: its other entries change before the swap
	}
	return true
}
