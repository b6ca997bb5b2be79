package host

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/internal/parsernoise"
)

// These run the real apparmor_parser: it is the oracle for what compiles.
func TestParserValidate(t *testing.T) {
	p := &Parser{Program: realParser(t)}
	ctx := context.Background()
	if err := p.Validate(ctx, filepath.Join("testdata", "profiles", "myapp")); err != nil {
		t.Errorf("Validate(myapp) = %v", err)
	}
	bad := filepath.Join("testdata", "profiles", "bad")
	err := p.Validate(ctx, bad)
	var ie *InvalidProfileError
	if !errors.As(err, &ie) {
		t.Fatalf("Validate(bad) = %v, want *InvalidProfileError", err)
	}
	// The parser's own message, with the file and line, reaches the user;
	// the cache noise does not.
	msg := err.Error()
	if !strings.Contains(msg, "validate "+bad) || !strings.Contains(msg, "line 3") || strings.Contains(msg, parsernoise.Line) {
		t.Errorf("error = %q, want the parser's message naming line 3 without cache noise", msg)
	}
	if len(ie.Argv) < 3 || ie.Argv[1] != "-QK" || ie.Argv[2] != bad {
		t.Errorf("argv = %q, want [parser -QK file]", ie.Argv)
	}
}

func TestParserNamesAndVersion(t *testing.T) {
	p := &Parser{Program: realParser(t)}
	ctx := context.Background()
	names, err := p.Names(ctx, filepath.Join("testdata", "profiles", "myapp"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"myapp", "myapp//child"}) {
		t.Errorf("names = %q", names)
	}
	v, err := p.Version(ctx)
	if err != nil || !strings.Contains(v, ".") {
		t.Errorf("Version = %q, %v", v, err)
	}
}

// Without a kernel, the real parser's replace fails: a *KernelError with
// its message, never a silent success.
func TestParserReplaceWithoutKernel(t *testing.T) {
	p := &Parser{Program: realParser(t), KernelArgs: []string{"--subdomainfs", t.TempDir()}}
	err := p.Replace(context.Background(), filepath.Join("testdata", "profiles", "myapp"))
	var ke *KernelError
	if !errors.As(err, &ke) {
		t.Fatalf("Replace = %v, want *KernelError", err)
	}
}

func TestParserMissing(t *testing.T) {
	p := &Parser{Program: "/nonexistent/apparmor_parser"}
	err := p.Validate(context.Background(), "x")
	var pe *ParserError
	var ie *InvalidProfileError
	if !errors.As(err, &pe) || errors.As(err, &ie) {
		t.Errorf("err = %v, want a *ParserError that is not an invalid profile", err)
	}
}

func TestParserContextCancel(t *testing.T) {
	p := &Parser{Program: realParser(t)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Validate(ctx, filepath.Join("testdata", "profiles", "myapp")); err == nil {
		t.Errorf("Validate with a cancelled context succeeded")
	}
}
