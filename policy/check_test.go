package policy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/policy"
)

var checkWantRx = regexp.MustCompile(`#\s*ERROR\s+("(?:[^"\\]|\\.)*")`)

// checkExpectations maps line numbers to the `# ERROR "rx"` annotations
// on them.
func checkExpectations(t *testing.T, src []byte) map[int]*regexp.Regexp {
	want := map[int]*regexp.Regexp{}
	for i, line := range strings.Split(string(src), "\n") {
		m := checkWantRx.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s, err := strconv.Unquote(m[1])
		if err != nil {
			t.Fatalf("line %d: bad ERROR annotation %s: %v", i+1, m[1], err)
		}
		want[i+1] = regexp.MustCompile(s)
	}
	return want
}

// TestCheck runs Check on testdata/check/*.profile (with the host's
// /etc/apparmor.d for tunables): every error diagnostic must match a
// `# ERROR "rx"` annotation on its line, and every annotation must match.
func TestCheck(t *testing.T) {
	files, _ := filepath.Glob("testdata/check/*.profile")
	if len(files) == 0 {
		t.Fatal("no testdata/check cases")
	}
	if _, err := os.Stat("/etc/apparmor.d/tunables/global"); err != nil {
		t.Skip("needs /etc/apparmor.d/tunables (Debian package apparmor)")
	}
	for _, fn := range files {
		t.Run(filepath.Base(fn), func(t *testing.T) {
			src, err := os.ReadFile(fn)
			if err != nil {
				t.Fatal(err)
			}
			want := checkExpectations(t, src)
			res := policy.CheckFile(policy.NewLoader(), fn, src, policy.CheckConfig{})
			matched := map[int]bool{} // one annotation may match several errors on its line
			for _, d := range res.Errors() {
				rx, ok := want[d.Pos.Line]
				switch {
				case d.Pos.Filename != fn:
					t.Errorf("unexpected error in another file: %v", d)
				case !ok:
					t.Errorf("unexpected error: %v", d)
				case !rx.MatchString(d.Message):
					t.Errorf("%v: does not match %q", d, rx)
				default:
					matched[d.Pos.Line] = true
				}
			}
			for line, rx := range want {
				if !matched[line] {
					t.Errorf("%s:%d: no error matching %q", fn, line, rx)
				}
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]policy.Version{"3.0": policy.V3_0, "3": policy.V3_0, "4.1": policy.V4_1, "4.0": policy.V4_1, "4": policy.V4_1} {
		if got, err := policy.ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "2.13", "5.0", "x", "3.x"} {
		if _, err := policy.ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) succeeded", in)
		}
	}
}

func TestTargetOf(t *testing.T) {
	for src, want := range map[string]string{
		"abi <abi/3.0>,\nprofile a {}\n":                          "3.0",
		"abi <abi/4.0>,\nprofile a {}\n":                          "4.1",
		"abi <abi/kernel-5.4-outoftree-network>,\nprofile a {}\n": "3.0",
		"profile a {}\n":                                          "",
	} {
		f, err := policy.ParseFile(policyFset(), "t", []byte(src), 0)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := policy.TargetOf(f)
		got := ""
		if ok {
			got = v.String()
		}
		if got != want {
			t.Errorf("TargetOf(%q) = %q, want %q", src, got, want)
		}
	}
}
