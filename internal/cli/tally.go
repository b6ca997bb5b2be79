package cli

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"slices"
)

// tally counts byte-string keys: what events --summary does once per event
// and field. A map[string]int costs a string per new key and a second hash
// of every key the parser already interned; here a key is hashed once and
// its bytes are copied the first time only, so that nothing is allocated
// per event.
//
// The paths of a large log have 100,000s of distinct keys, more than the
// caches hold, so a lookup is laid out to touch two cache lines: its slot
// (which holds part of the hash, so that most probes of other keys stop
// there) and its record (count, length and key bytes side by side in one
// arena).
type tally struct {
	seed  maphash.Seed
	slots []uint64 // the hash's top 24 bits, then 1+the record's offset (40 bits); 0 empty. A power of two, at most half full
	arena []byte   // records: count (8 bytes), key length (4 bytes), key
	n     int      // distinct keys

	// The batch of keys not counted yet: pend[ends[j-1]:ends[j]].
	pend   []byte
	ends   [tallyBatch]int
	hashes [tallyBatch]uint64
	loaded [tallyBatch]uint64 // what the loads of flush read: kept, so that they are not optimised away
	npend  int

	// memo remembers where the records of short keys (16 bytes or fewer:
	// operations, many profiles) are, by their bytes: a key found there is
	// counted without a hash or a comparison of its bytes. Direct-mapped;
	// nil until the first short key.
	memo *[tallyMemoSize]memoEntry
}

// memoEntry is a short key as shortKey packs it, and its record's offset.
type memoEntry struct {
	w0, w1 uint64
	n      uint32 // the key's length + 1; 0: empty
	off    uint32 // the record's offset in the arena, if below 1<<32
}

const tallyMemoSize = 1024

const (
	tallyBatch     = 32
	tallyBatchFrom = 1 << 15 // slots (256 KiB): below, the table stays in the caches
)

const (
	tallyHeader  = 12
	tallyQuote   = 1 << 63 // in a record's count: the key is not printable as is (plainText)
	tallyOffBits = 40
	tallyOffMask = 1<<tallyOffBits - 1
)

func newTally() *tally {
	return &tally{seed: maphash.MakeSeed(), slots: make([]uint64, 64)}
}

// add counts key once more. In a large tally the key waits in a batch: see
// flush.
func (t *tally) add(key []byte) {
	var m *memoEntry
	var w0, w1 uint64
	if n := len(key); n > 0 && n <= 16 {
		if t.memo == nil {
			t.memo = new([tallyMemoSize]memoEntry)
		}
		w0, w1 = shortKey(key)
		m = &t.memo[((w0*0x9e3779b97f4a7c15)^(w1*0xc2b2ae3d27d4eb4f)^uint64(n))>>(64-10)]
		if m.w0 == w0 && m.w1 == w1 && m.n == uint32(n+1) {
			rec := t.arena[m.off:]
			binary.LittleEndian.PutUint64(rec, binary.LittleEndian.Uint64(rec)+1)
			return
		}
	}
	if len(t.slots) < tallyBatchFrom {
		off := t.countN(key, maphash.Bytes(t.seed, key), 1)
		if m != nil && off < 1<<32 {
			*m = memoEntry{w0: w0, w1: w1, n: uint32(len(key) + 1), off: uint32(off)}
		}
		return
	}
	t.pend = append(t.pend, key...)
	t.ends[t.npend] = len(t.pend)
	if t.npend++; t.npend == tallyBatch {
		t.flush()
	}
}

// addN counts key n times more.
func (t *tally) addN(key []byte, n uint64) {
	t.flush()
	t.countN(key, maphash.Bytes(t.seed, key), n)
}

// flush counts the batch of waiting keys. Counted one by one, each key of a
// large tally waits for two cache misses in turn (slot, then record); here
// the batch's slots are loaded first, then the records they point to, as
// independent loads that the CPU overlaps, and the keys are then counted
// in cache.
func (t *tally) flush() {
	n := t.npend
	start := 0
	for j, end := range t.ends[:n] {
		t.hashes[j] = maphash.Bytes(t.seed, t.pend[start:end])
		start = end
	}
	mask := uint64(len(t.slots) - 1)
	for j, h := range t.hashes[:n] { // tight loops without a chain between iterations: the loads overlap
		t.loaded[j] = t.slots[h&mask]
	}
	for j, s := range t.loaded[:n] {
		if off := int(s&tallyOffMask) - 1; off >= 0 { // a record's first line and, for most keys, its last
			t.loaded[j] = uint64(t.arena[off]) + uint64(t.arena[min(off+64, len(t.arena)-1)])
		}
	}
	start = 0
	for j, end := range t.ends[:n] {
		t.count(t.pend[start:end], t.hashes[j])
		start = end
	}
	t.pend, t.npend = t.pend[:0], 0
}

