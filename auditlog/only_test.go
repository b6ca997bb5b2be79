package auditlog

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"testing"
)

// summaryKeys are what events --summary keeps: Class's keys and the
// label, operation and name.
var summaryKeys = append(ClassKeys(), KeyProfile, KeyLabel, KeyOperation, KeyName)

// sameWithOnly checks that parsing line with a Parser that keeps only keys
// gives what a full parse gives: the same error, kind, header, class and
// values of the kept keys, and no other fields.
func sameWithOnly(t *testing.T, full, only *Parser, line []byte, keys []Key) {
	t.Helper()
	var a, b Event
	errA, errB := full.Parse(line, &a), only.Parse(line, &b)
	if fmt.Sprint(errA) != fmt.Sprint(errB) {
		t.Fatalf("%q: error %v, with Only %v", line, errA, errB)
	}
	if a.Kind != b.Kind || a.Format != b.Format || a.Type != b.Type || !bytes.Equal(a.Node, b.Node) ||
		a.Time != b.Time || a.Serial != b.Serial || a.Rejected != b.Rejected {
		t.Fatalf("%q: header %+v, with Only %+v", line, a, b)
	}
	if a.Kind != KindEvent && a.Kind != KindRejected {
		return
	}
	classKeys := true
	for _, k := range ClassKeys() {
		classKeys = classKeys && slices.Contains(keys, k)
	}
	if ca, cb := a.Class(), b.Class(); classKeys && ca != cb {
		t.Fatalf("%q: class %q, with Only %q", line, ca, cb)
	}
	if a.Denied() != b.Denied() {
		t.Fatalf("%q: denied %v, with Only %v", line, a.Denied(), b.Denied())
	}
	for k := KeyNone + 1; k < numKeys; k++ {
		kept := k == KeyApparmor || slices.Contains(keys, k) || slices.Contains(ClassKeys(), k)
		switch {
		case kept && (a.Has(k) != b.Has(k) || !bytes.Equal(a.Value(k), b.Value(k))):
			t.Fatalf("%q: %v = %q, with Only %q", line, k, a.Value(k), b.Value(k))
		case !kept && b.Has(k):
			t.Fatalf("%q: %v kept, not asked for", line, k)
		}
	}
	for _, f := range b.Fields {
		if f.Key == KeyNone {
			t.Fatalf("%q: unknown key %s kept", line, f.Name)
		}
	}
}

func TestOnlyGolden(t *testing.T) {
	extra := [][]byte{
		// A repeated key: the last one counts, as Value says.
		[]byte(`audit: type=1400 audit(1764054004.001:601): apparmor="DENIED" operation="open" name="/a" name=2F62 profile="app" name="/c" x=1`),
		[]byte(`audit: type=1400 audit(1764054004.001:601): apparmor="DENIED" operation="open" name="/a" name=2F62 profile="app"`),
		// Errors after and among skipped keys are the same.
		[]byte(`audit: type=1400 audit(1764054004.001:601): apparmor="DENIED" pid=1 comm="x`),
		[]byte(`audit: type=1400 audit(1764054004.001:601): apparmor="DENIED" pid=1 !=2`),
	}
	for _, keys := range [][]Key{summaryKeys, {KeyName}, ClassKeys()} {
		full, only := NewParser(), NewParser()
		only.Only(keys...)
		for _, in := range goldenInputs(t) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range bytes.Split(data, []byte("\n")) {
				sameWithOnly(t, full, only, l, keys)
			}
		}
		for _, l := range extra {
			sameWithOnly(t, full, only, l, keys)
		}
	}
}

func TestOnlyKeepsLast(t *testing.T) {
	p := NewParser()
	p.Only(KeyName)
	var ev Event
	if err := p.Parse([]byte(`audit: type=1400 audit(1764054004.001:601): apparmor="DENIED" name="/a" pid=1 name=2F62 comm="c"`), &ev); err != nil {
		t.Fatal(err)
	}
	if got := string(ev.Value(KeyName)); got != "/b" {
		t.Errorf("name = %q, want the last one, /b", got)
	}
	if len(ev.Fields) != 2 {
		t.Errorf("%d fields, want 2 (apparmor and name)", len(ev.Fields))
	}
	p.Only() // all again
	if err := p.Parse([]byte(lineAVC), &ev); err != nil {
		t.Fatal(err)
	}
	if !ev.Has(KeyPID) || !ev.Has(KeyComm) {
		t.Error("Only() does not keep all keys again")
	}
}

// TestClassKeys: every key whose presence alone decides an event's class
// is in ClassKeys (a line per known key, with an operation that decides
// nothing).
func TestClassKeys(t *testing.T) {
	full, only := NewParser(), NewParser()
	only.Only(ClassKeys()...)
	for k := KeyNone + 1; k < numKeys; k++ {
		line := fmt.Sprintf(`audit: type=1400 audit(1764054004.001:601): apparmor="DENIED" operation="x" %s="v"`, k)
		sameWithOnly(t, full, only, []byte(line), ClassKeys())
	}
}
