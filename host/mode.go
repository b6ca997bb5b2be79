package host

import (
	"bytes"
	"errors"
	"fmt"
	"go/token"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/policy"
)

// modeFlags are the profile flags that set a mode; a profile has at most
// one, and none means enforce.
var modeFlags = []string{"complain", "enforce", "kill", "unconfined", "prompt", "default_allow"}

// SetModeFlags returns src with the flags of every profile in it (children
// and hats too, since each has its own mode) set to mode: complain adds
// "complain", enforce removes the mode flag (enforce is the default); other
// flags (attach_disconnected, ...) stay in their order. Only each changed
// profile header is rewritten, printed from the edited AST by the policy
// printer; every other byte of the file is kept. filename is for errors.
func SetModeFlags(filename string, src []byte, mode Mode) ([]byte, error) {
	if mode != Complain && mode != Enforce {
		return nil, fmt.Errorf("set mode %s: only complain and enforce", mode)
	}
	fset := token.NewFileSet()
	f, err := policy.ParseFile(fset, filename, src, policy.ParseComments)
	if err != nil {
		return nil, &InvalidProfileError{&ParserError{Op: "parse", File: filename, Stderr: err.Error(), Err: err}}
	}
	type edit struct {
		from, to int
		text     []byte
	}
	var edits []edit
	found := 0
	for n := range policy.Preorder(f) {
		p, ok := n.(*policy.Profile)
		if !ok {
			continue
		}
		found++
		flags, changed := withMode(p.Flags, mode)
		if !changed {
			continue
		}
		from, to, err := headerSpan(fset, src, p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filename, err)
		}
		text, err := printHeader(fset, p, flags)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filename, err)
		}
		edits = append(edits, edit{from, to, text})
	}
	if found == 0 {
		return nil, &InvalidProfileError{&ParserError{Op: "set mode", File: filename, Stderr: "the file defines no profile", Err: errors.New("no profile")}}
	}
	out := slices.Clone(src)
	slices.SortFunc(edits, func(a, b edit) int { return b.from - a.from }) // back to front: offsets stay valid
	for _, e := range edits {
		out = slices.Concat(out[:e.from], e.text, out[e.to:])
	}
	if err := checkModes(filename, out, mode); err != nil {
		return nil, err
	}
	return out, nil
}

// withMode returns flags with mode set, and whether anything changed.
// The written form (flags= or the bare parenthesis, commas or spaces) and
// the other flags, in their order, are kept.
func withMode(flags *policy.Cond, mode Mode) (*policy.Cond, bool) {
	key := &policy.Word{Raw: "flags"}
	var words []*policy.Word
	commas := false
	if flags != nil {
		key = flags.Key // nil for the bare "(complain)" form
		if flags.Value != nil {
			words, commas = flags.Value.Words, flags.Value.Commas
		}
	}
	var kept []*policy.Word
	var modes []string
	for _, w := range words {
		if slices.Contains(modeFlags, w.Value()) {
			modes = append(modes, w.Value())
			continue
		}
		kept = append(kept, &policy.Word{Raw: w.Raw})
	}
	switch {
	case mode == Enforce && len(modes) == 0:
		return flags, false
	case mode == Complain && len(modes) == 1 && modes[0] == "complain":
		return flags, false
	}
	if mode == Complain {
		kept = append([]*policy.Word{{Raw: "complain"}}, kept...)
	}
	if len(kept) == 0 {
		return nil, true
	}
	return &policy.Cond{Key: key, Value: &policy.List{Paren: true, Commas: commas, Words: kept}}, true
}

// headerSpan is the byte range of p's header: from its first character
// to the '{' that opens its body (exclusive).
func headerSpan(fset *token.FileSet, src []byte, p *policy.Profile) (int, int, error) {
	from := fset.Position(p.Pos()).Offset
	end := p.Name.End()
	if p.Attach != nil {
		end = max(end, p.Attach.End())
	}
	if p.Xattrs != nil {
		end = max(end, p.Xattrs.End())
	}
	if p.Flags != nil {
		end = max(end, p.Flags.End())
	}
	at := fset.Position(end).Offset
	rest := src[at:]
	i := bytes.IndexByte(rest, '{')
	if i < 0 || strings.TrimSpace(string(rest[:i])) != "" {
		return 0, 0, fmt.Errorf("%s: cannot find the '{' of profile %s right after its header", fset.Position(p.Pos()), p.Name.Raw)
	}
	to := at + i
	// Keep the whitespace before '{' as written.
	for to > at && (src[to-1] == ' ' || src[to-1] == '\t') {
		to--
	}
	return from, to, nil
}

// printHeader prints p's header with new flags through the policy
// printer: a copy of the profile without body or comments, cut before
// its " {".
func printHeader(fset *token.FileSet, p *policy.Profile, flags *policy.Cond) ([]byte, error) {
	hdr := &policy.Profile{Keyword: p.Keyword, Name: p.Name, Attach: p.Attach, Xattrs: p.Xattrs, Flags: flags}
	var b bytes.Buffer
	if err := policy.Format(&b, fset, hdr); err != nil {
		return nil, err
	}
	text := b.Bytes()
	i := bytes.LastIndex(text, []byte(" {"))
	if i < 0 {
		return nil, fmt.Errorf("printing the header of %s gave %q", p.Name.Raw, text)
	}
	return bytes.TrimLeft(text[:i], " \t\n"), nil
}

// checkModes re-parses the edited text and checks every profile now has
// the wanted mode: the edit must never produce anything else.
func checkModes(filename string, src []byte, mode Mode) error {
	f, err := policy.ParseFile(token.NewFileSet(), filename, src, policy.ParseComments)
	if err != nil {
		return fmt.Errorf("set mode in %s: the edited file does not parse: %w", filename, err)
	}
	for n := range policy.Preorder(f) {
		p, ok := n.(*policy.Profile)
		if !ok {
			continue
		}
		if got := ProfileMode(p); got != mode {
			return fmt.Errorf("set mode in %s: profile %s has mode %s after the edit, want %s", filename, p.Name.Raw, got, mode)
		}
	}
	return nil
}

// ProfileMode is the mode a profile's flags give it (enforce when none).
func ProfileMode(p *policy.Profile) Mode {
	if p.Flags == nil || p.Flags.Value == nil {
		return Enforce
	}
	for _, w := range p.Flags.Value.Words {
		switch v := w.Value(); v {
		case "complain", "kill", "unconfined", "prompt":
			return Mode(v)
		case "default_allow":
			return Unconfined
		}
	}
	return Enforce
}
