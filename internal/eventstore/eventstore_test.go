package eventstore

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/auditlog"
)

// fixtures are real kernel logs (and auditd/ubuntu hand-written forms).
var fixtures = []string{
	"../../auditlog/testdata/classes-6.1.log",
	"../../auditlog/testdata/classes-6.12.log",
	"../../auditlog/testdata/auditd.log",
	"../../auditlog/testdata/ubuntu.log",
	"../../test/e2e/testdata/myapp-complain-debian12-6.1.log",
	"../../test/e2e/testdata/myapp-complain-debian13-6.12.log",
}

func readEvents(t testing.TB, name string, fn func(ev *auditlog.Event, line int64)) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := auditlog.NewReader(f, auditlog.ReaderOptions{Name: name})
	for r.Next() {
		fn(r.Event(), r.Line())
	}
}

// eventJSON is the JSON of an event without the fields a store line
// cannot keep (serial, node, source, line).
func eventJSON(ev *auditlog.Event) string {
	c := ev.Clone()
	c.Serial, c.Node, c.Cursor = 0, nil, nil
	return string(c.AppendJSON(nil, "", 0))
}

// TestRoundTrip: every event of the fixtures, written as JSON and read
// back through ToAuditd and the parser, has the same JSON again.
func TestRoundTrip(t *testing.T) {
	n := 0
	for _, name := range fixtures {
		readEvents(t, name, func(ev *auditlog.Event, line int64) {
			n++
			want := eventJSON(ev)
			got, err := parseLine(ev.AppendJSON(nil, name, line))
			if err != nil {
				t.Fatalf("%s:%d: %v", name, line, err)
			}
			if g := eventJSON(got); g != want {
				t.Errorf("%s:%d: round trip\n got %s\nwant %s", name, line, g, want)
			}
			if Key(got) != Key(ev) {
				t.Errorf("%s:%d: key changed", name, line)
			}
		})
	}
	if n < 100 {
		t.Fatalf("only %d fixture events", n)
	}
}

