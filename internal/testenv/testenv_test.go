package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how the test would have ended.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, a ...any) { r.fatal = sprintf(format, a...) }
func (r *recorder) Skipf(format string, a ...any)  { r.skip = sprintf(format, a...) }

func sprintf(format string, a ...any) string { return strings.TrimSpace(fmt.Sprintf(format, a...)) }

func TestMissing(t *testing.T) {
	t.Setenv("CI", "true")
	r := &recorder{}
	Missing(r, "%s is not installed", "gcc")
	if r.fatal != "required in CI: gcc is not installed" || r.skip != "" {
		t.Errorf("in CI: fatal %q, skip %q", r.fatal, r.skip)
	}
	t.Setenv("CI", "")
	r = &recorder{}
	Missing(r, "%s is not installed", "gcc")
	if r.fatal != "" || !strings.HasPrefix(r.skip, "gcc is not installed") {
		t.Errorf("outside CI: fatal %q, skip %q", r.fatal, r.skip)
	}
}