// shortKey packs a key of 1 to 16 bytes into two words that, with its
// length, are the key: its first and last 8 bytes (which overlap), 4 bytes
// for a key of fewer than 8, its first, middle and last byte for fewer
// than 4.
func shortKey(key []byte) (w0, w1 uint64) {
	switch n := len(key); {
	case n >= 8:
		return binary.LittleEndian.Uint64(key), binary.LittleEndian.Uint64(key[n-8:])
	case n >= 4:
		return uint64(binary.LittleEndian.Uint32(key)) | uint64(binary.LittleEndian.Uint32(key[n-4:]))<<32, 0
	default:
		return uint64(key[0]) | uint64(key[n/2])<<8 | uint64(key[n-1])<<16, 0
	}
}

// count counts key, whose hash is h, once more.
func (t *tally) count(key []byte, h uint64) { t.countN(key, h, 1) }

// countN counts key, whose hash is h, n times more, and returns its
// record's offset in the arena.
func (t *tally) countN(key []byte, h, n uint64) int {
	tag := h &^ tallyOffMask
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return t.insert(i, tag, key, n)
		}
		if s&^tallyOffMask != tag {
			continue
		}
		off := int(s&tallyOffMask) - 1
		rec := t.arena[off:]
		if l := int(binary.LittleEndian.Uint32(rec[8:])); l == len(key) && bytes.Equal(rec[tallyHeader:tallyHeader+l], key) {
			binary.LittleEndian.PutUint64(rec, binary.LittleEndian.Uint64(rec)+n)
			return off
		}
	}
}

func (t *tally) insert(slot, tag uint64, key []byte, n uint64) int {
	off := len(t.arena)
	c := n
	if !plainText(key) { // asked now, while the key is in the cache
		c |= tallyQuote
	}
	if need := tallyHeader + len(key); cap(t.arena)-len(t.arena) < need {
		// Twice as large: append grows a large slice by a quarter, which
		// copies a large tally's arena (100,000s of paths) many times.
		t.arena = slices.Grow(t.arena, max(need, len(t.arena), 4096))
	}
	t.arena = binary.LittleEndian.AppendUint64(t.arena, c)
	t.arena = binary.LittleEndian.AppendUint32(t.arena, uint32(len(key)))
	t.arena = append(t.arena, key...)
	t.slots[slot] = tag | uint64(off+1)
	if t.n++; 2*t.n > len(t.slots) {
		t.grow()
	}
	return off
}

func (t *tally) grow() {
	t.slots = make([]uint64, 2*len(t.slots))
	mask := uint64(len(t.slots) - 1)
	for off := 0; off < len(t.arena); {
		n := int(binary.LittleEndian.Uint32(t.arena[off+8:]))
		h := maphash.Bytes(t.seed, t.arena[off+tallyHeader:off+tallyHeader+n])
		i := h & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = h&^tallyOffMask | uint64(off+1)
		off += tallyHeader + n
	}
}

// len is the number of distinct keys.
func (t *tally) len() int {
	t.flush()
	return t.n
}

// sorted lists the keys most frequent first, ties by name (byte order),
// the first top only when top > 0. The names share one string.
func (t *tally) sorted(top int) []countEntry {
	t.flush()
	keys := make([]sortKey, 0, t.n)
	offs := make([]int, 0, t.n) // where each key's bytes start in the arena, by idx
	for off := 0; off < len(t.arena); {
		n := int(binary.LittleEndian.Uint32(t.arena[off+8:]))
		k := sortKey{count: binary.LittleEndian.Uint64(t.arena[off:]) &^ tallyQuote, n: uint32(n), idx: uint32(len(keys))}
		offs = append(offs, off+tallyHeader)
		var p [16]byte
		copy(p[:], t.arena[off+tallyHeader:off+tallyHeader+n])
		k.p0, k.p1 = binary.BigEndian.Uint64(p[:8]), binary.BigEndian.Uint64(p[8:])
		keys = append(keys, k)
		off += tallyHeader + n
	}
	keys = radixSortKeys(keys)
	// The radix sort ordered by count and the 16-byte prefix: keys that
	// share both (paths share long prefixes) are ordered by the rest.
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j].count == keys[i].count && keys[j].p0 == keys[i].p0 && keys[j].p1 == keys[i].p1 {
			j++
		}
		if j-i > 1 {
			t.sortTies(keys[i:j], offs, 0)
		}
		i = j
	}
	if top > 0 && len(keys) > top {
		keys = keys[:top]
	}
	// Lay the names out in their sorted order, so that printing them
	// reads them in order: the arena is read in its own order (rank says
	// where each of its keys goes), and the names written where they go.
	// Read in sorted order instead, each name of a large tally would be a
	// cache miss, and the CPU can overlap many more writes than reads.
	rank := make([]int32, t.n)
	if len(keys) < t.n {
		for i := range rank {
			rank[i] = -1
		}
	}
	at := make([]int, len(keys)+1) // where each name starts, in sorted order
	for i, k := range keys {
		rank[k.idx] = int32(i)
		at[i+1] = at[i] + int(k.n)
	}
	buf := make([]byte, at[len(keys)])
	quote := make([]bool, len(keys))
	for j, off := 0, 0; off < len(t.arena); j++ {
		n := int(binary.LittleEndian.Uint32(t.arena[off+8:]))
		if r := rank[j]; r >= 0 {
			copy(buf[at[r]:], t.arena[off+tallyHeader:off+tallyHeader+n])
			quote[r] = binary.LittleEndian.Uint64(t.arena[off:])&tallyQuote != 0
		}
		off += tallyHeader + n
	}
	names := string(buf)
	out := make([]countEntry, len(keys))
	for i, k := range keys {
		out[i] = countEntry{Name: names[at[i]:at[i+1]], Count: int(k.count), quote: quote[i]}
	}
	return out
}

