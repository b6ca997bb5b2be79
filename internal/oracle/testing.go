package oracle

import (
	"context"
	"os"
	"testing"
)

// Require returns the parser for version, or ends the test: it skips when
// the parser is unavailable and CI is unset, and fails when CI is set, so a
// forgotten install step can never turn the suite green.
func Require(t testing.TB, version string) *Parser {
	t.Helper()
	p, err := Find(context.Background(), version)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("apparmor_parser %s is required in CI: %v", version, err)
		}
		t.Skipf("apparmor_parser %s unavailable (set CI=true to make this a failure): %v", version, err)
	}
	return p
}
