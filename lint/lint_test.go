package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/policy"
)

var wantRx = regexp.MustCompile(`# want((?: "[^"]+")+)`)

// lintFile checks and lints src as name.
func lintFile(t *testing.T, name string, src []byte) (*policy.Loader, *policy.CheckResult, []Diagnostic) {
	t.Helper()
	cfg := policy.CheckConfig{}
	if strings.Contains(name, "newer") {
		cfg.Target = policy.Version{Major: 4, Minor: 1}
	}
	l := policy.NewLoader(t.TempDir())
	res := policy.CheckFile(l, name, src, cfg)
	if !res.Valid() {
		t.Fatalf("%s is not valid: %v", name, res.Errors())
	}
	return l, res, Run(l, res, Analyzers)
}

// TestAnalyzers runs every analyzer on testdata/*.profile and compares the
// findings with the `# want "ID"` comments, by line, as analysistest does.
func TestAnalyzers(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.profile")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i, line := range strings.Split(string(src), "\n") {
				if m := wantRx.FindStringSubmatch(line); m != nil {
					for _, id := range strings.Fields(m[1]) {
						want = append(want, fmt.Sprintf("%d:%s", i+1, strings.Trim(id, `"`)))
					}
				}
			}
			l, _, diags := lintFile(t, name, src)
			var got []string
			for _, d := range diags {
				pos, end := l.Fset.Position(d.Pos), l.Fset.Position(d.End)
				got = append(got, fmt.Sprintf("%d:%s", pos.Line, d.Category))
				a, ok := Lookup(d.Category)
				if !ok || d.Name != a.Name || d.Severity == 0 || d.Message == "" {
					t.Errorf("incomplete finding: %+v", d)
				}
				if !end.IsValid() || end.Offset <= pos.Offset {
					t.Errorf("%s: finding without an end: %+v", pos, d)
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("findings differ\n got: %v\nwant: %v", got, want)
				for _, d := range diags {
					t.Log(l.Fset.Position(d.Pos), d.Text())
				}
			}
		})
	}
}

// TestSuggestedFixes: applying a finding's fix gives a valid file on
// which that finding is gone.
func TestSuggestedFixes(t *testing.T) {
	for _, tc := range []struct{ id, src, want string }{
		{"L001", "# my profile\ninclude <tunables/global>\nprofile p {\n  /etc/p r,\n}\n",
			"# my profile\nabi <abi/3.0>,\n\ninclude <tunables/global>\nprofile p {\n  /etc/p r,\n}\n"},
		{"L004", "abi <abi/3.0>,\nprofile p {\n  /usr/bin/w rpix,\n  /usr/bin/c cx -> c,\n  profile c {}\n}\n",
			"abi <abi/3.0>,\nprofile p {\n  /usr/bin/w rPix,\n  /usr/bin/c Cx -> c,\n  profile c {}\n}\n"},
		{"L010", "abi <abi/4.0>,\nprofile p {\n  deny /a w,\n  deny owner /b w,\n  priority=1 deny /c w,\n  deny {\n    /d w,\n  }\n}\n",
			"abi <abi/4.0>,\nprofile p {\n  audit deny /a w,\n  audit deny owner /b w,\n  priority=1 audit deny /c w,\n  audit deny {\n    /d w,\n  }\n}\n"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			l, _, diags := lintFile(t, "p", []byte(tc.src))
			var edits []policy.TextEdit
			for _, d := range diags {
				if d.Category != tc.id {
					continue
				}
				if len(d.SuggestedFixes) != 1 {
					t.Fatalf("%s without a fix: %+v", tc.id, d)
				}
				edits = append(edits, d.SuggestedFixes[0].TextEdits...)
			}
			out, err := policy.ApplyEdits(l.Fset, []byte(tc.src), edits)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("fixed:\n%s\nwant:\n%s", out, tc.want)
			}
			_, _, after := lintFile(t, "fixed", out)
			for _, d := range after {
				if d.Category == tc.id {
					t.Errorf("after the fix: %s", d.Text())
				}
			}
		})
	}
}

func TestAnalyzerTable(t *testing.T) {
	seen := map[string]bool{}
	for i, a := range Analyzers {
		if want := fmt.Sprintf("L%03d", i+1); a.ID != want {
			t.Errorf("analyzer %d has ID %s, want %s (IDs never change; append new ones)", i, a.ID, want)
		}
		if a.Name == "" || a.Doc == "" || a.Run == nil || a.Severity.String() == "unknown" {
			t.Errorf("%s is incomplete", a.ID)
		}
		if seen[a.Name] {
			t.Errorf("duplicate name %s", a.Name)
		}
		seen[a.Name] = true
		if got, ok := Lookup(a.Name); !ok || got != a {
			t.Errorf("Lookup(%s) failed", a.Name)
		}
	}
}

// TestSeverityOrder: severities compare as their names say, and parse.
func TestSeverityOrder(t *testing.T) {
	order := []Severity{SeverityLow, SeverityMedium, SeverityHigh}
	if !slices.IsSorted(order) || order[0] == 0 {
		t.Errorf("severities out of order: %v", order)
	}
	for _, s := range order {
		if got, err := ParseSeverity(strings.ToUpper(s.String())); err != nil || got != s {
			t.Errorf("ParseSeverity(%s) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseSeverity("critical"); err == nil {
		t.Error("ParseSeverity(critical) succeeded")
	}
}