// sortTies sorts keys that share their first from+16 bytes, zero-padded
// (p0 and p1 hold bytes from:from+16), in byte order. Keys that end within
// those bytes are prefixes of the others: the shorter first. The others
// are sorted by their next 16 bytes, read once per key, and so on: a
// comparison sort would read two keys' bytes from all over the arena
// (cache misses) for each of its comparisons.
func (t *tally) sortTies(keys []sortKey, offs []int, from int) {
	w := from + 16
	// Those that end within the window first, by length; then the rest.
	s := 0
	for i := range keys {
		if int(keys[i].n) <= w {
			keys[i], keys[s] = keys[s], keys[i]
			s++
		}
	}
	short, rest := keys[:s], keys[s:]
	slices.SortFunc(short, func(a, b sortKey) int { return cmp.Compare(a.n, b.n) })
	if len(rest) > 1 {
		for i := range rest {
			k := &rest[i]
			var p [16]byte
			off := offs[k.idx]
			copy(p[:], t.arena[off+w:off+int(k.n)])
			k.p0, k.p1 = binary.BigEndian.Uint64(p[:8]), binary.BigEndian.Uint64(p[8:])
		}
		slices.SortFunc(rest, func(a, b sortKey) int {
			if c := cmp.Compare(a.p0, b.p0); c != 0 {
				return c
			}
			return cmp.Compare(a.p1, b.p1)
		})
		for i := 0; i < len(rest); {
			j := i + 1
			for j < len(rest) && rest[j].p0 == rest[i].p0 && rest[j].p1 == rest[i].p1 {
				j++
			}
			if j-i > 1 {
				t.sortTies(rest[i:j], offs, w)
			}
			i = j
		}
	}
}

// sortKey is a tally key as sorted sorts it: 32 bytes, as the radix
// sort's passes move every key (its bytes start at offs[idx]).
type sortKey struct {
	count  uint64
	p0, p1 uint64 // the key's first 16 bytes, big-endian, zero-padded
	n, idx uint32 // the key's length; its place in the arena, 0 for the first
}

// radixSortKeys sorts keys by count (highest first), then p0, then p1, and
// returns the sorted slice (keys or a buffer of its length). A
// comparison sort of the 100,000s of paths of a large log calls its
// comparator some 2 million times; this is a least-significant-digit
// radix sort by bytes, which skips the bytes every key shares (most of the
// count's), so that it makes a few passes over the keys.
func radixSortKeys(keys []sortKey) []sortKey {
	if len(keys) < 2 {
		return keys
	}
	digit := func(k *sortKey, d int) uint8 { // d: 0 is the least significant byte
		var w uint64
		switch d / 8 {
		case 0:
			w = k.p1
		case 1:
			w = k.p0
		default:
			w = ^k.count // highest count first
		}
		return uint8(w >> (8 * (d % 8)))
	}
	const digits = 24
	var hist [digits][256]int
	for i := range keys {
		k := &keys[i]
		p1, p0, c := k.p1, k.p0, ^k.count
		for b := range 8 { // digit's bytes, without its switch
			hist[b][uint8(p1>>(8*b))]++
			hist[8+b][uint8(p0>>(8*b))]++
			hist[16+b][uint8(c>>(8*b))]++
		}
	}
	src, dst := keys, make([]sortKey, len(keys))
	for d := range digits {
		h := &hist[d]
		if h[digit(&src[0], d)] == len(src) {
			continue // every key has this byte
		}
		pos := 0
		for b := range h {
			h[b], pos = pos, pos+h[b]
		}
		for i := range src {
			b := digit(&src[i], d)
			dst[h[b]] = src[i]
			h[b]++
		}
		src, dst = dst, src
	}
	return src
}
