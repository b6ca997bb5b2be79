// Package testenv holds the one rule for tests that need a real component
// (apparmor_parser, gcc, busybox, a VM kernel, Debian's profiles): outside
// CI a missing component skips the test; with CI set it fails the test, so
// a forgotten install step can never turn the suite green by skipping.
package testenv

import (
	"os"
	"testing"
)

// InCI reports whether the tests run in CI (CI set to anything).
func InCI() bool { return os.Getenv("CI") != "" }

// Missing ends the test because a real component is missing: a failure in
// CI, a skip elsewhere. format says what is missing and how to install it.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("required in CI: "+format, args...)
		return
	}
	t.Skipf(format+" (set CI=true to make this a failure)", args...)
}
