package debfetch

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestURIFromSources(t *testing.T) {
	dir := t.TempDir()
	deb822 := filepath.Join(dir, "debian.sources")
	os.WriteFile(deb822, []byte("Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n"), 0o644)
	if got, want := uriFromDeb822(deb822), "http://mirror.example/debian"; got != want {
		t.Errorf("deb822: got %q, want %q", got, want)
	}
	one := filepath.Join(dir, "sources.list")
	os.WriteFile(one, []byte("# c\ndeb [arch=amd64 signed-by=/x.gpg] http://m.example/debian-security bookworm-security main\ndeb http://m.example/debian bookworm main\n"), 0o644)
	if got, want := uriFromOneLine(one), "http://m.example/debian"; got != want {
		t.Errorf("one-line: got %q, want %q", got, want)
	}
}

// TestFetchTrixieParser downloads Debian 13's apparmor package through the
// private apt configuration and checks the parser is in it.
func TestFetchTrixieParser(t *testing.T) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("no apt-get")
	}
	if testing.Short() {
		t.Skip("downloads packages")
	}
	f := &Fetcher{Suite: "trixie", CacheDir: DefaultCacheDir()}
	root := t.TempDir()
	if err := f.Extract(context.Background(), root, "apparmor"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/apparmor_parser")); err != nil {
		t.Fatal(err)
	}
}
