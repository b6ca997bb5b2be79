package agent

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/internal/eventstore"
)

// saveEvery is how often kept events are merged into the event store.
const saveEvery = 5 * time.Second

// eventKeeper keeps the events of the agent's complain-mode profiles in
// the event store (StateDir/events/NAME.jsonl, deduplicated and capped),
// so the seed's workflow works on a node: complain, observe, then
// `armorer learn state:NAME` proposes the rules the pods needed.
type eventKeeper struct {
	store    *eventstore.Store
	complain *atomic.Pointer[map[string]bool] // owned profiles loaded in complain mode

	// publish, when set, also counts each kept event for the API
	// (--publish-events).
	publish *Publisher

	mu    sync.Mutex
	batch *eventstore.Batch
}

func newEventKeeper(a *Agent) *eventKeeper {
	return &eventKeeper{store: eventstore.New(a.cfg.StateDir), complain: &a.complain, batch: eventstore.NewBatch()}
}

// observe is monitor.Runner.OnEvent.
func (k *eventKeeper) observe(ev *source.Event) {
	set := k.complain.Load()
	if set == nil || len(*set) == 0 || !(*set)[eventstore.TopProfile(string(ev.Label()))] {
		return
	}
	k.mu.Lock()
	k.batch.Add(ev.Event, ev.Source, ev.Line())
	k.mu.Unlock()
	if k.publish != nil {
		k.publish.Observe(ev.Event, time.Now())
	}
}

// run saves the batch every saveEvery and once more when ctx ends.
func (k *eventKeeper) run(ctx context.Context, a *Agent) {
	t := time.NewTicker(saveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			k.save(a)
			return
		case <-t.C:
			k.save(a)
		}
	}
}

func (k *eventKeeper) save(a *Agent) {
	k.mu.Lock()
	b := k.batch
	k.batch = eventstore.NewBatch()
	k.mu.Unlock()
	if len(b.Profiles()) == 0 {
		return
	}
	saved, err := k.store.Save(b)
	if err != nil {
		a.log.Error("keep complain-mode events", "err", err)
	}
	for _, s := range saved {
		if s.Added > 0 {
			a.log.Debug("complain-mode events kept", "profile", s.Profile, "added", s.Added, "total", s.Total, "path", s.Path)
		}
	}
}
