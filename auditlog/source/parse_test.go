package source

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
	"testing/iotest"
)

// userAVCLine is a USER_AVC record in auditd's format, as the netlink
// source builds it.
var userAVCLine = regexp.MustCompile(`^type=1107 msg=audit\((\d+\.\d{3}:\d+)\): pid=(\d+) uid=0 auid=\d+ ses=\d+ (?:subj=\S+ )?msg='(.*)'$`)

// splitKmsgRecords splits concatenated /dev/kmsg records (testdata format).
func splitKmsgRecords(b []byte) [][]byte {
	var recs [][]byte
	start := 0
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		next := i + j + 1
		if next >= len(b) || b[next] != ' ' {
			recs = append(recs, b[start:next])
			start = next
		}
		i = next
	}
	return recs
}

func readTestdata(t testing.TB, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseKmsgTestdata(t *testing.T) {
	recs := splitKmsgRecords(readTestdata(t, "kmsg/linux-6.18.44.records"))
	want := []struct {
		prio, seq uint64
		msgPrefix string
	}{
		{6, 645, "virtio_net virtio2 eth0: entered promiscuous mode"},
		{6, 646, "virtio_net virtio2 eth0: left promiscuous mode"},
		{5, 647, "audit: type=1107 audit(1795600400.177:3): pid="},
		{4, 657, "kauditd_printk_skb: 56 callbacks suppressed"},
		{5, 658, "audit: type=1107 audit(1795600461.481:69): pid="},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, rec := range recs {
		h, err := parseKmsg(rec)
		if err != nil {
			t.Fatalf("record %d %q: %v", i, rec, err)
		}
		if h.Prio != want[i].prio || h.Seq != want[i].seq || h.Flags != '-' || !bytes.HasPrefix(h.Msg, []byte(want[i].msgPrefix)) {
			t.Errorf("record %d: %+v, want %+v", i, h, want[i])
		}
	}
}

func TestParseKmsg(t *testing.T) {
	tests := []struct {
		rec  string
		want string // "prio seq usec flags msg" or "error"
	}{
		{"6,1234,5678901,-;audit: x\n", "6 1234 5678901 - audit: x"},
		{"6,1,2,-,caller=T12;msg\n SUBSYSTEM=net\n", "6 1 2 - msg"},
		{"6,1,2,c;cont", "6 1 2 c cont"},
		{"6,1,2,-;", "6 1 2 - "},
		{"6,1,2;msg\n", "error"},
		{"6,1,2,--;msg\n", "error"},
		{"6,-1,2,-;msg\n", "error"},
		{"6,+1,2,-;msg\n", "error"},
		{"6,18446744073709551616,2,-;msg\n", "error"},
		{"6,1\n,2,-;msg\n", "error"},
		{"no header\n", "error"},
		{"", "error"},
	}
	for _, tt := range tests {
		h, err := parseKmsg([]byte(tt.rec))
		got := "error"
		if err == nil {
			got = fmt.Sprintf("%d %d %d %c %s", h.Prio, h.Seq, h.Usec, h.Flags, h.Msg)
		}
		if got != tt.want {
			t.Errorf("parseKmsg(%q) = %q, want %q", tt.rec, got, tt.want)
		}
	}
}

func TestParseNetlinkTestdata(t *testing.T) {
	b := readTestdata(t, "netlink/user_avc.bin")
	var lines []string
	if err := parseNetlink(b, func(typ uint16, p []byte) {
		lines = append(lines, string(appendAuditLine(nil, typ, p)))
	}); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || !userAVCLine.MatchString(lines[0]) {
		t.Errorf("got %q, want one auditd-format USER_AVC line", lines)
	}
}

// nlmsg builds one netlink message.
func nlmsg(typ uint16, payload string, pad int) []byte {
	b := make([]byte, nlmsgHeaderLen, nlmsgHeaderLen+len(payload)+pad)
	binary.NativeEndian.PutUint32(b, uint32(nlmsgHeaderLen+len(payload)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	b = append(b, payload...)
	return append(b, make([]byte, pad)...)
}

func TestParseNetlink(t *testing.T) {
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	tests := []struct {
		name string
		in   []byte
		want string
		err  bool
	}{
		{"one", nlmsg(1400, "audit(1.2:3): x", 0), "1400:audit(1.2:3): x;", false},
		{"two aligned", cat(nlmsg(1300, "abc", 1), nlmsg(1320, "", 0)), "1300:abc;1320:;", false},
		{"last unpadded", cat(nlmsg(1300, "abcd", 0), nlmsg(1107, "a", 0)), "1300:abcd;1107:a;", false},
		{"empty", nil, "", false},
		{"short header", nlmsg(1400, "", 0)[:15], "", true},
		{"length past end", nlmsg(1400, "abc", 0)[:18], "", true},
		{"length below header", cat(nlmsg(1400, "x", 3), []byte{4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), "1400:x;", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			err := parseNetlink(tt.in, func(typ uint16, p []byte) { fmt.Fprintf(&got, "%d:%s;", typ, p) })
			if got.String() != tt.want || (err != nil) != tt.err {
				t.Errorf("got %q, %v; want %q, error %v", got.String(), err, tt.want, tt.err)
			}
		})
	}
}

func TestAppendAuditLine(t *testing.T) {
	got := appendAuditLine([]byte("junk"), 1400, []byte("audit(1.2:3): apparmor=\"DENIED\"\n\x00\x00"))
	if want := "junktype=1400 msg=audit(1.2:3): apparmor=\"DENIED\""; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzParseKmsg(f *testing.F) {
	for _, rec := range splitKmsgRecords(readTestdata(f, "kmsg/linux-6.18.44.records")) {
		f.Add(rec)
	}
	f.Add([]byte("6,1,2,-,caller=T1;x\n"))
	f.Fuzz(func(t *testing.T, rec []byte) {
		orig := bytes.Clone(rec)
		h, err := parseKmsg(rec)
		if !bytes.Equal(rec, orig) {
			t.Fatal("input modified")
		}
		if err != nil {
			return
		}
		// An independent reading of the header must agree.
		semi := bytes.IndexByte(rec, ';')
		fields := bytes.Split(rec[:semi], []byte(","))
		if len(fields) < 4 || bytes.ContainsRune(rec[:semi], '\n') {
			t.Fatalf("accepted header %q", rec[:semi])
		}
		for i, v := range []uint64{h.Prio, h.Seq, h.Usec} {
			n, err := strconv.ParseUint(string(fields[i]), 10, 64)
			if err != nil || n != v {
				t.Fatalf("field %d %q parsed as %d", i, fields[i], v)
			}
		}
		if len(fields[3]) != 1 || fields[3][0] != h.Flags {
			t.Fatalf("flags %q parsed as %q", fields[3], h.Flags)
		}
		msg := rec[semi+1:]
		if !bytes.HasPrefix(msg, h.Msg) || bytes.ContainsRune(h.Msg, '\n') ||
			(len(h.Msg) < len(msg) && msg[len(h.Msg)] != '\n') {
			t.Fatalf("message %q from %q", h.Msg, rec)
		}
	})
}

func FuzzParseNetlink(f *testing.F) {
	f.Add(readTestdata(f, "netlink/user_avc.bin"))
	f.Add(bytes.Join([][]byte{nlmsg(1300, "abc", 1), nlmsg(1320, "", 0), nlmsg(2, "\xff\xff\xff\xff", 0)}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		type msg struct {
			typ     uint16
			payload []byte
		}
		var msgs []msg
		err := parseNetlink(b, func(typ uint16, p []byte) {
			if len(p) > 0 && (&p[0] == nil || len(p) > len(b)) {
				t.Fatal("payload outside the input")
			}
			msgs = append(msgs, msg{typ, p})
		})
		if err != nil {
			return
		}
		// Round trip: re-encoding the messages parses to the same ones.
		var re []byte
		for i, m := range msgs {
			pad := (4 - len(m.payload)%4) % 4
			if i == len(msgs)-1 {
				pad = 0
			}
			re = append(re, nlmsg(m.typ, string(m.payload), pad)...)
		}
		i := 0
		if err := parseNetlink(re, func(typ uint16, p []byte) {
			if i >= len(msgs) || typ != msgs[i].typ || !bytes.Equal(p, msgs[i].payload) {
				t.Fatalf("round trip differs at message %d", i)
			}
			i++
		}); err != nil || i != len(msgs) {
			t.Fatalf("round trip: %v, %d of %d messages", err, i, len(msgs))
		}
	})
}

// FuzzLineReader checks the line splitting of file sources: every line
// comes out once, in order, with its true offset, however the reads are cut.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), uint8(1), uint8(4))
	f.Add(readTestdata(f, "kmsg/linux-6.18.44.records"), uint8(7), uint8(40))
	f.Fuzz(func(t *testing.T, data []byte, chunk, max uint8) {
		m := int(max%64) + 1
		var lr lineReader
		lr.init(m)
		r := iotest.OneByteReader(bytes.NewReader(data))
		if chunk%2 == 0 {
			r = iotest.HalfReader(bytes.NewReader(data))
		}
		var lines int64
		check := func(line []byte, pos Position, cut, final bool) {
			lines++
			if pos.Line != lines {
				t.Fatalf("line number %d, want %d", pos.Line, lines)
			}
			end := pos.Offset
			if !cut && !final {
				end-- // the newline
				if data[end] != '\n' {
					t.Fatalf("offset %d is not after a newline", pos.Offset)
				}
			}
			if start := end - int64(len(line)); start < 0 || !bytes.Equal(data[start:end], line) {
				t.Fatalf("line %q is not the input before offset %d", line, pos.Offset)
			}
			if cut != (len(line) == m && !final) || bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("line %q cut=%v with max %d", line, cut, m)
			}
		}
		for {
			for {
				line, pos, cut, ok := lr.next(true)
				if !ok {
					break
				}
				check(line, pos, cut, false)
			}
			if err := lr.fill(r); err != nil {
				break
			}
		}
		if line, pos, ok := lr.rest(true); ok {
			check(line, pos, false, true)
			if pos.Offset != int64(len(data)) {
				t.Fatalf("last line ends at %d of %d", pos.Offset, len(data))
			}
		}
		// Each line of the input gives exactly one record.
		want := int64(bytes.Count(data, []byte("\n")))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			want++
		}
		if lines != want {
			t.Fatalf("%d records for %d lines", lines, want)
		}
	})
}
