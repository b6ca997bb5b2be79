package host

import (
	"errors"
	"fmt"
	"go/token"
	"slices"

	"github.com/armorer-dev/armorer/policy"
)

// modeFlags are the profile flags that set a mode; a profile has at most
// one, and none means enforce.
var modeFlags = []string{"complain", "enforce", "kill", "unconfined", "prompt", "default_allow"}

// SetModeFlags returns src with the flags of every profile in it (children
// and hats too, since each has its own mode) set to mode: complain adds
// "complain", enforce removes the mode flag (enforce is the default); other
// flags (attach_disconnected, ...) stay in their order. The edit goes
// through policy.Edits: only each changed profile header is rewritten, in
// the policy printer's style; every other byte of the file is kept.
// filename is for errors.
func SetModeFlags(filename string, src []byte, mode Mode) ([]byte, error) {
	if mode != Complain && mode != Enforce {
		return nil, fmt.Errorf("set mode %s: only complain and enforce", mode)
	}
	fset := token.NewFileSet()
	f, err := policy.ParseFile(fset, filename, src, policy.ParseComments)
	if err != nil {
		return nil, &InvalidProfileError{&ParserError{Op: "parse", File: filename, Stderr: err.Error(), Err: err}}
	}
	found := 0
	for n := range policy.Preorder(f) {
		if p, ok := n.(*policy.Profile); ok {
			found++
			if flags, changed := withMode(p.Flags, mode); changed {
				p.Flags = flags
			}
		}
	}
	if found == 0 {
		return nil, &InvalidProfileError{&ParserError{Op: "set mode", File: filename, Stderr: "the file defines no profile", Err: errors.New("no profile")}}
	}
	edits, err := policy.Edits(fset, src, f)
	if err != nil {
		return nil, fmt.Errorf("set mode in %s: %w", filename, err)
	}
	out, err := policy.ApplyEdits(fset, src, edits)
	if err != nil {
		return nil, fmt.Errorf("set mode in %s: %w", filename, err)
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
