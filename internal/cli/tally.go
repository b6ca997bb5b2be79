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
}

const (
	tallyHeader  = 12
	tallyOffBits = 40
	tallyOffMask = 1<<tallyOffBits - 1
)

func newTally() *tally {
	return &tally{seed: maphash.MakeSeed(), slots: make([]uint64, 64)}
}

// add counts key once more.
func (t *tally) add(key []byte) {
	h := maphash.Bytes(t.seed, key)
	tag := h &^ tallyOffMask
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			t.insert(i, tag, key)
			return
		}
		if s&^tallyOffMask != tag {
			continue
		}
		off := int(s&tallyOffMask) - 1
		rec := t.arena[off:]
		if n := int(binary.LittleEndian.Uint32(rec[8:])); n == len(key) && bytes.Equal(rec[tallyHeader:tallyHeader+n], key) {
			binary.LittleEndian.PutUint64(rec, binary.LittleEndian.Uint64(rec)+1)
			return
		}
	}
}

func (t *tally) insert(slot, tag uint64, key []byte) {
	off := len(t.arena)
	t.arena = binary.LittleEndian.AppendUint64(t.arena, 1)
	t.arena = binary.LittleEndian.AppendUint32(t.arena, uint32(len(key)))
	t.arena = append(t.arena, key...)
	t.slots[slot] = tag | uint64(off+1)
	if t.n++; 2*t.n > len(t.slots) {
		t.grow()
	}
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
func (t *tally) len() int { return t.n }

// sorted lists the keys most frequent first, ties by name (byte order),
// the first top only when top > 0. The names share one string.
func (t *tally) sorted(top int) []countEntry {
	type sortKey struct {
		count  uint64
		prefix uint64 // the key's first 8 bytes, big-endian, zero-padded
		off, n int    // the key: arena[off:off+n]
	}
	keys := make([]sortKey, 0, t.n)
	for off := 0; off < len(t.arena); {
		n := int(binary.LittleEndian.Uint32(t.arena[off+8:]))
		k := sortKey{count: binary.LittleEndian.Uint64(t.arena[off:]), off: off + tallyHeader, n: n}
		var p [8]byte
		copy(p[:], t.arena[off+tallyHeader:off+tallyHeader+n])
		k.prefix = binary.BigEndian.Uint64(p[:])
		keys = append(keys, k)
		off += tallyHeader + n
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		if a.count != b.count {
			return cmp.Compare(b.count, a.count)
		}
		if a.prefix != b.prefix {
			return cmp.Compare(a.prefix, b.prefix)
		}
		if a.n <= 8 || b.n <= 8 { // one key ends within the prefix, where the other holds the same bytes (or zeros)
			return cmp.Compare(a.n, b.n)
		}
		return bytes.Compare(t.arena[a.off+8:a.off+a.n], t.arena[b.off+8:b.off+b.n])
	})
	if top > 0 && len(keys) > top {
		keys = keys[:top]
	}
	names := string(t.arena)
	out := make([]countEntry, len(keys))
	for i, k := range keys {
		out[i] = countEntry{Name: names[k.off : k.off+k.n], Count: int(k.count)}
	}
	return out
}
