package oracle

import (
	"context"
	"testing"

	"github.com/armorer-dev/armorer/internal/testenv"
)

// Require returns the parser for version, or ends the test: it skips when
// the parser is unavailable and CI is unset, and fails when CI is set, so a
// forgotten install step can never turn the suite green.
func Require(t testing.TB, version string) *Parser {
	t.Helper()
	p, err := Find(context.Background(), version)
	if err != nil {
		testenv.Missing(t, "apparmor_parser %s unavailable: %v", version, err)
	}
	return p
}
