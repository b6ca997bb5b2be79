package auditlog

import (
	"bytes"
	"strings"
	"testing"
)

// scanPairs finds a known key's '=' a word at a time and falls back to a
// byte-by-byte check otherwise: every key, at every alignment and near the
// end of the line, must come out the same either way.
func TestScanPairsKeysAtEveryAlignment(t *testing.T) {
	keys := []string{"pid", "ouid", "name", "name2", "apparmor", "operation", "requested_mask", "peer_profile",
		"x", "FSUID", "sauid", "some-key", "a_very_long_unknown_key_name", "requested_mask_x", "profilex"}
	for pad := range 10 {
		for _, key := range keys {
			for _, tail := range []string{"", " ", " more=1", `="q"`} {
				value := "v"
				if tail == `="q"` {
					value, tail = "", ""
				}
				line := strings.Repeat(" ", pad) + `apparmor="DENIED" ` + key + "=" + value + tail
				var ev Event
				if err := scanPairs([]byte(line), 0, len(line), &ev, false); err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				f := ev.Fields[1]
				if string(f.Name) != key || f.Key != lookupKey([]byte(key)) || string(f.Value) != value {
					t.Errorf("%q: field %q key %v value %q", line, f.Name, f.Key, f.Value)
				}
				if k := lookupKey([]byte(key)); k != KeyNone && string(ev.Value(k)) != value {
					t.Errorf("%q: Value(%v) = %q", line, k, ev.Value(k))
				}
			}
		}
	}
	bad := []struct{ line, msg string }{
		{`apparmor="DENIED" pi d=1`, "1:21: expected '=' after key pi"},
		{`apparmor="DENIED" requested.mask="r"`, "1:28: expected '=' after key requested"},
		{`apparmor="DENIED" pid`, "1:22: expected '=' after key pid"},
		{`apparmor="DENIED" =1`, "1:19: expected key=value, found '='"},
		{`apparmor="DENIED" profile:="x"`, "1:26: expected '=' after key profile"},
		{`apparmor="DENIED" ouid`, "1:23: expected '=' after key ouid"},
	}
	for _, b := range bad {
		var ev Event
		err := scanPairs([]byte(b.line), 0, len(b.line), &ev, false)
		if err == nil {
			t.Errorf("%q: no error", b.line)
			continue
		}
		if got := "1:" + itoa(uint64(err.Col)) + ": " + err.Msg; got != b.msg {
			t.Errorf("%q: %s, want %s", b.line, got, b.msg)
		}
	}
}

// parse8Digits and allDigits8 against the obvious loop, on every byte
// value at every position and on random digit strings.
func TestParse8Digits(t *testing.T) {
	check := func(b []byte) {
		t.Helper()
		want, ok := parseUint(b)
		if got := allDigits8(b); got != ok {
			t.Fatalf("allDigits8(%q) = %v", b, got)
		}
		if ok && parse8Digits(b) != want {
			t.Fatalf("parse8Digits(%q) = %d, want %d", b, parse8Digits(b), want)
		}
	}
	for pos := range 8 {
		for c := range 256 {
			b := []byte("17325180")
			b[pos] = byte(c)
			check(b)
		}
	}
	x := uint64(3)
	for range 100000 {
		x = x*6364136223846793005 + 1442695040888963407
		b := []byte(itoa(x>>8 | 1<<62)[:8])
		check(b)
	}
}

// lastIndexByte is bytes.LastIndexByte: every length to 40, the byte at
// every place, once or twice, beside bytes that differ from it by one bit.
func TestLastIndexByteIsBytes(t *testing.T) {
	for n := range 41 {
		for _, c := range []byte{' ', '[', 0, 0x80, 0xff} {
			b := make([]byte, n)
			for i := range b {
				b[i] = c ^ byte(1<<(i%8))
			}
			check := func() {
				if got, want := lastIndexByte(b, c), bytes.LastIndexByte(b, c); got != want {
					t.Fatalf("lastIndexByte(%q, %q) = %d, want %d", b, c, got, want)
				}
			}
			check()
			for i := range b {
				old := b[i]
				b[i] = c
				check()
				for j := i + 1; j < n; j += 3 {
					o := b[j]
					b[j] = c
					check()
					b[j] = o
				}
				b[i] = old
			}
		}
	}
}

// lastIndexType is bytes.LastIndex(b, "type="), also where its fast path
// for the kernel's "type=NNNN " nearly matches.
func TestLastIndexTypeIsLastIndex(t *testing.T) {
	for _, s := range []string{"", "type=", "type=1400 ", "x type=1400 ", "type=type=", "type=ttype=", "atype=1400 ",
		"type=type=14 ", "type=1type=", "audit: type=1400 ", "type=14000 ", "ype=1400 ", "type=1400type=1"} {
		for _, pre := range []string{"", "type=", "kernel: "} {
			b := []byte(pre + s)
			if got, want := lastIndexType(b), bytes.LastIndex(b, []byte("type=")); got != want {
				t.Errorf("lastIndexType(%q) = %d, want %d", b, got, want)
			}
		}
	}
}
