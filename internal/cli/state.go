package cli

import (
	"bytes"
	"fmt"
	"io"

	"github.com/armorer-dev/armorer/auditlog/source"

	"github.com/armorer-dev/armorer/internal/eventstore"
)

// stateScheme names the event store as a SOURCE: state:NAME reads the
// events armorer learned from for profile NAME (learn and record keep
// them in the state directory).
const stateScheme = source.StateScheme

// eventStore is the store in the state directory ($ARMORER_STATE_DIR or
// /var/lib/armorer).
func eventStore() *eventstore.Store {
	return eventstore.New(HostPathsFromEnv().StateDir)
}

// storedEvents resolves state:NAME for the event pipeline: the events
// kept for profile NAME, as an auditd-format log.
func storedEvents(name string) (io.Reader, error) {
	log, err := eventStore().AuditLog(name)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(log), nil
}

// storeEvents keeps the events of a batch in the state directory and says
// so on w; failing to keep them is a warning, not a failure of the
// command that learned from them.
func storeEvents(w io.Writer, b *eventstore.Batch) {
	saved, err := eventStore().Save(b)
	for _, s := range saved {
		if s.Added == 0 {
			continue
		}
		fmt.Fprintf(w, "kept %d new events of %s in %s (%d in all)\n", s.Added, s.Profile, s.Path, s.Total)
		if s.Dropped > 0 {
			fmt.Fprintf(w, "armorer: warning: %s is full: dropped its %d oldest events\n", s.Path, s.Dropped)
		}
	}
	if err != nil {
		fmt.Fprintf(w, "armorer: warning: cannot keep the events for enforce's check: %v\n", err)
	}
}
