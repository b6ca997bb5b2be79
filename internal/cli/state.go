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

// storedEvents resolves state:NAME for the event pipeline: the events
// kept for profile NAME in the state directory of the environment
// ($ARMORER_STATE_DIR or /var/lib/armorer), as an auditd-format log.
func storedEvents(name string) (io.Reader, error) {
	return storedEventsIn(HostPathsFromEnv().StateDir)(name)
}

// storedEventsIn is storedEvents for the state directory dir (a verb's
// --state-dir or --dir).
func storedEventsIn(dir string) func(name string) (io.Reader, error) {
	return func(name string) (io.Reader, error) {
		log, err := eventstore.New(dir).AuditLog(name)
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(log), nil
	}
}

// storeEvents keeps the events of a batch in the state directory dir and
// says so on w; failing to keep them is a warning, not a failure of the
// command that learned from them.
func storeEvents(w io.Writer, dir string, b *eventstore.Batch) {
	saved, err := eventstore.New(dir).Save(b)
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
