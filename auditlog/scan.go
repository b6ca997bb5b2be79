package auditlog

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// Byte classes for the key=value scanner, one table lookup per byte.
const (
	clsKey   = 1 << iota // may appear in a key: A-Z a-z 0-9 _ -
	clsSpace             // separates pairs: space, tab, \x1d (auditd's enrichment separator)
	clsHex               // 0-9 A-F a-f
	clsDigit             // 0-9
)

var byteClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] |= clsKey | clsHex | clsDigit
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= clsKey
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= clsKey
	}
	for _, c := range "abcdefABCDEF" {
		t[c] |= clsHex
	}
	t['_'] |= clsKey
	t['-'] |= clsKey
	t[' '] |= clsSpace
	t['\t'] |= clsSpace
	t[0x1d] |= clsSpace
	return t
}()

// parseUint parses a decimal number without allocating; false if b is
// empty, has a non-digit or overflows.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if byteClass[c]&clsDigit == 0 {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func isHex(b []byte) bool {
	if len(b) == 0 || len(b)%2 != 0 {
		return false
	}
	for _, c := range b {
		if byteClass[c]&clsHex == 0 {
			return false
		}
	}
	return true
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

// scanPairs splits line[start:end] into key=value pairs and appends them to
// ev.Fields. It does one pass over the bytes; values are sub-slices of line.
// A nested msg='…' (USER_AVC) is scanned in place. Columns in errors are
// 1-based offsets into line.
func scanPairs(line []byte, start, end int, ev *Event, nested bool) *SyntaxError {
	i := start
	for {
		// Most pairs are a known key and a "quoted" or bare value:
		// fastPairs reads them; anything else, and any error, is read
		// below, one pair at a time.
		i = fastPairs(line[:end], i, ev)
		for i < end && byteClass[line[i]]&clsSpace != 0 {
			i++
		}
		if i >= end {
			return nil
		}
		ks := i
		for i < end && byteClass[line[i]]&clsKey != 0 {
			i++
		}
		if i == ks || i >= end || line[i] != '=' {
			if i == ks {
				return &SyntaxError{Col: i + 1, Msg: "expected key=value, found " + quoteByte(line[i])}
			}
			return &SyntaxError{Col: i + 1, Msg: "expected '=' after key " + string(line[ks:i])}
		}
		k := lookupKey(line[ks:i])
		key := line[ks:i]
		i++ // '='

		var val []byte
		enc := EncBare
		bare := false
		switch {
		case i < end && line[i] == '"':
			j := indexQuote(line, i+1, end)
			if j < 0 {
				return &SyntaxError{Col: i + 1, Msg: "unterminated quoted value of " + string(key) + " (truncated line?)"}
			}
			val, enc, i = line[i+1:j], EncQuoted, j+1
		case i < end && line[i] == '\'':
			if string(key) == "msg" && !nested {
				// USER_AVC: the userspace message is everything up to the
				// last quote before auditd's enrichment (\x1d …) or the end.
				j := lastIndexByteIn(line, i+1, endOfNested(line, i+1, end), '\'')
				if j < 0 {
					return &SyntaxError{Col: i + 1, Msg: "unterminated msg='…' (truncated line?)"}
				}
				if err := scanPairs(line, i+1, j, ev, true); err != nil {
					return err
				}
				i = j + 1
				continue
			}
			j := indexByteFrom(line, i+1, end, '\'')
			if j < 0 {
				return &SyntaxError{Col: i + 1, Msg: "unterminated quoted value of " + string(key) + " (truncated line?)"}
			}
			val, enc, i = line[i+1:j], EncQuoted, j+1
		default:
			vs := i
			for i < end && byteClass[line[i]]&clsSpace == 0 {
				i++
			}
			val, bare = line[vs:i], true
		}
		if val == nil {
			val = line[i:i:i] // empty but non-nil: present
		}
		ev.addField(k, key, val, enc, bare)
	}
}

