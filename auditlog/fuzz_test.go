package auditlog

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// FuzzParse: no panic on any line; the line is not modified; an event's
// JSON is valid; a Clone renders the same JSON; memory stays bounded by the
// line (fields never outnumber its bytes).
func FuzzParse(f *testing.F) {
	for _, in := range goldenInputs(f) {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			f.Add(l)
		}
	}
	p := NewParser()
	var ev Event
	f.Fuzz(func(t *testing.T, line []byte) {
		orig := bytes.Clone(line)
		err := p.Parse(line, &ev)
		if !bytes.Equal(line, orig) {
			t.Fatal("Parse modified its input")
		}
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error %T %v, want *SyntaxError", err, err)
			}
			return
		}
		if len(ev.Fields) > len(line) {
			t.Fatalf("%d fields from %d bytes", len(ev.Fields), len(line))
		}
		if ev.Kind != KindEvent {
			return
		}
		js := ev.AppendJSON(nil, "f", 1)
		if !json.Valid(js) {
			t.Fatalf("invalid JSON %s", js)
		}
		if c := ev.Clone(); !bytes.Equal(c.AppendJSON(nil, "f", 1), js) {
			t.Fatalf("clone renders differently")
		}
		_ = ev.Class()
		var st Stream
		st.Add(&ev)
	})
}
