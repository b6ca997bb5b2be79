package policy_test

import (
	"bytes"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/armorer-dev/armorer/policy"
)

func parse(t testing.TB, name string, src []byte) (*token.FileSet, *policy.File) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := policy.ParseFile(fset, name, src, policy.ParseComments)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return fset, f
}

func format(t testing.TB, name string, src []byte) []byte {
	t.Helper()
	fset, f := parse(t, name, src)
	return policy.FormatFile(fset, f)
}

// TestFormatGolden formats testdata/format/*.input and compares with the
// .golden file; formatting a golden must leave it unchanged.
func TestFormatGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/format/*.input")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no format inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := format(t, in, src)
			golden := strings.TrimSuffix(in, ".input") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), string(got)); d != "" {
				t.Errorf("format(%s) mismatch (-want +got):\n%s", in, d)
			}
			if again := format(t, golden, want); !bytes.Equal(again, want) {
				t.Errorf("format(golden) changed it (-golden +again):\n%s", cmp.Diff(string(want), string(again)))
			}
			if bytes.Equal(src, want) {
				t.Errorf("%s is already formatted: a layout golden must show a change", in)
			}
		})
	}
}

// TestFormatQuotedNewline: a tree built from a logged name with a newline
// in it (learn quotes such names) prints as text armorer and
// apparmor_parser read back as the same name, at any nesting level.
func TestFormatQuotedNewline(t *testing.T) {
	file := &policy.File{Rules: []policy.Rule{&policy.Profile{Keyword: policy.PROFILE, Name: policy.NewWord("\"a\nb\""),
		Body: []policy.Rule{&policy.Profile{Keyword: policy.PROFILE, Name: policy.NewWord("child"), Body: []policy.Rule{
			&policy.FileRule{Path: policy.NewWord("\"/tmp/x\ny\""), Perms: policy.NewWord("r")}}}}}}}
	out := policy.FormatFile(token.NewFileSet(), file)
	back, err := policy.ParseFile(token.NewFileSet(), "formatted", out, policy.ParseComments)
	if err != nil {
		t.Fatalf("formatted text does not parse: %v\n%s", err, out)
	}
	prof := back.Rules[0].(*policy.Profile)
	rule := prof.Body[0].(*policy.Profile).Body[0].(*policy.FileRule)
	if prof.Name.Value() != "a\nb" || rule.Path.Value() != "/tmp/x\ny" {
		t.Errorf("names read back as %q, %q; want %q, %q\n%s", prof.Name.Value(), rule.Path.Value(), "a\nb", "/tmp/x\ny", out)
	}
}