// fastPairs reads the pairs at line[i:] while each is a known key (its
// '=' found a word at a time) and a "quoted" or bare value, as scanPairs
// reads them, and returns where it stopped: at the end, or at a pair
// (or the spaces before it) that scanPairs reads in full, with its
// errors.
func fastPairs(line []byte, i int, ev *Event) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	end := len(line)
	keep := ev.only // the keys to store, a bit each
	if keep == 0 {
		keep = ^uint64(0)
	}
	for {
		// The pairs are separated by one space, mostly.
		if i < end && line[i] == ' ' {
			i++
		}
		if i+8 > end {
			return i
		}
		// The '=' in the first 16 bytes.
		x := binary.LittleEndian.Uint64(line[i:]) ^ (0x3d * ones)
		eq := i
		if m := (x - ones) &^ x & highs; m != 0 {
			eq += bits.TrailingZeros64(m) / 8
		} else {
			if i+16 > end {
				return i
			}
			x = binary.LittleEndian.Uint64(line[i+8:]) ^ (0x3d * ones)
			m := (x - ones) &^ x & highs
			if m == 0 {
				return i
			}
			eq += 8 + bits.TrailingZeros64(m)/8
		}
		if eq == i {
			return i
		}
		k := lookupKey(line[i:eq])
		v := eq + 1
		if k == KeyNone || v >= end {
			return i
		}
		if keep>>(k&63)&1 == 0 {
			k = KeyNone // read, not stored
		}
		switch line[v] {
		case '"':
			// The closing quote, a word at a time: values are short.
			j := v + 1
			for {
				if j+8 > end {
					j = indexByteFrom(line, j, end, '"')
					break
				}
				x := binary.LittleEndian.Uint64(line[j:]) ^ (0x22 * ones)
				if m := (x - ones) &^ x & highs; m != 0 {
					j += bits.TrailingZeros64(m) / 8
					break
				}
				j += 8
			}
			if j < 0 {
				return i
			}
			if k != KeyNone {
				// addField's common case, without its call.
				if n := len(ev.Fields); n < cap(ev.Fields) && n < 1<<16-1 && (ev.only == 0 || ev.idx[k] == 0) {
					ev.Fields = ev.Fields[:n+1]
					f := &ev.Fields[n]
					f.Key, f.Name, f.Value, f.Enc, f.decoded = k, line[i:eq], line[v+1:j], EncQuoted, false
					ev.idx[k] = uint16(n + 1)
				} else {
					ev.addField(k, line[i:eq], line[v+1:j], EncQuoted, false)
				}
			}
			i = j + 1
		case '\'':
			return i
		default:
			// To the next space, tab or \x1d: the first byte below 0x21,
			// a word at a time, then byte by byte if that was another.
			j := v
			for j+8 <= end {
				x := binary.LittleEndian.Uint64(line[j:])
				m := (x - 0x21*ones) &^ x & highs
				if m == 0 {
					j += 8
					continue
				}
				j += bits.TrailingZeros64(m) / 8
				break
			}
			for j < end && byteClass[line[j]]&clsSpace == 0 {
				j++
			}
			if k != KeyNone {
				ev.addField(k, line[i:eq], line[v:j], EncBare, true)
			}
			i = j
		}
	}
}

// addField appends a field, or with Parser.Only keeps the last field of
// each kept key in the place of its first. bare says the value was not
// quoted: it may be hex.
func (ev *Event) addField(k Key, key, val []byte, enc Encoding, bare bool) {
	if ev.only != 0 {
		if ev.only&(1<<k) == 0 {
			return // a key the caller does not read
		}
		if bare && keyInfos[k].hex && isHex(val) {
			enc = EncHex
		}
		if j := ev.idx[k]; j != 0 {
			f := &ev.Fields[j-1]
			f.Name, f.Value, f.Enc, f.decoded = key, val, enc, false
			return
		}
	} else if bare && keyInfos[k].hex && isHex(val) {
		enc = EncHex
	}
	// Write the new element in place: building a Field on the stack and
	// copying it stalls on store forwarding (mixed-width stores read
	// back as 16-byte loads), which cost a third of the parse.
	n := len(ev.Fields)
	if n < cap(ev.Fields) {
		ev.Fields = ev.Fields[:n+1]
	} else {
		ev.Fields = append(ev.Fields, Field{})
	}
	f := &ev.Fields[n]
	f.Key, f.Name, f.Value, f.Enc, f.decoded = k, key, val, enc, false
	if k != KeyNone && len(ev.Fields) < 1<<16 {
		ev.idx[k] = uint16(len(ev.Fields))
	}
}

// endOfNested returns where auditd's enrichment begins (the first \x1d
// after from), or end.
func endOfNested(line []byte, from, end int) int {
	if j := indexByteFrom(line, from, end, 0x1d); j >= 0 {
		return j
	}
	return end
}

// indexQuote finds the closing '"' in b[from:end]. Quoted values are
// mostly shorter than 32 bytes, where testing 8 bytes at a time in a word
// beats IndexByte's vector setup.
func indexQuote(b []byte, from, end int) int {
	const ones, highs, quotes = 0x0101010101010101, 0x8080808080808080, 0x2222222222222222
	i := from
	for ; i+8 <= end && i-from < 64; i += 8 {
		x := binary.LittleEndian.Uint64(b[i:]) ^ quotes
		if m := (x - ones) &^ x & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	return indexByteFrom(b, i, end, '"')
}

// indexEqualShort finds the first '=' in the 16 bytes at b[from:end], a
// word at a time; -1 if there is none there (or fewer than 8 bytes left).
func indexEqualShort(b []byte, from, end int) int {
	const ones, highs, equals = 0x0101010101010101, 0x8080808080808080, 0x3d3d3d3d3d3d3d3d
	for i := from; i+8 <= end && i-from < 16; i += 8 {
		x := binary.LittleEndian.Uint64(b[i:]) ^ equals
		if m := (x - ones) &^ x & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	return -1
}

func indexByteFrom(b []byte, from, end int, c byte) int {
	if j := bytes.IndexByte(b[from:end], c); j >= 0 {
		return from + j
	}
	return -1
}

func lastIndexByteIn(b []byte, from, end int, c byte) int {
	for j := end - 1; j >= from; j-- {
		if b[j] == c {
			return j
		}
	}
	return -1
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	return "byte 0x" + string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])
}
