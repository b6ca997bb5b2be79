package policy_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/armorer-dev/armorer/internal/oracle"
)

// TestExamples: the bundled example profiles (README runs armorer check on
// them) are in canonical format and accepted by apparmor_parser 3.0 and 4.1.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/profiles/*")
	if err != nil || len(files) < 3 {
		t.Fatalf("want at least 3 example profiles, got %d (%v)", len(files), err)
	}
	for _, fn := range files {
		src, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		if out := format(t, fn, src); !bytes.Equal(out, src) {
			t.Errorf("%s is not formatted: run armorer fmt -w %s", fn, fn)
		}
	}
	if testing.Short() {
		return
	}
	for _, v := range corpusTargets {
		p := oracle.Require(t, v)
		for _, fn := range files {
			ok, stderr, err := p.ValidateFile(context.Background(), fn, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				t.Errorf("apparmor_parser %s rejects %s: %s", p.Version, fn, stderr)
			}
		}
	}
}
