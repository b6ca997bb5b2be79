package auditlog

// dedupSet remembers the keys of recent events: at least the last
// DedupWindow, at most twice as many. A key is a 64-bit hash of (node,
// epoch, serial, record type), so two different events are taken for one
// with probability about DedupWindow/2^64 per event; a Go map of full keys
// would avoid that at three times the cost per line.
//
// Two generations of open-addressing tables (linear probing): keys go into
// the current one; when it holds DedupWindow keys it becomes the previous
// one and the old previous one is cleared for reuse. Nothing is ever deleted
// one by one, and nothing is allocated after the first use.
type dedupSet struct {
	cur, prev []uint64 // 0 = empty
	n         int      // keys in cur
	// maxSerial is the highest serial ever added. The kernel's serials
	// grow, so most new events are above it and cannot have been seen:
	// they skip the lookups.
	maxSerial uint64
}

const dedupSlots = 2 * DedupWindow // a power of two: tables stay at most half full

// eventKey hashes the identity of an audit event.
func eventKey(ev *Event) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range ev.Node { // FNV-1a
		h = (h ^ uint64(c)) * 1099511628211
	}
	h = mix64(h ^ ev.Serial)
	h = mix64(h ^ uint64(ev.Time.Sec)<<10 ^ uint64(ev.Time.Msec))
	h = mix64(h ^ uint64(ev.Type))
	if h == 0 {
		h = 1
	}
	return h
}

// mix64 is the finaliser of MurmurHash3: every input bit affects every
// output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// probe returns k's slot in t, or the empty slot where it would go.
func probe(t []uint64, k uint64) (int, bool) {
	const mask = dedupSlots - 1
	for i := k & mask; ; i = (i + 1) & mask {
		switch t[i] {
		case k:
			return int(i), true
		case 0:
			return int(i), false
		}
	}
}

// seen reports whether k, the key of an event with this serial, is in the
// window, and adds it if not.
func (d *dedupSet) seen(k, serial uint64) bool {
	if d.cur == nil {
		d.cur, d.prev = make([]uint64, dedupSlots), make([]uint64, dedupSlots)
	}
	if serial > d.maxSerial {
		d.maxSerial = serial
	} else if _, ok := probe(d.cur, k); ok {
		return true
	} else if _, ok := probe(d.prev, k); ok {
		return true
	}
	if d.n == DedupWindow {
		d.cur, d.prev = d.prev, d.cur
		clear(d.cur)
		d.n = 0
	}
	i, _ := probe(d.cur, k)
	d.cur[i] = k
	d.n++
	return false
}

// len counts the keys held, for tests.
func (d *dedupSet) len() int {
	n := 0
	for _, t := range [][]uint64{d.cur, d.prev} {
		for _, s := range t {
			if s != 0 {
				n++
			}
		}
	}
	return n
}
