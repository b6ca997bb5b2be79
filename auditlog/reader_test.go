package auditlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

const lineAVC = `audit: type=1400 audit(1764054004.001:601): apparmor="DENIED" operation="open" profile="app" name="/etc/passwd" pid=8001 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`

// The common path (a Parser reused for lines of known formats) must not
// allocate: this guards what the benchmark measures.
func TestParseAllocs(t *testing.T) {
	lines := [][]byte{
		[]byte(lineAVC),
		[]byte(`type=AVC msg=audit(1764054000.102:202): apparmor="ALLOWED" operation="open" class="file" profile="myapp" name=2F746D702F612062 pid=4243 comm=6D7920617070 requested_mask="wc" denied_mask="wc" fsuid=0 ouid=0`),
		[]byte(`6,1202,12345900,-;random: crng init done`),
		[]byte(`type=SYSCALL msg=audit(1764054000.101:201): arch=c000003e syscall=257 success=no exit=-13 comm="cat" exe="/usr/bin/cat"`),
	}
	p := NewParser()
	var ev Event
	for _, l := range lines { // warm up the intern table and buffers
		p.Parse(l, &ev)
		ev.String(KeyProfile)
	}
	for _, l := range lines {
		n := testing.AllocsPerRun(100, func() {
			if err := p.Parse(l, &ev); err != nil {
				t.Fatal(err)
			}
			_ = ev.Value(KeyName)
			_ = ev.String(KeyProfile)
			_ = ev.String(KeyOperation)
			_ = ev.String(KeyComm)
		})
		if n != 0 {
			t.Errorf("Parse(%.40q…) allocates %v times per line, want 0", l, n)
		}
	}
}

func TestReaderAllocs(t *testing.T) {
	var in bytes.Buffer
	for range 2000 {
		in.WriteString(lineAVC)
		in.WriteString("\nNov 25 07:00:01 host sshd[1]: Accepted publickey for alice\n")
	}
	data := in.Bytes()
	// A Reader costs a fixed amount to set up; per line it must cost
	// nothing, so the total may not grow with the input.
	count := func(n int) float64 {
		return testing.AllocsPerRun(5, func() {
			r := NewReader(bytes.NewReader(data[:n]), ReaderOptions{})
			for r.Next() {
			}
		})
	}
	small, large := count(len(data)/20), count(len(data))
	if large > small+2 {
		t.Errorf("Reader allocations grow with input: %v for 1/20, %v for all", small, large)
	}
}

func TestCloneOutlivesLine(t *testing.T) {
	line := []byte(`type=AVC msg=audit(1764054000.102:202): apparmor="DENIED" operation="open" profile="myapp" name=2F746D702F612062 pid=4243 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`)
	p := NewParser()
	var ev Event
	if err := p.Parse(line, &ev); err != nil {
		t.Fatal(err)
	}
	c := ev.Clone()
	for i := range line {
		line[i] = 'X'
	}
	p.Parse([]byte(lineAVC), &ev)
	if got := string(c.Value(KeyName)); got != "/tmp/a b" {
		t.Errorf("clone name = %q", got)
	}
	if got := c.String(KeyProfile); got != "myapp" {
		t.Errorf("clone profile = %q", got)
	}
	if c.Serial != 202 || c.Time.Msec != 102 {
		t.Errorf("clone header = %d %v", c.Serial, c.Time)
	}
}

func TestLookupUnknownAndRenamed(t *testing.T) {
	p := NewParser()
	var ev Event
	if err := p.Parse([]byte(`audit: type=1400 audit(1.001:2): apparmor="DENIED" operation="connect" class="net" profile="p" requested="send" denied="send" tclass=foo`), &ev); err != nil {
		t.Fatal(err)
	}
	if v, ok := ev.Lookup("tclass"); !ok || string(v) != "foo" {
		t.Errorf("Lookup(tclass) = %q, %v", v, ok)
	}
	if v, ok := ev.Lookup("requested_mask"); !ok || string(v) != "send" {
		t.Errorf("Lookup(requested_mask) = %q, %v", v, ok)
	}
	if !ev.Denied() || ev.Class() != "net" {
		t.Errorf("Denied %v Class %q", ev.Denied(), ev.Class())
	}
}

func TestDedupWindowIsBounded(t *testing.T) {
	var s Stream
	ev := Event{Kind: KindEvent, Type: TypeAVC, Time: Stamp{Sec: 1}}
	const n = 5*DedupWindow + 10
	for i := range n {
		ev.Serial = uint64(i + 1)
		if !s.Add(&ev) {
			t.Fatalf("serial %d taken for a duplicate", i+1)
		}
	}
	if l := s.dedup.len(); l < DedupWindow || l > 2*DedupWindow {
		t.Errorf("window holds %d keys, want %d to %d", l, DedupWindow, 2*DedupWindow)
	}
	ev.Serial = 1 // long evicted: no longer recognised
	if !s.Add(&ev) {
		t.Error("evicted key still recognised")
	}
	for back := range DedupWindow - 1 { // the last DedupWindow are always recognised
		ev.Serial = uint64(n - back)
		if s.Add(&ev) {
			t.Fatalf("duplicate of the %d-th last event delivered", back+1)
		}
	}
}

