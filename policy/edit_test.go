package policy_test

import (
	"bytes"
	"fmt"
	"go/token"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/armorer-dev/armorer/policy"
)

// editSession is a parsed file and the edits a test makes to it.
type editSession struct {
	t    testing.TB
	fset *token.FileSet
	src  []byte
	f    *policy.File
	n    int // snippets parsed
}

func newEditSession(t testing.TB, src []byte) *editSession {
	fset := token.NewFileSet()
	f, err := policy.ParseFile(fset, "in", src, policy.ParseComments)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return &editSession{t: t, fset: fset, src: src, f: f}
}

// snippet parses rule text as the only rule of a profile, in a file of its
// own (so its positions are not the edited file's): a rule to insert.
func (s *editSession) snippet(text string) policy.Rule {
	s.n++
	f, err := policy.ParseFile(s.fset, fmt.Sprintf("snippet%d", s.n), []byte("profile s {\n"+text+"\n}\n"), policy.ParseComments)
	if err != nil {
		s.t.Fatalf("snippet %q: %v", text, err)
	}
	r := f.Rules[0].(*policy.Profile).Body[0]
	m := r.RuleMeta()
	m.From, m.To, m.Comma = token.NoPos, token.NoPos, token.NoPos // built, as learn builds rules
	return r
}

// at returns the innermost rule that starts on line n.
func (s *editSession) at(n int) policy.Rule {
	var found policy.Rule
	for x := range policy.Preorder(s.f) {
		if r, ok := x.(policy.Rule); ok && r.Pos().IsValid() && s.fset.Position(r.Pos()).Line == n {
			found = r
		}
	}
	if found == nil {
		s.t.Fatalf("no rule starts on line %d", n)
	}
	return found
}

func (s *editSession) profile(name string) *policy.Profile {
	for x := range policy.Preorder(s.f) {
		if p, ok := x.(*policy.Profile); ok && p.Name != nil && p.Name.Raw == name {
			return p
		}
	}
	s.t.Fatalf("no profile %s", name)
	return nil
}

func (s *editSession) line(arg string) policy.Rule {
	n, err := strconv.Atoi(arg)
	if err != nil {
		s.t.Fatalf("bad line %q", arg)
	}
	return s.at(n)
}

// run applies one edit command (see testdata/edit/README).
func (s *editSession) run(cmd string) {
	verb, rest, _ := strings.Cut(cmd, " ")
	arg, text, _ := strings.Cut(rest, " ")
	text = strings.ReplaceAll(text, `\n`, "\n")
	switch verb {
	case "add": // add PROFILE|- RULE
		r := s.snippet(text)
		if arg == "-" {
			s.f.AddRule(nil, r)
		} else {
			s.profile(arg).AddRule(nil, r)
		}
	case "after": // after LINE RULE: into the body holding LINE's rule, after it
		hint := s.line(arg)
		body := s.bodyOf(hint)
		*body = append(*body, nil)
		i := indexOf(*body, hint) + 1
		copy((*body)[i+1:], (*body)[i:])
		(*body)[i] = s.snippet(text)
	case "drop": // drop LINE
		if !s.f.DropRule(s.line(arg)) {
			s.t.Fatalf("drop %s: not found", arg)
		}
	case "cleanup":
		s.f.Cleanup()
	case "flags": // flags PROFILE (a, b) | flags PROFILE -
		p := s.profile(arg)
		if text == "-" {
			p.Flags = nil
		} else {
			p.Flags = s.snippet("profile x flags=" + text + " {}").(*policy.Profile).Flags
		}
	case "perms": // perms LINE PERMS
		s.line(arg).(*policy.FileRule).Perms = policy.NewWord(text)
	case "qual": // qual LINE audit: add audit to the rule's qualifiers
		q := s.line(arg).(policy.Qualified).Qualifiers()
		q.Audit = true
	case "doc": // doc LINE COMMENT|-
		m := s.line(arg).RuleMeta()
		if text == "-" {
			m.Doc = nil
		} else {
			m.Doc = &policy.CommentGroup{List: []*policy.Comment{{Text: text}}}
		}
	case "comment": // comment LINE COMMENT|-: the line comment
		m := s.line(arg).RuleMeta()
		if text == "-" {
			m.Line = nil
		} else {
			m.Line = &policy.CommentGroup{List: []*policy.Comment{{Text: text}}}
		}
	case "move": // move LINE PROFILE: to the end of another profile
		r := s.line(arg)
		body := s.bodyOf(r)
		*body = removeRule(*body, r)
		p := s.profile(text)
		p.Body = append(p.Body, r)
	default:
		s.t.Fatalf("unknown edit %q", cmd)
	}
}