func TestToAuditdEncoding(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"time":"2024-05-01T10:00:00.123Z","serial":7,"type":"AVC","apparmor":"ALLOWED","operation":"open","profile":"a","name":"/x y","pid":12,"source":"s","line":3}`,
			`type=AVC msg=audit(1714557600.123:0): apparmor="ALLOWED" operation="open" profile="a" name="/x y" pid=12`},
		{`{"apparmor":"DENIED","name":"a\"b\n"}`, `type=AVC msg=audit(0.000:0): apparmor="DENIED" name=6122620A`},
		{`{"apparmor":"DENIED","name":"\ufffd","name_hex":"ff"}`, `type=AVC msg=audit(0.000:0): apparmor="DENIED" name=FF`},
	} {
		got, err := ToAuditd([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("ToAuditd(%s) = %s, %v\nwant %s", tc.in, got, err, tc.want)
		}
	}
	// A _hex twin is hex or nothing: a stored or published event must not
	// write a second record into the line it becomes.
	for _, bad := range []string{``, `[]`, `{"a b":"c"}`, `{"apparmor":{}}`, `{"time":"yesterday"}`, `{"apparmor":"x"`,
		`{"apparmor":"ALLOWED","name":"x","name_hex":"41\ntype=AVC msg=audit(1.000:1): apparmor=\"ALLOWED\" profile=\"sshd\" name=\"/etc/shadow\""}`,
		`{"apparmor":"ALLOWED","name":"x","name_hex":"41 profile=sshd"}`, `{"name":"x","name_hex":"4"}`} {
		if _, err := ToAuditd([]byte(bad)); err == nil {
			t.Errorf("ToAuditd(%q): no error", bad)
		}
	}
}

func TestSaveDedupCapAndRead(t *testing.T) {
	s := New(t.TempDir())
	b := NewBatch()
	total := 0
	readEvents(t, fixtures[4], func(ev *auditlog.Event, line int64) {
		total++
		b.Add(ev, "fixture", line)
		b.Add(ev, "fixture", line) // twice: kept once
	})
	prof := b.Profiles()
	if len(prof) != 1 || prof[0] != "myapp" {
		t.Fatalf("profiles = %q, want [myapp] (children folded in)", prof)
	}
	distinct := b.Len("myapp")
	if distinct == 0 || distinct >= total {
		t.Fatalf("%d distinct of %d events: dedup did nothing?", distinct, total)
	}
	sv, err := s.Save(b)
	if err != nil || len(sv) != 1 || sv[0].Added != distinct || sv[0].Total != distinct || sv[0].Dropped != 0 {
		t.Fatalf("Save = %+v, %v", sv, err)
	}
	// Saving the same events again adds nothing and leaves the file alone.
	before, _ := os.ReadFile(s.Path("myapp"))
	if sv, err := s.Save(b); err != nil || sv[0].Added != 0 || sv[0].Total != distinct {
		t.Fatalf("second Save = %+v, %v", sv, err)
	}
	after, _ := os.ReadFile(s.Path("myapp"))
	if !bytes.Equal(before, after) {
		t.Error("second Save rewrote the file")
	}
	if n, err := s.Count("myapp//null-/bin/x"); err != nil || n != distinct {
		t.Errorf("Count(child) = %d, %v; want %d", n, err, distinct)
	}
	if n, err := s.Count("other"); err != nil || n != 0 {
		t.Errorf("Count(other) = %d, %v", n, err)
	}
	// The audit log form reads back as the same events.
	log, err := s.AuditLog("myapp")
	if err != nil {
		t.Fatal(err)
	}
	r := auditlog.NewReader(bytes.NewReader(log), auditlog.ReaderOptions{})
	var i int
	var fromFile []string
	s.Events("myapp", func(ev *auditlog.Event) { fromFile = append(fromFile, eventJSON(ev)) })
	for r.Next() {
		if eventJSON(r.Event()) != fromFile[i] {
			t.Errorf("audit log line %d differs", i+1)
		}
		i++
	}
	if i != distinct {
		t.Errorf("audit log has %d events, want %d", i, distinct)
	}

	// The cap drops the oldest lines.
	small := &Store{Dir: filepath.Join(t.TempDir(), "events"), MaxBytes: len(before) / 2}
	sv, err = small.Save(b)
	if err != nil || sv[0].Dropped == 0 || sv[0].Total+sv[0].Dropped != distinct {
		t.Fatalf("capped Save = %+v, %v", sv, err)
	}
	capped, _ := os.ReadFile(small.Path("myapp"))
	if len(capped) > len(before)/2 || !bytes.HasSuffix(before, capped) {
		t.Errorf("capped file (%d bytes) is not the newest lines of the full one", len(capped))
	}
}

func TestPathEscaping(t *testing.T) {
	s := &Store{Dir: "/s"}
	for name, want := range map[string]string{
		"myapp":           "/s/myapp.jsonl",
		"/usr/bin/foo":    "/s/%2Fusr%2Fbin%2Ffoo.jsonl",
		"..":              "/s/%2E..jsonl",
		"a//null-/bin/sh": "/s/a.jsonl",
		"a (complain)":    "/s/a.jsonl",
		"name with space": "/s/name%20with%20space.jsonl",
	} {
		if got := s.Path(name); got != want {
			t.Errorf("Path(%q) = %q, want %q", name, got, want)
		}
		if strings.Count(strings.TrimPrefix(s.Path(name), "/s/"), "/") != 0 {
			t.Errorf("Path(%q) leaves the directory", name)
		}
	}
}

func TestCorruptLine(t *testing.T) {
	s := New(t.TempDir())
	os.MkdirAll(s.Dir, 0o700)
	os.WriteFile(s.Path("p"), []byte(`{"apparmor":"ALLOWED","profile":"p","operation":"open","name":"/x"}`+"\nnot json\n"), 0o600)
	_, err := s.Count("p")
	if err == nil || !strings.Contains(err.Error(), "p.jsonl:2:") {
		t.Errorf("Count on a corrupt file: %v, want an error naming line 2", err)
	}
}

func FuzzToAuditd(f *testing.F) {
	for _, name := range fixtures[:2] {
		readEvents(f, name, func(ev *auditlog.Event, line int64) { f.Add(ev.AppendJSON(nil, "x", line)) })
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		text, err := ToAuditd(obj)
		if err != nil {
			return
		}
		var ev auditlog.Event
		auditlog.NewParser().Parse(text, &ev) // must not panic
	})
}

// BenchmarkBatchAdd measures what learn --write adds per event: the
// dedup key, and the JSON of each new distinct event.
func BenchmarkBatchAdd(b *testing.B) {
	data, err := os.ReadFile(fixtures[4])
	if err != nil {
		b.Fatal(err)
	}
	var evs []*auditlog.Event
	r := auditlog.NewReader(bytes.NewReader(data), auditlog.ReaderOptions{})
	for r.Next() {
		evs = append(evs, r.Event().Clone())
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		batch := NewBatch()
		for i, ev := range evs {
			batch.Add(ev, "bench", int64(i))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
}

// BenchmarkAuditLog measures reading a full store back (enforce's gate).
func BenchmarkAuditLog(b *testing.B) {
	s := New(b.TempDir())
	batch := NewBatch()
	for _, name := range fixtures {
		readEvents(b, name, func(ev *auditlog.Event, line int64) { batch.Add(ev, name, line) })
	}
	if _, err := s.Save(batch); err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, p := range batch.Profiles() {
		fi, _ := os.Stat(s.Path(p))
		size += fi.Size()
	}
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		for _, p := range batch.Profiles() {
			if _, err := s.AuditLog(p); err != nil {
				b.Fatal(err)
			}
		}
	}
}
