package auditlog

// dedupSet remembers the keys of the last DedupWindow events. A key is a
// 64-bit hash of (node, epoch, serial, record type): two different events
// are taken for one with probability about DedupWindow/2^64 per event,
// which a Go map of full keys would avoid at three times the cost per line.
//
// The set is an open-addressing table twice the window's size, with linear
// probing and backward-shift deletion (no tombstones), plus a ring of the
// keys in arrival order for eviction. It never allocates after its first use.
type dedupSet struct {
	slots []uint64 // 0 = empty
	ring  []uint64
	next  int
	full  bool
}

const dedupSlots = 2 * DedupWindow // a power of two

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

// seen reports whether k is in the window, and adds it if not.
func (d *dedupSet) seen(k uint64) bool {
	if d.slots == nil {
		d.slots = make([]uint64, dedupSlots)
		d.ring = make([]uint64, DedupWindow)
	}
	const mask = dedupSlots - 1
	i := k & mask
	for d.slots[i] != 0 {
		if d.slots[i] == k {
			return true
		}
		i = (i + 1) & mask
	}
	if d.full {
		// Evicting may shift entries of k's probe run: probe again.
		d.remove(d.ring[d.next])
		for i = k & mask; d.slots[i] != 0; i = (i + 1) & mask {
		}
	}
	d.slots[i] = k
	d.ring[d.next] = k
	d.next++
	if d.next == DedupWindow {
		d.next, d.full = 0, true
	}
	return false
}

// remove deletes k, shifting later entries of its probe run back so that
// lookups never stop early at a hole.
func (d *dedupSet) remove(k uint64) {
	const mask = dedupSlots - 1
	i := k & mask
	for d.slots[i] != k {
		if d.slots[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	for {
		d.slots[i] = 0
		j := i
		for {
			j = (j + 1) & mask
			if d.slots[j] == 0 {
				return
			}
			home := d.slots[j] & mask
			// Move slots[j] into the hole at i unless its home lies
			// cyclically in (i, j].
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				d.slots[i] = d.slots[j]
				i = j
				break
			}
		}
	}
}

// len counts the keys held, for tests.
func (d *dedupSet) len() int {
	n := 0
	for _, s := range d.slots {
		if s != 0 {
			n++
		}
	}
	return n
}
