package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/internal/fakeparser"
	"github.com/armorer-dev/armorer/internal/testenv"
	"github.com/rogpeppe/go-internal/txtar"
)

// TestMain lets the test binary double as a fake apparmor_parser (see
// internal/fakeparser) when ARMORER_TEST_FAKE_PARSER is set.
func TestMain(m *testing.M) {
	if os.Getenv("ARMORER_TEST_FAKE_PARSER") == "1" {
		fakeparser.Main()
	}
	os.Exit(m.Run())
}

// fixture unpacks testdata/NAME.txtar into a temporary directory and
// returns Paths rooted in it. Files named *.symlink become symbolic links
// to their (trimmed) content, since txtar has no links.
func fixture(t *testing.T, name string) Paths {
	t.Helper()
	ar, err := txtar.ParseFile(filepath.Join("testdata", name+".txtar"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range ar.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if link, ok := strings.CutSuffix(p, ".symlink"); ok {
			if err := os.Symlink(strings.TrimSpace(string(f.Data)), link); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pd := filepath.Join(dir, "etc", "apparmor.d")
	os.MkdirAll(pd, 0o755)
	return Paths{
		SecurityFS:  filepath.Join(dir, "sys", "kernel", "security"),
		Module:      filepath.Join(dir, "sys", "module", "apparmor"),
		Proc:        filepath.Join(dir, "proc"),
		ProfileDir:  pd,
		StateDir:    filepath.Join(dir, "var", "lib", "armorer"),
		SystemdDirs: []string{filepath.Join(dir, "etc", "systemd", "system"), filepath.Join(dir, "lib", "systemd", "system")},
		Parser:      realParser(t),
	}
}

// realParser is the installed apparmor_parser; outside CI a missing one
// skips the test, in CI it fails it.
func realParser(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	testenv.Missing(t, "apparmor_parser is not installed (Debian package apparmor)")
	return ""
}

// withFakeKernel makes paths use the test binary as apparmor_parser: real
// compilation, fixture "kernel" (see internal/fakeparser).
func withFakeKernel(t *testing.T, p Paths, reject bool) Paths {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ARMORER_TEST_FAKE_PARSER", "1")
	t.Setenv(fakeparser.EnvReal, p.Parser)
	if reject {
		t.Setenv(fakeparser.EnvReject, "1")
	} else {
		t.Setenv(fakeparser.EnvReject, "")
	}
	p.Parser = exe
	return p
}
