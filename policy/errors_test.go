package policy_test

import (
	"errors"
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/policy"
)

var errorRx = regexp.MustCompile(`#\s*ERROR(\s+below)?\s+("(?:[^"\\]|\\.)*")`)

// expectedErrors maps line numbers to the regexps of `# ERROR "rx"`
// annotations on that line; `# ERROR below "rx"` is for the next line
// (where a comment cannot go, e.g. after an unterminated quote).
func expectedErrors(t *testing.T, src []byte) map[int]*regexp.Regexp {
	want := map[int]*regexp.Regexp{}
	for i, line := range strings.Split(string(src), "\n") {
		m := errorRx.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s, err := strconv.Unquote(m[2])
		if err != nil {
			t.Fatalf("line %d: bad ERROR annotation %s: %v", i+1, m[2], err)
		}
		line := i + 1
		if m[1] != "" {
			line++
		}
		want[line] = regexp.MustCompile(s)
	}
	return want
}

// TestErrors parses testdata/errors/*.profile with AllErrors: every error
// must be announced by a `# ERROR "rx"` comment on its line, and every
// annotation must be matched.
func TestErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.profile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no error cases: %v", err)
	}
	for _, fn := range files {
		t.Run(filepath.Base(fn), func(t *testing.T) {
			src, err := os.ReadFile(fn)
			if err != nil {
				t.Fatal(err)
			}
			want := expectedErrors(t, src)
			fset := token.NewFileSet()
			f, err := policy.ParseFile(fset, fn, src, policy.ParseComments|policy.AllErrors)
			if f == nil {
				t.Fatal("ParseFile returned no tree")
			}
			var list scanner.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("want an ErrorList, got %v", err)
			}
			for _, e := range list {
				rx, ok := want[e.Pos.Line]
				switch {
				case !ok:
					t.Errorf("unexpected error: %v", e)
				case !rx.MatchString(e.Msg):
					t.Errorf("%v: message does not match %q", e, rx)
				default:
					delete(want, e.Pos.Line)
				}
				if e.Pos.Filename != fn || e.Pos.Column < 1 {
					t.Errorf("%v: error must carry file:line:col", e)
				}
				if !strings.HasPrefix(e.Error(), fn+":"+strconv.Itoa(e.Pos.Line)+":") {
					t.Errorf("error prints as %q, want file:line:col: msg", e.Error())
				}
			}
			for line, rx := range want {
				t.Errorf("%s:%d: no error matching %q", fn, line, rx)
			}
		})
	}
}

// TestErrorLimit: without AllErrors parsing stops after 10 errors, one per line.
func TestErrorLimit(t *testing.T) {
	var src strings.Builder
	src.WriteString("profile many {\n")
	for range 30 {
		src.WriteString("  /etc/x r /etc/y\n")
	}
	src.WriteString("}\n")
	_, err := policy.ParseFile(token.NewFileSet(), "many", []byte(src.String()), 0)
	var list scanner.ErrorList
	if !errors.As(err, &list) || len(list) != 10 {
		t.Fatalf("want 10 errors, got %v", err)
	}
	_, err = policy.ParseFile(token.NewFileSet(), "many", []byte(src.String()), policy.AllErrors)
	if !errors.As(err, &list) || len(list) < 15 {
		t.Fatalf("AllErrors: want every error, got %d", len(list))
	}
}

// TestNestingLimit: deep nesting is an error, not a stack overflow.
func TestNestingLimit(t *testing.T) {
	src := strings.Repeat("profile a {\n", 10000) + strings.Repeat("}\n", 10000)
	_, err := policy.ParseFile(token.NewFileSet(), "deep", []byte(src), 0)
	if err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Fatalf("want a nesting error, got %v", err)
	}
}
