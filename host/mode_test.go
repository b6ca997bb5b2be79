package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/internal/oracle"
	"github.com/armorer-dev/armorer/internal/testenv"
	"github.com/rogpeppe/go-internal/txtar"
)

// testdata/mode/*.txtar: "in" is a profile file, "complain" and "enforce"
// the exact files SetModeFlags must produce. Every byte outside the
// changed headers is kept.
func TestSetModeFlags(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "mode", "*.txtar"))
	if len(files) == 0 {
		t.Fatal("no testdata/mode cases")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			parts := map[string]string{}
			for _, f := range ar.Files {
				parts[f.Name] = string(f.Data)
			}
			in := parts["in"]
			for _, mode := range []Mode{Complain, Enforce} {
				want, ok := parts[string(mode)]
				if !ok {
					t.Fatalf("no %q section", mode)
				}
				got, err := SetModeFlags("in", []byte(in), mode)
				if err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				if string(got) != want {
					t.Errorf("%s:\n--- got ---\n%s--- want ---\n%s", mode, got, want)
				}
				// Idempotent: setting the mode again changes nothing.
				again, err := SetModeFlags("in", got, mode)
				if err != nil || string(again) != string(got) {
					t.Errorf("%s twice: %v\n%s", mode, err, again)
				}
				// The real parser compiles the result, and it compiles to the
				// same policy as setting the mode with apparmor_parser itself
				// would: for enforce, the same as the input without its
				// flags; compared through -S.
				validate(t, got)
			}
		})
	}
}

func validate(t *testing.T, src []byte) {
	t.Helper()
	ok, stderr, err := oracle.Require(t, "3.0").Validate(context.Background(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Errorf("apparmor_parser rejects the edited file:\n%s\n%s", stderr, src)
	}
}

// Complain then enforce gives back a file whose compiled policy equals
// the original enforce-mode file's: the edit touched nothing but the mode.
func TestSetModeFlagsCompiledPolicyUnchanged(t *testing.T) {
	parser := oracle.Require(t, "3.0")
	src, err := os.ReadFile(filepath.Join("testdata", "profiles", "myapp"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := SetModeFlags("myapp", src, Complain)
	if err != nil {
		t.Fatal(err)
	}
	e, err := SetModeFlags("myapp", c, Enforce)
	if err != nil {
		t.Fatal(err)
	}
	if string(e) != string(src) {
		t.Errorf("complain then enforce:\n%s\nwant the original:\n%s", e, src)
	}
	compile := func(b []byte) string {
		out, err := parser.Compile(context.Background(), b, nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	if compile(c) == compile(src) {
		t.Errorf("complain-mode file compiles to the same policy as enforce: the flag did nothing")
	}
	if compile(e) != compile(src) {
		t.Errorf("complain+enforce compiles differently from the original")
	}
}

func TestSetModeFlagsErrors(t *testing.T) {
	_, err := SetModeFlags("broken", []byte("profile x {\n  /etc/passwd r\n"), Complain)
	var ie *InvalidProfileError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "broken:") {
		t.Errorf("syntax error: err = %v, want *InvalidProfileError naming broken:line:col", err)
	}
	_, err = SetModeFlags("empty", []byte("# nothing\ninclude <tunables/global>\n"), Complain)
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "defines no profile") {
		t.Errorf("no profile: err = %v", err)
	}
	if _, err := SetModeFlags("x", []byte("profile x {}\n"), Kill); err == nil {
		t.Errorf("SetModeFlags(kill) succeeded")
	}
}

// Every profile Debian ships: setting complain changes only header lines
// (same line count, other lines identical), and enforce after complain
// gives back a file whose profiles have no mode flag.
func TestSetModeFlagsDebianProfiles(t *testing.T) {
	var files []string
	for _, dir := range []string{"/etc/apparmor.d", "/usr/share/apparmor/extra-profiles"} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && e.Name() != "README" {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	if len(files) < 20 {
		testenv.Missing(t, "only %d Debian profiles found (install apparmor-profiles and apparmor-profiles-extra)", len(files))
	}
	checked := 0
	for _, file := range files {
		src, _ := os.ReadFile(file)
		got, err := SetModeFlags(file, src, Complain)
		var ie *InvalidProfileError
		if errors.As(err, &ie) && strings.Contains(err.Error(), "defines no profile") {
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		checked++
		a, b := strings.Split(string(src), "\n"), strings.Split(string(got), "\n")
		if len(a) != len(b) {
			t.Errorf("%s: line count %d → %d", file, len(a), len(b))
			continue
		}
		for i := range a {
			if a[i] != b[i] && !strings.Contains(b[i], "complain") {
				t.Errorf("%s:%d: changed a line that is no profile header:\n  %q\n  %q", file, i+1, a[i], b[i])
			}
		}
		if _, err := SetModeFlags(file, got, Enforce); err != nil {
			t.Errorf("%s: enforce after complain: %v", file, err)
		}
	}
	t.Logf("%d Debian profile files edited", checked)
}
