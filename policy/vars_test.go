package policy_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/policy"
)

// varsFrom parses a preamble and defines its variables and booleans.
func varsFrom(t *testing.T, src string) (*policy.Vars, []error) {
	t.Helper()
	f, err := policy.ParseFile(policyFset(), "vars", []byte(src), 0)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	v := policy.NewVars()
	var errs []error
	for _, r := range f.Rules {
		switch r := r.(type) {
		case *policy.Variable:
			if err := v.Define(r); err != nil {
				errs = append(errs, err)
			}
		case *policy.Boolean:
			if err := v.DefineBool(r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return v, errs
}

func TestVarsExpand(t *testing.T) {
	v, errs := varsFrom(t, `
@{A}=/a
@{B}=@{A}/b /c
@{B}+=/d
@{L}=x y
@{Q}="/with space"
@{FWD}=@{LATER}/x
@{LATER}=/later
$on=true
`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"/plain", []string{"/plain"}},
		{"@{A}", []string{"/a"}},
		{"@{B}/z", []string{"/a/b/z", "/c/z", "/d/z"}},
		{"/p/@{L}/@{L}", []string{"/p/x/x", "/p/x/y", "/p/y/x", "/p/y/y"}},
		{"@{Q}", []string{"/with space"}},
		{"@{FWD}", []string{"/later/x"}},
		{"@{L}@{L}", []string{"xx", "xy", "yx", "yy"}},
	} {
		got, err := v.Expand(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if b, ok := v.Bool("on"); !b || !ok {
		t.Errorf("Bool(on) = %v, %v", b, ok)
	}
	if _, ok := v.Bool("off"); ok {
		t.Error("Bool(off) defined")
	}
	if got := v.Names(); !slices.Equal(got, []string{"A", "B", "FWD", "L", "LATER", "Q"}) {
		t.Errorf("Names = %q", got)
	}
}

func TestVarsErrors(t *testing.T) {
	v, errs := varsFrom(t, "@{A}=/a\n@{A}=/b\n@{N}+=/x\n@{R}=@{R}/x\n@{S}=@{T}\n@{T}=@{S}\n$b=maybe\n$c=true\n$c=false\n")
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	want := []string{"already defined", "not defined", "must be true or false", "boolean $c is already defined"}
	if len(msgs) != len(want) {
		t.Fatalf("errors %q, want %d", msgs, len(want))
	}
	for i, w := range want {
		if !strings.Contains(msgs[i], w) {
			t.Errorf("error %d = %q, want it to contain %q", i, msgs[i], w)
		}
	}
	if !errors.Is(errs[1], policy.ErrUndefined) {
		t.Errorf("+= on an undefined variable: %v is not ErrUndefined", errs[1])
	}
	for in, want := range map[string]string{
		"@{NOPE}/x": "@{NOPE} is not defined",
		"@{R}":      "refers to itself",
		"@{S}":      "refers to itself (through S → T → S)",
		"@{A":       "unterminated",
		"@{1x}":     "invalid variable name",
	} {
		_, err := v.Expand(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Expand(%q) error = %v, want %q", in, err, want)
		}
	}
	if _, err := v.Expand("@{NOPE}"); !errors.Is(err, policy.ErrUndefined) {
		t.Errorf("undefined variable error %v is not ErrUndefined", err)
	}
}

func TestVarsExpansionBound(t *testing.T) {
	src := "@{V}=a b c d e f g h i j k l m n o p\n"
	v, errs := varsFrom(t, src)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, err := v.Expand(strings.Repeat("@{V}", 4)); err != nil {
		t.Errorf("16^4 alternatives: %v", err)
	}
	if _, err := v.Expand(strings.Repeat("@{V}", 5)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("16^5 alternatives: err = %v, want a bound", err)
	}
}

func TestValidVarNameAndReferences(t *testing.T) {
	for name, want := range map[string]bool{"HOME": true, "my_var2": true, "a": true, "": false, "1x": false, "_x": false, "a-b": false} {
		if got := policy.ValidVarName(name); got != want {
			t.Errorf("ValidVarName(%q) = %v", name, got)
		}
	}
	if got := policy.References("@{HOME}/x/@{pid}/@{"); !slices.Equal(got, []string{"HOME", "pid"}) {
		t.Errorf("References = %q", got)
	}
}