func TestReaderLongLine(t *testing.T) {
	in := lineAVC + "\n" + strings.Repeat("x", 300) + "apparmor=\n" + strings.Replace(lineAVC, ":601)", ":602)", 1) + "\n"
	var bad []*SyntaxError
	r := NewReader(iotest.HalfReader(strings.NewReader(in)), ReaderOptions{Name: "f", MaxLine: 256, OnBad: func(e *SyntaxError) { bad = append(bad, e) }})
	n := 0
	for r.Next() {
		n++
		if r.Line() != 1 && r.Line() != 3 {
			t.Errorf("event on line %d", r.Line())
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 2 || len(bad) != 1 || bad[0].Line != 2 || r.Stats().Lines != 3 {
		t.Errorf("events %d, bad %v, stats %+v", n, bad, r.Stats())
	}
}

// Export records must come out the same however the input is split.
func TestReaderExportOneByte(t *testing.T) {
	data, err := os.ReadFile("testdata/journal-export.log")
	if err != nil {
		t.Fatal(err)
	}
	whole := render(t, "x", data)
	var out bytes.Buffer
	r := NewReader(iotest.OneByteReader(bytes.NewReader(data)), ReaderOptions{})
	for r.Next() {
		out.WriteString(r.Event().Format.String())
	}
	if !r.Export() || r.Stats().Events != 3 || !bytes.Contains(whole, []byte("journal-export")) {
		t.Errorf("one-byte reads: export %v stats %+v", r.Export(), r.Stats())
	}
}

// The window must agree with a model: every key among the last DedupWindow
// distinct ones is recognised, and none older than the last 2*DedupWindow.
func TestDedupSetMatchesModel(t *testing.T) {
	var d dedupSet
	last := map[uint64]int{} // key -> index of its insertion among distinct keys
	inserted := 0
	x := uint64(1)
	for i := range 300000 {
		x = x*6364136223846793005 + 1442695040888963407
		k := x>>49 + 1 // few distinct keys: many repeats and probe collisions
		if i%3 == 0 {
			k = mix64(x) | 1
		}
		age, known := inserted, false
		if at, ok := last[k]; ok {
			age, known = inserted-at, true
		}
		got := d.seen(k, k%5000) // serials that go up and down
		switch {
		case known && age <= DedupWindow && !got:
			t.Fatalf("step %d: key inserted %d keys ago not recognised", i, age)
		case (!known || age > 2*DedupWindow) && got:
			t.Fatalf("step %d: key inserted %d keys ago (known %v) still recognised", i, age, known)
		}
		if !got {
			last[k] = inserted
			inserted++
		}
	}
}

// The same model with serials that mostly grow, as the kernel's do: runs of
// new events (some longer than the ring that holds them until a lookup),
// each followed by events seen again at every age.
func TestDedupSetGrowingSerialsMatchModel(t *testing.T) {
	var d dedupSet
	var serials []uint64     // of the events so far, in order; serial i+1 has key mix64(i+1)|1
	last := map[uint64]int{} // key -> index of its insertion among distinct keys
	inserted := 0
	x := uint64(7)
	rnd := func(n int) int {
		x = x*6364136223846793005 + 1442695040888963407
		return int(x>>33) % n
	}
	for range 60 {
		for range 1 + rnd(3*DedupWindow) {
			serial := uint64(len(serials) + 1)
			if d.seen(mix64(serial)|1, serial) {
				t.Fatalf("new serial %d taken for a duplicate", serial)
			}
			serials = append(serials, serial)
			last[mix64(serial)|1] = inserted
			inserted++
		}
		for range 1 + rnd(20) {
			serial := serials[len(serials)-1-rnd(min(len(serials), 3*DedupWindow))]
			k := mix64(serial) | 1
			age := inserted - last[k]
			got := d.seen(k, serial)
			switch {
			case age <= DedupWindow && !got:
				t.Fatalf("key of age %d not recognised", age)
			case age > 2*DedupWindow && got:
				t.Fatalf("key of age %d still recognised", age)
			}
			if !got {
				last[k] = inserted
				inserted++
			}
		}
	}
}

// JSON output (armorer events --json) costs no allocation per event either.
func TestAppendJSONAllocs(t *testing.T) {
	p := NewParser()
	var ev Event
	line := []byte("type=USER_AVC msg=audit(1764054000.106:206): pid=712 uid=101 subj=unconfined msg='apparmor=\"DENIED\" operation=\"dbus_method_call\" bus=\"system\" name=2F612062 pid=4246 label=\"myapp\" tcontext=x'\x1dUID=\"messagebus\"")
	buf := make([]byte, 0, 4096)
	n := testing.AllocsPerRun(100, func() {
		if err := p.Parse(line, &ev); err != nil {
			t.Fatal(err)
		}
		buf = ev.AppendJSON(buf[:0], "f", 1)
	})
	if n != 0 {
		t.Errorf("Parse+AppendJSON allocates %v times per event", n)
	}
	want := `{"time":"2025-11-25T07:00:00.106Z","serial":206,"type":"USER_AVC","uid":101,"subj":"unconfined","apparmor":"DENIED","operation":"dbus_method_call","bus":"system","name":"/a b","pid":4246,"label":"myapp","tcontext":"x","UID":"messagebus","source":"f","line":1}`
	if string(buf) != want {
		t.Errorf("JSON\n%s\nwant\n%s", buf, want)
	}
}

// exportRecord builds one journalctl -o export record with a cursor and the
// given fields, and the blank line that ends it.
func exportRecord(cursor string, fields ...[]byte) []byte {
	b := []byte("__CURSOR=s=1;i=" + cursor + "\n")
	for _, f := range fields {
		b = append(b, f...)
	}
	return append(b, '\n')
}

func textField(name, value string) []byte { return []byte(name + "=" + value + "\n") }

// binaryField is NAME, '\n', the little-endian length, the data and '\n'.
func binaryField(name string, data []byte) []byte {
	b := append([]byte(name+"\n"), binary.LittleEndian.AppendUint64(nil, uint64(len(data)))...)
	return append(append(b, data...), '\n')
}

// bigField is a binary MESSAGE of n bytes with newlines in it.
func bigField(n int) []byte {
	unit := []byte("apparmor=\"DENIED\"\n")
	return binaryField("MESSAGE", bytes.Repeat(unit, n/len(unit)+1)[:n])
}

func kernelAVC(serial int) string {
	return fmt.Sprintf(`audit: type=1400 audit(1764054003.001:%d): apparmor="DENIED" operation="open" profile="myapp" name="/etc/x" pid=7001 comm="myapp" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`, serial)
}

// Issue 13.9: a journal export field over the line limit (1 MiB by
// default) is skipped and counted, as an over-long text line is, and the
// records after it are still read.
func TestReaderExportOversizeField(t *testing.T) {
	var in []byte
	in = append(in, exportRecord("a1", textField("_TRANSPORT", "kernel"), textField("MESSAGE", kernelAVC(1)))...)
	in = append(in, exportRecord("a2", textField("_TRANSPORT", "kernel"), bigField(DefaultMaxLine+10), textField("_PID", "1"))...)
	in = append(in, exportRecord("a3", textField("_TRANSPORT", "kernel"), textField("MESSAGE", kernelAVC(3)))...)
	in = append(in, exportRecord("a4", textField("_TRANSPORT", "kernel"), bigField(2*DefaultMaxLine))...)
	in = append(in, exportRecord("a5", textField("_TRANSPORT", "kernel"), textField("MESSAGE", kernelAVC(5)))...)
	for name, r := range map[string]io.Reader{
		"whole":  bytes.NewReader(in),
		"bytes":  iotest.OneByteReader(bytes.NewReader(in)),
		"halves": iotest.HalfReader(bytes.NewReader(in)),
	} {
		t.Run(name, func(t *testing.T) {
			var bad []*SyntaxError
			rd := NewReader(r, ReaderOptions{Name: "j", OnBad: func(e *SyntaxError) { bad = append(bad, e) }})
			var lines []int64
			for rd.Next() {
				lines = append(lines, rd.Line())
			}
			if err := rd.Err(); err != nil {
				t.Fatalf("the read stopped: %v", err)
			}
			st := rd.Stats()
			if !slices.Equal(lines, []int64{1, 3, 5}) || st.Events != 3 || st.Bad != 2 || st.Lines != 5 {
				t.Errorf("events on records %v, stats %+v", lines, st)
			}
			if len(bad) != 2 || bad[0].Line != 2 || bad[1].Line != 4 || !strings.Contains(bad[0].Msg, "longer than") {
				t.Errorf("bad records %v", bad)
			}
		})
	}
}

// The end of the input arrives while an oversize field is being skipped,
// with records after it: they are still read.
func TestReaderExportOversizeFieldAtEOF(t *testing.T) {
	in := exportRecord("a1", textField("_TRANSPORT", "kernel"), bigField(600), textField("_PID", "1"))
	in = append(in, exportRecord("a2", textField("_TRANSPORT", "kernel"), textField("MESSAGE", kernelAVC(2)))...)
	// One read returns everything but the first 100 bytes, with io.EOF.
	r := io.MultiReader(bytes.NewReader(in[:100]), iotest.DataErrReader(bytes.NewReader(in[100:])))
	rd := NewReader(r, ReaderOptions{MaxLine: 512})
	for rd.Next() {
	}
	if st := rd.Stats(); rd.Err() != nil || st.Events != 1 || st.Bad != 1 || st.Lines != 2 {
		t.Errorf("err %v, stats %+v", rd.Err(), st)
	}
}

// A journal export record longer than MaxLine though none of its fields
// is (text fields and a binary MESSAGE; text fields only; one text field
// over the limit; an oversize binary field then more text than the limit)
// is skipped and counted as one bad record, as an over-long text line is,
// and the record after it is still read, however the input arrives.
func TestReaderExportLongRecord(t *testing.T) {
	const max = 512
	var many [][]byte
	for i := range 20 {
		many = append(many, textField(fmt.Sprintf("FIELD_%02d", i), strings.Repeat("v", 30)))
	}
	for name, rec := range map[string][]byte{
		"text+binary": exportRecord("a1", textField("_TRANSPORT", "kernel"), textField("SYSLOG_IDENTIFIER", strings.Repeat("k", 200)), binaryField("MESSAGE", bytes.Repeat([]byte("x\n"), 200))),
		"text":        exportRecord("a1", many...),
		"long text":   exportRecord("a1", textField("_TRANSPORT", "kernel"), textField("MESSAGE", strings.Repeat("m", 2*max))),
		"big+text":    exportRecord("a1", append([][]byte{bigField(600)}, many...)...),
	} {
		in := append(rec, exportRecord("b1", textField("_TRANSPORT", "kernel"), textField("MESSAGE", kernelAVC(2)))...)
		for how, r := range map[string]func() *Reader{
			"whole": func() *Reader { return NewReader(bytes.NewReader(in), ReaderOptions{MaxLine: max}) },
			"bytes": func() *Reader {
				return NewReader(iotest.OneByteReader(bytes.NewReader(in)), ReaderOptions{MaxLine: max})
			},
			"halves": func() *Reader { return NewReader(iotest.HalfReader(bytes.NewReader(in)), ReaderOptions{MaxLine: max}) },
			"eof": func() *Reader {
				return NewReader(iotest.DataErrReader(bytes.NewReader(in)), ReaderOptions{MaxLine: max})
			},
			"inplace": func() *Reader { return NewBytesReader(in, ReaderOptions{MaxLine: max}) },
		} {
			t.Run(name+"/"+how, func(t *testing.T) {
				var bad []*SyntaxError
				rd := r()
				rd.opts.OnBad = func(e *SyntaxError) { bad = append(bad, e) }
				var lines []int64
				for rd.Next() {
					lines = append(lines, rd.Line())
					if s := rd.Event().String(KeyProfile); s != "myapp" {
						t.Errorf("event on record %d: profile %q", rd.Line(), s)
					}
				}
				if err := rd.Err(); err != nil {
					t.Fatalf("the read stopped: %v", err)
				}
				st := rd.Stats()
				if !slices.Equal(lines, []int64{2}) || st.Events != 1 || st.Bad != 1 || st.Lines != 2 {
					t.Errorf("events on records %v, stats %+v", lines, st)
				}
				if len(bad) != 1 || bad[0].Line != 1 || !strings.Contains(bad[0].Msg, "longer than 512 bytes") {
					t.Errorf("bad records %v", bad)
				}
			})
		}
	}
}

// In place, the first line (read before the format is known) is held to
// MaxLine as the others are: one of MaxLine bytes or more is skipped and
// counted, as through a buffer (FuzzReader a3de31a26f8bc67f).
func TestBytesReaderLongFirstLine(t *testing.T) {
	for _, n := range []int{256, 257, 600} {
		in := []byte(strings.Repeat("0", n) + "\n" + lineAVC + "\n")
		for how, rd := range map[string]*Reader{
			"buffered": NewReader(bytes.NewReader(in), ReaderOptions{MaxLine: 256}),
			"inplace":  NewBytesReader(in, ReaderOptions{MaxLine: 256}),
		} {
			var lines []int64
			for rd.Next() {
				lines = append(lines, rd.Line())
			}
			if st := rd.Stats(); rd.Err() != nil || !slices.Equal(lines, []int64{2}) || st.Bad != 1 || st.Lines != 2 {
				t.Errorf("%s, first line of %d bytes: err %v, events on lines %v, stats %+v", how, n, rd.Err(), lines, st)
			}
		}
	}
}
