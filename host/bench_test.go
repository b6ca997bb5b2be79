package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchTree builds a /proc with n processes (a third confined) and a
// securityfs with n profiles.
func benchTree(b *testing.B, n int) Paths {
	b.Helper()
	dir := b.TempDir()
	p := Paths{
		SecurityFS: filepath.Join(dir, "sys/kernel/security"),
		Module:     filepath.Join(dir, "sys/module/apparmor"),
		Proc:       filepath.Join(dir, "proc"),
		ProfileDir: filepath.Join(dir, "etc/apparmor.d"),
		StateDir:   filepath.Join(dir, "state"),
		Parser:     "/nonexistent",
	}
	var profiles strings.Builder
	for i := range n {
		fmt.Fprintf(&profiles, "app%d (enforce)\n", i)
		pd := filepath.Join(p.Proc, fmt.Sprint(i+1))
		os.MkdirAll(filepath.Join(pd, "attr", "apparmor"), 0o755)
		label := "unconfined\n"
		if i%3 == 0 {
			label = fmt.Sprintf("app%d (enforce)\n", i)
		}
		os.WriteFile(filepath.Join(pd, "attr", "apparmor", "current"), []byte(label), 0o644)
		os.WriteFile(filepath.Join(pd, "comm"), []byte("app\n"), 0o644)
		os.Symlink(fmt.Sprintf("/opt/app%d/bin/app", i), filepath.Join(pd, "exe"))
	}
	os.MkdirAll(filepath.Join(p.SecurityFS, "apparmor"), 0o755)
	os.WriteFile(filepath.Join(p.SecurityFS, "apparmor", "profiles"), []byte(profiles.String()), 0o644)
	os.MkdirAll(p.ProfileDir, 0o755)
	return p
}

func BenchmarkProcesses1000(b *testing.B) {
	h := New(benchTree(b, 1000), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Processes(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadedProfiles1000(b *testing.B) {
	p := benchTree(b, 1000)
	h := New(p, nil)
	data, _ := os.ReadFile(filepath.Join(p.SecurityFS, "apparmor", "profiles"))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.LoadedProfiles(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSetModeFlags(b *testing.B) {
	src, err := os.ReadFile(filepath.Join("testdata", "profiles", "myapp"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SetModeFlags("myapp", src, Complain); err != nil {
			b.Fatal(err)
		}
	}
}
