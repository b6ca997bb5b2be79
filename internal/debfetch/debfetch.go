// Package debfetch downloads and unpacks Debian packages of any suite (bookworm,
// trixie, …) for tests, through a private apt configuration: the host's own apt
// sources, lists and cache stay untouched. It serves the oracle tests (Debian 13's
// apparmor_parser run on a Debian 12 host) and the VM harness (kernels).
//
// The archive is the one the host's apt sources already name; the suite is
// swapped. Nothing is installed: packages are only extracted with dpkg-deb -x.
package debfetch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Fetcher fetches packages of one suite into CacheDir/<suite>.
type Fetcher struct {
	Suite    string // e.g. "bookworm", "trixie"
	CacheDir string // e.g. DefaultCacheDir()
	// MaxListAge is how old the package lists may be before an apt-get update; 0 means 7 days.
	MaxListAge time.Duration

	once    sync.Once
	initErr error
}

// DefaultCacheDir is $ARMORER_TEST_CACHE, else the user cache dir's armorer-test.
func DefaultCacheDir() string {
	if d := os.Getenv("ARMORER_TEST_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "armorer-test")
	}
	return filepath.Join(os.TempDir(), "armorer-test")
}

func (f *Fetcher) dir(parts ...string) string {
	return filepath.Join(append([]string{f.CacheDir, f.Suite}, parts...)...)
}

// aptOptions point apt at the private configuration.
func (f *Fetcher) aptOptions() []string {
	return []string{
		"-o", "Dir::Etc::sourcelist=" + f.dir("sources.list"),
		"-o", "Dir::Etc::sourceparts=" + f.dir("sources.list.d"),
		"-o", "Dir::State::Lists=" + f.dir("lists"),
		"-o", "Dir::Cache=" + f.dir("cache"),
		"-o", "Dir::Etc::preferences=" + f.dir("preferences"),
		"-o", "Dir::Etc::preferencesparts=" + f.dir("preferences.d"),
		"-o", "APT::Get::List-Cleanup=0",
		"-o", "Debug::NoLocking=1",
		"-q",
	}
}

// Apt runs apt-get or apt-cache (tool) with the private configuration and returns stdout.
func (f *Fetcher) Apt(ctx context.Context, tool string, args ...string) ([]byte, error) {
	if err := f.init(ctx); err != nil {
		return nil, err
	}
	return f.apt(ctx, "", tool, args...)
}

func (f *Fetcher) apt(ctx context.Context, dir, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tool, append(f.aptOptions(), args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s (suite %s): %w: %s", tool, strings.Join(args, " "), f.Suite, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (f *Fetcher) init(ctx context.Context) error {
	f.once.Do(func() { f.initErr = f.setup(ctx) })
	return f.initErr
}

func (f *Fetcher) setup(ctx context.Context) error {
	if f.Suite == "" || f.CacheDir == "" {
		return errors.New("debfetch: Suite and CacheDir are required")
	}
	for _, d := range []string{"sources.list.d", "preferences.d", "lists/partial", "cache/archives/partial", "debs"} {
		if err := os.MkdirAll(f.dir(d), 0o755); err != nil {
			return err
		}
	}
	uri, err := hostArchiveURI()
	if err != nil {
		return err
	}
	line := fmt.Sprintf("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n", uri, f.Suite)
	if err := os.WriteFile(f.dir("sources.list"), []byte(line), 0o644); err != nil {
		return err
	}
	maxAge := f.MaxListAge
	if maxAge == 0 {
		maxAge = 7 * 24 * time.Hour
	}
	if fresh(f.dir("lists"), maxAge) {
		return nil
	}
	_, err = f.apt(ctx, "", "apt-get", "update")
	return err
}

// fresh reports whether dir holds a Packages list younger than maxAge.
func fresh(dir string, maxAge time.Duration) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*_Packages*"))
	for _, p := range m {
		if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) < maxAge {
			return true
		}
	}
	return false
}

// Download fetches the candidate version of each package (no dependencies)
// into the cache and returns the .deb paths. Cached files are reused.
func (f *Fetcher) Download(ctx context.Context, pkgs ...string) ([]string, error) {
	if err := f.init(ctx); err != nil {
		return nil, err
	}
	debs := make([]string, 0, len(pkgs))
	for _, p := range pkgs {
		m, _ := filepath.Glob(f.dir("debs", p+"_*.deb"))
		if len(m) == 0 {
			if _, err := f.apt(ctx, f.dir("debs"), "apt-get", "download", p); err != nil {
				return nil, err
			}
			m, _ = filepath.Glob(f.dir("debs", p+"_*.deb"))
			if len(m) == 0 {
				return nil, fmt.Errorf("debfetch: apt-get download %s left no %s_*.deb in %s", p, p, f.dir("debs"))
			}
		}
		debs = append(debs, m[len(m)-1])
	}
	return debs, nil
}

// Extract downloads pkgs and unpacks them all into root with dpkg-deb -x.
func (f *Fetcher) Extract(ctx context.Context, root string, pkgs ...string) error {
	debs, err := f.Download(ctx, pkgs...)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	for _, d := range debs {
		out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", d, root).CombinedOutput()
		if err != nil {
			return fmt.Errorf("dpkg-deb -x %s: %w: %s", d, err, out)
		}
	}
	return nil
}

// hostArchiveURI finds the main Debian archive URI in the host's apt sources
// (deb822 .sources files or one-line sources.list).
func hostArchiveURI() (string, error) {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, p := range files {
		if u := uriFromDeb822(p); u != "" {
			return u, nil
		}
	}
	for _, p := range append([]string{"/etc/apt/sources.list"}, mustGlob("/etc/apt/sources.list.d/*.list")...) {
		if u := uriFromOneLine(p); u != "" {
			return u, nil
		}
	}
	return "", errors.New("debfetch: no Debian archive found in /etc/apt/sources.list{,.d}; add one (the main archive, suite bookworm or later)")
}

func mustGlob(p string) []string { m, _ := filepath.Glob(p); return m }

// isMainArchive reports whether an apt source entry is the Debian main
// archive: it serves a plain release suite (not -security or -updates) and
// its path ends in /debian.
func isMainArchive(uri string, suites []string) bool {
	if !strings.HasSuffix(strings.TrimSuffix(uri, "/"), "/debian") {
		return false
	}
	for _, s := range suites {
		if !strings.Contains(s, "-") {
			return true
		}
	}
	return false
}

func uriFromDeb822(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, stanza := range strings.Split(string(data), "\n\n") {
		var uris, suites []string
		for _, l := range strings.Split(stanza, "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok || strings.HasPrefix(l, "#") {
				continue
			}
			switch strings.TrimSpace(k) {
			case "URIs":
				uris = strings.Fields(v)
			case "Suites":
				suites = strings.Fields(v)
			}
		}
		for _, u := range uris {
			if isMainArchive(u, suites) {
				return strings.TrimSuffix(u, "/")
			}
		}
	}
	return ""
}

func uriFromOneLine(path string) string {
	fh, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		i := 1
		if strings.HasPrefix(f[i], "[") {
			for i < len(f) && !strings.HasSuffix(f[i], "]") {
				i++
			}
			i++
		}
		if i+1 < len(f) && isMainArchive(f[i], []string{f[i+1]}) {
			return strings.TrimSuffix(f[i], "/")
		}
	}
	return ""
}
