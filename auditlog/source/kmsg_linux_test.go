//go:build linux

package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// These tests write real records into the kernel ring buffer through
// /dev/kmsg (root) and read them back through the kmsg source.

var kmsgMarkers atomic.Int64

// needKmsg skips (fails under CI) unless /dev/kmsg can be read and written.
func needKmsg(t *testing.T) {
	t.Helper()
	for _, flag := range []int{os.O_RDONLY, os.O_WRONLY} {
		f, err := os.OpenFile(kmsgPath, flag, 0)
		if err != nil {
			needReal(t, "need a readable and writable %s (root): %v", kmsgPath, err)
		}
		f.Close()
	}
}

// kmsgWrite writes one record at level info. Each write uses a new open
// file: the kernel rate-limits writes per open file (printk_devkmsg). The
// newline matters: the kernel keeps a record without one open for
// continuation, invisible to readers until the next record arrives.
func kmsgWrite(t testing.TB, msg string) {
	t.Helper()
	f, err := os.OpenFile(kmsgPath, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("<6>" + msg + "\n"); err != nil {
		t.Fatalf("write %s: %v", kmsgPath, err)
	}
}

// kmsgMarker returns a message no other test or run writes.
func kmsgMarker(t testing.TB, what string) string {
	return fmt.Sprintf("armorer-source-test pid=%d n=%d %s", os.Getpid(), kmsgMarkers.Add(1), what)
}

// kmsgMsg returns the message text of a record, checking that Data is
// exactly one well-formed record with its Seq.
func kmsgMsg(t testing.TB, r Record) string {
	t.Helper()
	h, err := parseKmsg(r.Data)
	if err != nil {
		t.Fatalf("record %q: %v", r.Data, err)
	}
	if h.Seq != r.Pos.Seq {
		t.Fatalf("record %q: Pos.Seq %d, header says %d", r.Data, r.Pos.Seq, h.Seq)
	}
	if !bytes.HasSuffix(r.Data, []byte("\n")) {
		t.Fatalf("record %q does not end with a newline", r.Data)
	}
	for _, cont := range bytes.Split(r.Data[:len(r.Data)-1], []byte("\n"))[1:] {
		if !bytes.HasPrefix(cont, []byte(" ")) {
			t.Fatalf("record %q holds more than one record", r.Data)
		}
	}
	return string(h.Msg)
}

func findMsg(t testing.TB, recs []Record, msg string) (Record, bool) {
	for _, r := range recs {
		if kmsgMsg(t, r) == msg {
			return r, true
		}
	}
	return Record{}, false
}

// Without Follow, the source reads the whole ring buffer, one record per
// read(2) and per Record, in sequence order with no gap, and ends.
func TestKmsgReadBack(t *testing.T) {
	needKmsg(t)
	m1, m2 := kmsgMarker(t, "first"), kmsgMarker(t, "second")
	kmsgWrite(t, m1)
	kmsgWrite(t, m2)
	src, err := OpenSource("kmsg:", SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recs := runAll(t, src)
	r1, ok1 := findMsg(t, recs, m1)
	r2, ok2 := findMsg(t, recs, m2)
	if !ok1 || !ok2 {
		t.Fatalf("markers not read back (found %v %v) among %d records", ok1, ok2, len(recs))
	}
	if r2.Pos.Seq <= r1.Pos.Seq {
		t.Errorf("sequence numbers %d, %d do not increase", r1.Pos.Seq, r2.Pos.Seq)
	}
	if !strings.HasPrefix(string(r1.Data), "14,") || !strings.HasSuffix(string(r1.Data), ";"+m1+"\n") {
		t.Errorf("record %q is not <prio 14>,seq,usec,flags;msg\\n", r1.Data)
	}
	st := src.Stats()
	if st.Delivered != uint64(len(recs)) || st.Dropped != 0 {
		t.Errorf("stats %+v, %d records", st, len(recs))
	}
	// Sequence numbers are contiguous unless the kernel reports a loss:
	// no record was merged, split or skipped.
	continuation := 0
	for i, r := range recs {
		if bytes.Contains(r.Data, []byte("\n ")) {
			continuation++
		}
		if i > 0 && st.Lost == 0 && r.Pos.Seq != recs[i-1].Pos.Seq+1 {
			t.Errorf("seq %d follows %d", r.Pos.Seq, recs[i-1].Pos.Seq)
		}
	}
	t.Logf("%d records, %d with continuation lines, stats %+v", len(recs), continuation, st)
}

func TestKmsgFollow(t *testing.T) {
	needKmsg(t)
	src, err := OpenSource("kmsg:", SourceOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, src, 1024)
	for i := range 3 {
		m := kmsgMarker(t, fmt.Sprint("follow ", i))
		kmsgWrite(t, m)
		r.until(func(rec Record) bool { return kmsgMsg(t, rec) == m })
	}
	if err := r.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}
}

// FromEnd skips what the buffer holds: the first marker seen is the one
// written after Open.
func TestKmsgFromEnd(t *testing.T) {
	needKmsg(t)
	old := kmsgMarker(t, "old")
	kmsgWrite(t, old)
	src, err := OpenSource("kmsg:", SourceOptions{Follow: true, FromEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, src, 1024)
	m := kmsgMarker(t, "new")
	kmsgWrite(t, m)
	prefix := fmt.Sprintf("armorer-source-test pid=%d ", os.Getpid())
	rec := r.until(func(rec Record) bool { return strings.HasPrefix(kmsgMsg(t, rec), prefix) })
	if got := kmsgMsg(t, rec); got != m {
		t.Errorf("first marker read is %q, want %q", got, m)
	}
}

// Resume after a sequence number: the records up to it are skipped.
func TestKmsgResume(t *testing.T) {
	needKmsg(t)
	ms := []string{kmsgMarker(t, "r1"), kmsgMarker(t, "r2"), kmsgMarker(t, "r3")}
	for _, m := range ms {
		kmsgWrite(t, m)
	}
	src, err := OpenSource("kmsg:", SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r1, ok := findMsg(t, runAll(t, src), ms[0])
	if !ok {
		t.Fatal("marker not read back")
	}
	src, err = OpenSource("kmsg:", SourceOptions{Resume: &r1.Pos})
	if err != nil {
		t.Fatal(err)
	}
	recs := runAll(t, src)
	if len(recs) == 0 || recs[0].Pos.Seq != r1.Pos.Seq+1 {
		t.Fatalf("resumed after seq %d, first record %+v", r1.Pos.Seq, recs[:min(1, len(recs))])
	}
	if _, ok := findMsg(t, recs, ms[0]); ok {
		t.Error("resume delivered the record it resumed after")
	}
	for _, m := range ms[1:] {
		if _, ok := findMsg(t, recs, m); !ok {
			t.Errorf("%q missing after resume", m)
		}
	}
	if st := src.Stats(); st.Lost != 0 {
		t.Errorf("stats %+v: nothing was lost", st)
	}

	// Sequence numbers restart at each boot: a resume point from this
	// boot past the end delivers nothing, one from another boot is
	// ignored.
	if r1.Pos.Boot == "" {
		t.Fatal("record has no boot ID")
	}
	for _, tt := range []struct {
		boot  string
		empty bool
	}{{r1.Pos.Boot, true}, {"another-boot", false}} {
		src, err := OpenSource("kmsg:", SourceOptions{Resume: &Position{Seq: 1 << 62, Boot: tt.boot}})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(runAll(t, src)); (got == 0) != tt.empty {
			t.Errorf("resume at seq 2^62 of boot %q: %d records", tt.boot, got)
		}
	}
}

// With FullDrop and nobody reading, one record fits in the channel and
// the rest are dropped and counted; Run never blocks.
func TestKmsgDropWhenFull(t *testing.T) {
	needKmsg(t)
	for i := range 3 {
		kmsgWrite(t, kmsgMarker(t, fmt.Sprint("drop ", i)))
	}
	src, err := OpenSource("kmsg:", SourceOptions{WhenFull: FullDrop})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Record, 1)
	if err := src.Run(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	if st := src.Stats(); st.Delivered != 1 || st.Dropped < 3 {
		t.Errorf("stats %+v, want 1 delivered and at least 3 dropped", st)
	}
}

// By default the backlog waits for a slow reader (a one-record channel
// still gets every record), and live records, once caught up, are dropped
// when the channel is full.
func TestKmsgBacklogWaitsLiveDrops(t *testing.T) {
	needKmsg(t)
	caughtUp := kmsgMarker(t, "backlog end")
	kmsgWrite(t, caughtUp)
	src, err := OpenSource("kmsg:", SourceOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, src, 1)
	r.until(func(rec Record) bool { return kmsgMsg(t, rec) == caughtUp })
	if st := src.Stats(); st.Dropped != 0 {
		t.Fatalf("backlog dropped records: %+v", st)
	}
	// Nobody reads any more: the channel takes one live record, the
	// others are dropped.
	eventually(t, "caught up", func() bool { return src.(*kmsgSource).caughtUp.Load() })
	for i := range 3 {
		kmsgWrite(t, kmsgMarker(t, fmt.Sprint("live ", i)))
	}
	eventually(t, "two live records dropped", func() bool { return src.Stats().Dropped >= 2 })
}

// Overrun: a reader that falls behind by more than the ring buffer gets
// EPIPE; the source counts it, continues with the oldest record left and
// counts the records lost from the sequence gap. This test overwrites the
// whole ring buffer (dmesg loses its boot messages).
func TestKmsgOverrun(t *testing.T) {
	needKmsg(t)
	size, err := unix.Klogctl(unix.SYSLOG_ACTION_SIZE_BUFFER, nil)
	if err != nil || size <= 0 {
		t.Fatalf("ring buffer size: %d, %v", size, err)
	}
	mark := kmsgMarker(t, "before overrun")
	kmsgWrite(t, mark)
	src, err := OpenSource("kmsg:", SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rm, ok := findMsg(t, runAll(t, src), mark)
	if !ok {
		t.Fatal("marker not read back")
	}
	// Opened now, the reader's position is the oldest record, which the
	// flood below overwrites.
	src, err = OpenSource("kmsg:", SourceOptions{Resume: &rm.Pos})
	if err != nil {
		t.Fatal(err)
	}
	fill := strings.Repeat("x", 900)
	for written := 0; written < 2*size; written += len(fill) + 64 {
		kmsgWrite(t, kmsgMarker(t, fill))
	}
	recs := runAll(t, src)
	st := src.Stats()
	if len(recs) == 0 {
		t.Fatalf("nothing read after the overrun; stats %+v", st)
	}
	if st.Overruns != 1 {
		t.Errorf("overruns = %d, want 1 (EPIPE)", st.Overruns)
	}
	if want := recs[0].Pos.Seq - rm.Pos.Seq - 1; st.Lost != want || want == 0 {
		t.Errorf("lost = %d, want %d (first seq read %d, resumed after %d)", st.Lost, want, recs[0].Pos.Seq, rm.Pos.Seq)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Pos.Seq != recs[i-1].Pos.Seq+1 {
			t.Fatalf("gap after the overrun: seq %d follows %d", recs[i].Pos.Seq, recs[i-1].Pos.Seq)
		}
	}
	t.Logf("ring buffer %d bytes; stats %+v", size, st)
}

func TestKmsgUnavailable(t *testing.T) {
	_, err := openKmsgPath("kmsg:", "/nonexistent/kmsg", SourceOptions{})
	var ue *UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "journal:") {
		t.Errorf("open missing kmsg = %v, want *UnavailableError suggesting journal:", err)
	}
}

// Reading the whole ring buffer: one read(2) per record, then the channel.
func BenchmarkKmsgRead(b *testing.B) {
	if _, err := os.Stat(kmsgPath); err != nil {
		b.Skip(err)
	}
	var records, bytes uint64
	b.ReportAllocs()
	for b.Loop() {
		src, err := OpenSource("kmsg:", SourceOptions{})
		if err != nil {
			b.Skip(err)
		}
		out := make(chan Record, 1024)
		done := make(chan struct{})
		go func() {
			for r := range out {
				bytes += uint64(len(r.Data))
			}
			close(done)
		}()
		if err := src.Run(context.Background(), out); err != nil {
			b.Fatal(err)
		}
		close(out)
		<-done
		records += src.Stats().Delivered
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/op")
}
