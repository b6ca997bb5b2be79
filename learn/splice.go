package learn

import (
	"bytes"
	"go/token"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/policy"
)

// splice returns the text of an edited file as the original bytes plus
// the rules learn inserted, each printed (canonical style) on its own
// lines after the line of the nearest parsed rule before it (or of the
// block's '{'). Learn only inserts, so everything the user wrote stays
// byte for byte: the diff shows additions only, never a reformatting.
func splice(fset *token.FileSet, old []byte, f *policy.File) ([]byte, bool) {
	type insertion struct {
		at   int
		text []byte
	}
	var ins []insertion
	ok := true
	offset := func(p token.Pos) int {
		if !p.IsValid() {
			ok = false
			return 0
		}
		off := fset.Position(p).Offset
		if off < 0 || off > len(old) {
			ok = false
			return 0
		}
		return off
	}
	lineEnd := func(off int) int {
		if i := bytes.IndexByte(old[off:], '\n'); i >= 0 {
			return off + i + 1
		}
		return len(old)
	}
	// indentOf is the leading whitespace of the line holding offset off.
	indentOf := func(off int) string {
		start := bytes.LastIndexByte(old[:off], '\n') + 1
		end := start
		for end < len(old) && (old[end] == ' ' || old[end] == '\t') {
			end++
		}
		return string(old[start:end])
	}
	var walk func(body []policy.Rule, open int, level int)
	walk = func(body []policy.Rule, open int, level int) {
		anchor := open // insert after this offset's line
		// New rules take the indentation of their parsed neighbours.
		indent := strings.Repeat("  ", level)
		for _, r := range body {
			if r.Pos().IsValid() {
				indent = indentOf(offset(r.Pos()))
				break
			}
		}
		for _, r := range body {
			if !ok {
				return
			}
			if r.Pos().IsValid() {
				indent = indentOf(offset(r.Pos()))
				m := r.RuleMeta()
				end := r.End()
				if m != nil && m.Line != nil && m.Line.End().IsValid() {
					end = m.Line.End()
				}
				anchor = lineEnd(offset(end - 1))
				if p, isProf := r.(*policy.Profile); isProf {
					walk(p.Body, lineEnd(offset(p.Lbrace)), level+1)
				}
				continue
			}
			var b bytes.Buffer
			if err := policy.Format(&b, nil, r); err != nil {
				ok = false
				return
			}
			var text []byte
			if m := r.RuleMeta(); m != nil && m.Hint == policy.NewSection {
				text = append(text, '\n')
			}
			for line := range strings.Lines(b.String()) {
				if strings.TrimSpace(line) != "" {
					text = append(text, indent...)
				}
				text = append(text, line...)
			}
			ins = append(ins, insertion{at: anchor, text: text})
		}
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		old = append(slices.Clip(old), '\n')
	}
	walk(f.Rules, 0, 0)
	if !ok {
		return nil, false
	}
	var out bytes.Buffer
	last := 0
	for _, in := range ins { // in body order, so anchors never decrease
		if in.at < last {
			return nil, false
		}
		out.Write(old[last:in.at])
		out.Write(in.text)
		last = in.at
	}
	out.Write(old[last:])
	return out.Bytes(), true
}
