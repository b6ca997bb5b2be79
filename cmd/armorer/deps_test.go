package main

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// testOnly are packages for tests alone: the release binary never links
// them (DESIGN.md: "never linked into cmd/armorer").
var testOnly = []string{
	"github.com/armorer-dev/armorer/internal/oracle",
	"github.com/armorer-dev/armorer/internal/debfetch",
	"github.com/armorer-dev/armorer/internal/testenv",
	"github.com/armorer-dev/armorer/internal/vmtest",
	"github.com/armorer-dev/armorer/internal/fakeparser",
}

// thirdPartyTesting are the dependencies outside this module that import
// "testing" themselves, each with the path that pulls it in. A new entry
// needs a reason; armorer's own packages never may.
var thirdPartyTesting = map[string]string{
	// prometheus/common/expfmt (promhttp) parses its text format with
	// go-abnf, which has test helpers in its main package.
	"github.com/pandatix/go-abnf": "github.com/prometheus/common/expfmt",
}

// The release binary links no test code: no package of this module that
// imports "testing", none of the test-only packages, and "testing" only
// through the known third-party paths above.
func TestReleaseBinaryLinksNoTestCode(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports,Module", ".").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Imports    []string
		Module     *struct{ Path string }
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list -deps listed %d packages: the test is not looking at the binary", len(pkgs))
	}
	const module = "github.com/armorer-dev/armorer"
	sawTesting := false
	for _, p := range pkgs {
		if slices.Contains(testOnly, p.ImportPath) {
			t.Errorf("cmd/armorer links the test-only package %s", p.ImportPath)
		}
		if p.ImportPath == "testing" {
			sawTesting = true
		}
		if !slices.Contains(p.Imports, "testing") {
			continue
		}
		switch {
		case p.Module != nil && p.Module.Path == module:
			t.Errorf("%s, linked into cmd/armorer, imports testing", p.ImportPath)
		case thirdPartyTesting[p.ImportPath] == "":
			t.Errorf("the dependency %s imports testing: find what pulls it in and avoid it, or list it with the reason", p.ImportPath)
		}
	}
	if sawTesting {
		t.Logf("testing is linked only through %v", thirdPartyTesting)
	}
}
