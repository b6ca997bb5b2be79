package auditlog

// Stats counts what a stream held.
type Stats struct {
	Lines      uint64 // lines read (records, for journald export)
	Events     uint64 // AppArmor events delivered, duplicates not included
	Bad        uint64 // lines that looked like AppArmor records but could not be read
	Lost       uint64 // events the kernel reported as lost
	Duplicates uint64 // events seen a second time (printk copy and audit copy) and dropped
	Rejected   uint64 // AppArmor records neither the kernel nor auditd wrote (KindRejected): no evidence
}

// DedupWindow is how many recent (node, epoch, serial, type) keys a Stream
// remembers at least (and at most twice as many) to recognise an event
// delivered twice.
const DedupWindow = 8192

// Stream holds what must be remembered between the events of one stream:
// the window of recent event keys for removing duplicates, and the last
// audit_lost= reading. Feed it every parsed line with Add; use one per
// stream. Reader uses one; a live source read record by record uses its own
// with a Parser. A Stream is not safe for concurrent use.
type Stream struct {
	Stats Stats

	dedup dedupSet

	haveCounter bool
	lastCounter uint64
	justRead    bool   // an audit_lost= reading not yet matched by its notice
	unmatched   uint64 // notices counted since the last reading
}

// Add accounts for one parsed line and reports whether ev is an event to
// deliver: a KindEvent seen for the first time. Lost-event notices update
// Stats.Lost:
//   - "N callbacks suppressed" adds N;
//   - audit_lost= is the kernel's cumulative counter: a reading adds its
//     increase over the previous one (1 for the first, which the loss that
//     printed it caused; the counter value itself when it went down, after
//     a reboot), less the notices already counted since the last reading;
//   - "rate limit exceeded"/"backlog limit exceeded" follows its audit_lost=
//     reading in the kernel, and adds 1 only when no reading came before it.
func (s *Stream) Add(ev *Event) bool {
	switch ev.Kind {
	case KindLost:
		s.addLoss(ev)
		return false
	case KindRejected:
		s.Stats.Rejected++
		return false
	case KindEvent:
	default:
		return false
	}
	if ev.Serial != 0 && s.dedup.seen(eventKey(ev), ev.Serial) {
		s.Stats.Duplicates++
		return false
	}
	s.Stats.Events++
	return true
}

func (s *Stream) addLoss(ev *Event) {
	switch {
	case ev.HasLostCounter:
		var d uint64 = 1
		if s.haveCounter {
			if ev.LostCounter >= s.lastCounter {
				d = ev.LostCounter - s.lastCounter
			} else {
				d = ev.LostCounter
			}
		}
		if d > s.unmatched {
			s.Stats.Lost += d - s.unmatched
		}
		s.haveCounter, s.lastCounter, s.justRead, s.unmatched = true, ev.LostCounter, true, 0
	case ev.limitNotice:
		if s.justRead {
			s.justRead = false
			return
		}
		s.Stats.Lost += ev.Lost
		s.unmatched += ev.Lost
	default:
		s.Stats.Lost += ev.Lost
	}
}
