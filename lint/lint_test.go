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

// TestChecks runs every check on testdata/*.profile and compares the
// findings with the `# want "ID"` comments, by line, as analysistest does.
func TestChecks(t *testing.T) {
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
			cfg := policy.CheckConfig{Lint: PolicyChecks(Checks)}
			if strings.Contains(name, "newer") {
				cfg.Target = policy.Version{Major: 4, Minor: 1}
			}
			res := policy.CheckFile(policy.NewLoader(t.TempDir()), name, src, cfg)
			var got []string
			for _, d := range res.Diagnostics {
				if d.Severity != policy.SeverityWarning {
					t.Errorf("unexpected error: %v", d)
					continue
				}
				got = append(got, fmt.Sprintf("%d:%s", d.Pos.Line, d.Category))
				if !strings.HasPrefix(d.Message, d.Category+" ") {
					t.Errorf("message does not start with its ID: %v", d)
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("findings differ\n got: %v\nwant: %v", got, want)
				for _, d := range res.Diagnostics {
					t.Log(d)
				}
			}
		})
	}
}

func TestCheckTable(t *testing.T) {
	seen := map[string]bool{}
	for i, c := range Checks {
		if want := fmt.Sprintf("L%03d", i+1); c.ID != want {
			t.Errorf("check %d has ID %s, want %s (IDs never change; append new ones)", i, c.ID, want)
		}
		if c.Name == "" || c.Doc == "" || c.Run == nil || c.Severity.String() == "unknown" {
			t.Errorf("%s is incomplete", c.ID)
		}
		if seen[c.Name] {
			t.Errorf("duplicate name %s", c.Name)
		}
		seen[c.Name] = true
		if got, ok := Lookup(c.Name); !ok || got != c {
			t.Errorf("Lookup(%s) failed", c.Name)
		}
	}
}