func (s *editSession) bodyOf(r policy.Rule) *[]policy.Rule {
	var found *[]policy.Rule
	for x := range policy.Preorder(s.f) {
		if b := policy.Body(x); b != nil && indexOf(*b, r) >= 0 {
			found = b
		}
	}
	if found == nil {
		s.t.Fatalf("no body holds %T", r)
	}
	return found
}

func indexOf(body []policy.Rule, r policy.Rule) int {
	for i, x := range body {
		if x == r {
			return i
		}
	}
	return -1
}

func removeRule(body []policy.Rule, r policy.Rule) []policy.Rule {
	i := indexOf(body, r)
	return append(body[:i:i], body[i+1:]...)
}

// apply computes and applies the edits, and checks the properties every
// edit must have (see checkEdits).
func (s *editSession) apply() []byte {
	s.t.Helper()
	edits, err := policy.Edits(s.fset, s.src, s.f)
	if err != nil {
		s.t.Fatalf("Edits: %v", err)
	}
	out, err := policy.ApplyEdits(s.fset, s.src, edits)
	if err != nil {
		s.t.Fatalf("ApplyEdits: %v\n--- source ---\n%s--- edits ---\n%v", err, s.src, edits)
	}
	checkEdits(s.t, s.fset, s.src, s.f, edits, out)
	return out
}

// checkEdits: the edited text parses to the edited tree (compared as
// canonical text without blank lines, which are layout), and every byte
// outside the edits' spans is kept, in order.
func checkEdits(t testing.TB, fset *token.FileSet, src []byte, f *policy.File, edits []policy.TextEdit, out []byte) {
	t.Helper()
	g, err := policy.ParseFile(token.NewFileSet(), "out", out, policy.ParseComments)
	if err != nil {
		t.Fatalf("the edited text does not parse: %v\n--- source ---\n%s--- edits ---\n%v\n--- edited text ---\n%s", err, src, edits, out)
	}
	want := noBlankLines(policy.FormatFile(fset, f))
	if got := noBlankLines(policy.FormatFile(nil, g)); got != want {
		t.Fatalf("the edited text parses to another tree:\n--- source ---\n%s--- edits ---\n%v\n--- edited text ---\n%s--- its canonical form ---\n%s--- the edited tree ---\n%s", src, edits, out, got, want)
	}
	base := fset.File(f.Pos()).Base()
	rest := out
	last := 0
	for _, e := range edits {
		lo, hi := int(e.Pos)-base, int(e.End)-base
		kept := src[last:lo]
		if !bytes.HasPrefix(rest, kept) {
			t.Fatalf("bytes %d..%d outside the edits changed", last, lo)
		}
		rest = rest[len(kept):]
		if !bytes.HasPrefix(rest, e.NewText) {
			t.Fatalf("edit %d..%d: its text is not in the output", lo, hi)
		}
		rest = rest[len(e.NewText):]
		last = hi
	}
	if !bytes.Equal(rest, src[last:]) {
		t.Fatalf("bytes after the last edit changed")
	}
}

func noBlankLines(b []byte) string {
	var out []byte
	for line := range bytes.Lines(b) {
		if !blankLine(line) {
			out = append(out, line...)
		}
	}
	return string(out)
}

func blankLine(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// TestEdits runs testdata/edit/*.txtar: "in" is a file, the archive's
// comment lists edit commands (after the first line, which says what the
// case shows), "want" is the exact text Edits and ApplyEdits must give.
// -update rewrites "want".
func TestEdits(t *testing.T) {
	files, _ := filepath.Glob("testdata/edit/*.txtar")
	if len(files) == 0 {
		t.Fatal("no testdata/edit cases")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var in []byte
			want := -1
			for i, f := range ar.Files {
				switch f.Name {
				case "in":
					in = f.Data
				case "want":
					want = i
				}
			}
			s := newEditSession(t, in)
			lines := strings.Split(strings.TrimSpace(string(ar.Comment)), "\n")
			for _, cmd := range lines[1:] {
				if cmd = strings.TrimSpace(cmd); cmd != "" && !strings.HasPrefix(cmd, "#") {
					s.run(cmd)
				}
			}
			got := s.apply()
			if *update {
				if want < 0 {
					ar.Files = append(ar.Files, txtar.File{Name: "want"})
					want = len(ar.Files) - 1
				}
				ar.Files[want].Data = got
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want < 0 {
				t.Fatal("no want section (run with -update)")
			}
			if w := ar.Files[want].Data; !bytes.Equal(got, w) {
				t.Errorf("--- got ---\n%s--- want ---\n%s", got, w)
			}
			// No edit, no change: Edits of an unedited tree is empty.
			fresh := newEditSession(t, in)
			if edits, err := policy.Edits(fresh.fset, fresh.src, fresh.f); err != nil || len(edits) != 0 {
				t.Errorf("Edits of the unedited tree: %v, %v", edits, err)
			}
		})
	}
}

