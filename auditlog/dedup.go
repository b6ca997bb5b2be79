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
//
// The kernel's serials grow, so most new events are above every serial seen
// and cannot have been seen: they skip the lookups, and their keys wait in a
// ring, in order, until a lookup needs them in the tables. A log of one
// stream in order (most files) thus never touches the tables, whose random
// writes cost a cache miss per event.
type dedupSet struct {
	cur, prev []uint64 // 0 = empty
	n         int      // keys in cur
	// maxSerial is the highest serial ever added.
	maxSerial uint64
	// ring holds the keys added since the tables were last brought up to
	// date, the last DedupWindow of them: pending of them in all, at
	// ring[i%DedupWindow] for i < pending.
	ring    []uint64
	pending int
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
	if serial > d.maxSerial {
		d.maxSerial = serial
		if d.ring == nil {
			d.ring = make([]uint64, DedupWindow)
		}
		d.ring[d.pending%DedupWindow] = k
		d.pending++
		return false
	}
	d.catchUp()
	if _, ok := probe(d.cur, k); ok {
		return true
	} else if _, ok := probe(d.prev, k); ok {
		return true
	}
	d.insert(k)
	return false
}

// catchUp adds the keys waiting in the ring to the tables, in order: the
// tables then hold what they would hold had each key been added at once.
// When more keys came than the ring holds, those the ring lost are older
// than its DedupWindow, and so is everything in the tables: they start
// again from the ring's keys.
func (d *dedupSet) catchUp() {
	if d.cur == nil {
		d.cur, d.prev = make([]uint64, dedupSlots), make([]uint64, dedupSlots)
	}
	from := 0
	if d.pending > DedupWindow {
		clear(d.cur)
		clear(d.prev)
		d.n, from = 0, d.pending-DedupWindow
	}
	for i := from; i < d.pending; i++ {
		d.insert(d.ring[i%DedupWindow])
	}
	d.pending = 0
}

// insert adds k, which is in neither table, to the current one.
func (d *dedupSet) insert(k uint64) {
	if d.n == DedupWindow {
		d.cur, d.prev = d.prev, d.cur
		clear(d.cur)
		d.n = 0
	}
	i, _ := probe(d.cur, k)
	d.cur[i] = k
	d.n++
}

// len counts the keys held, for tests.
func (d *dedupSet) len() int {
	d.catchUp()
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
