package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/armorer-dev/armorer/internal/eventstore"
)

// stateScheme names the event store as a SOURCE: state:NAME reads the
// events armorer learned from for profile NAME (learn and record keep
// them in the state directory).
const stateScheme = "state:"

// eventStore is the store in the state directory ($ARMORER_STATE_DIR or
// /var/lib/armorer).
func eventStore() *eventstore.Store {
	return eventstore.New(HostPathsFromEnv().StateDir)
}

// stateSource opens state:NAME as an auditd-format log; ok is false for
// any other spec.
func stateSource(spec string) (r io.Reader, ok bool, err error) {
	name, ok := strings.CutPrefix(spec, stateScheme)
	if !ok {
		return nil, false, nil
	}
	if name == "" {
		return nil, true, usageErrorf("%s needs a profile name: state:NAME", spec)
	}
	log, err := eventStore().AuditLog(name)
	if err != nil {
		return nil, true, &EnvError{Err: err}
	}
	return bytes.NewReader(log), true, nil
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