func TestEditsErrors(t *testing.T) {
	src := []byte("profile a {\n  # c\n  /x r,\n}\n")
	s := newEditSession(t, src)
	if _, err := policy.Edits(s.fset, append(src, 'x'), s.f); err == nil {
		t.Error("Edits with other source text succeeded")
	}
	fset := token.NewFileSet()
	f, _ := policy.ParseFile(fset, "in", src, 0)
	if _, err := policy.Edits(fset, src, f); err == nil {
		t.Error("Edits of a tree parsed without comments succeeded")
	}
	if _, err := policy.ApplyEdits(s.fset, src, []policy.TextEdit{{Pos: s.f.Pos() + 3, End: s.f.Pos() + 5}, {Pos: s.f.Pos() + 4, End: s.f.Pos() + 4}}); err == nil {
		t.Error("overlapping edits applied")
	}
}

// FuzzEdits: a random edit of a parsed file (drop a rule, add rules,
// change a file rule's permissions or a profile's flags) gives text that
// parses to the edited tree, and keeps every byte outside the edits.
func FuzzEdits(f *testing.F) {
	addSeeds(f)
	snippets := []string{"capability net_raw,", "/tmp/x rw, # why", "# learned\nnetwork inet stream,",
		"owner @{HOME}/.cache/** rwk,", "profile child {\n  /bin/sh ix,\n}", "include if exists <local/x>"}
	f.Fuzz(func(t *testing.T, src []byte) {
		fset := token.NewFileSet()
		file, err := policy.ParseFile(fset, "in", src, policy.ParseComments)
		if err != nil {
			return // edits are made to valid files
		}
		s := &editSession{t: t, fset: fset, src: src, f: file}
		rng := rand.New(rand.NewPCG(uint64(len(src)), uint64(bytes.Count(src, []byte{'\n'}))))
		var rules []policy.Rule
		var profiles []*policy.Profile
		for n := range policy.Preorder(file) {
			switch n := n.(type) {
			case *policy.Profile:
				profiles = append(profiles, n)
				rules = append(rules, n)
			case policy.Rule:
				rules = append(rules, n)
			}
		}
		for range 1 + rng.IntN(3) {
			switch rng.IntN(4) {
			case 0:
				if len(rules) > 0 {
					file.DropRule(rules[rng.IntN(len(rules))])
				}
			case 1:
				if len(profiles) > 0 {
					profiles[rng.IntN(len(profiles))].AddRule(nil, s.snippet(snippets[rng.IntN(len(snippets))]))
				} else {
					file.AddRule(nil, s.snippet(snippets[rng.IntN(len(snippets))]))
				}
			case 2:
				for _, r := range rules {
					if fr, ok := r.(*policy.FileRule); ok && fr.Perms != nil && rng.IntN(2) == 0 {
						fr.Perms = policy.NewWord("r")
					}
				}
			case 3:
				if len(profiles) > 0 {
					p := profiles[rng.IntN(len(profiles))]
					if p.Flags == nil {
						p.Flags = &policy.Cond{Key: policy.NewWord("flags"), Value: &policy.List{Paren: true, Words: []*policy.Word{policy.NewWord("complain")}}}
					} else {
						p.Flags = nil
					}
				}
			}
		}
		if rng.IntN(2) == 0 {
			file.Cleanup()
		}
		s.apply()
	})
}

// TestEditsNoFinalNewline: a rule added at the end of a file without a
// final newline goes on a line of its own; nothing else changes.
func TestEditsNoFinalNewline(t *testing.T) {
	s := newEditSession(t, []byte("# local\n/a r,"))
	s.f.AddRule(nil, s.snippet("/b r,"))
	if got, want := string(s.apply()), "# local\n/a r,\n/b r,\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// BenchmarkEdits: what learn pays per file it merges into: Edits (which
// parses the source again to compare) and ApplyEdits, for three rules
// added to a real profile.
func BenchmarkEdits(b *testing.B) {
	src, err := os.ReadFile("/etc/apparmor.d/usr.sbin.dnsmasq")
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		s := newEditSession(b, src)
		var p *policy.Profile
		for _, r := range s.f.Rules {
			if q, ok := r.(*policy.Profile); ok {
				p = q
			}
		}
		for _, text := range []string{"/srv/tftp/** r,", "capability net_raw,", "owner /run/x rw,"} {
			p.AddRule(nil, s.snippet(text))
		}
		edits, err := policy.Edits(s.fset, src, s.f)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := policy.ApplyEdits(s.fset, src, edits); err != nil {
			b.Fatal(err)
		}
	}
}
