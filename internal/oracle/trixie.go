package oracle

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"

	"github.com/armorer-dev/armorer/internal/debfetch"
)

// trixiePackages hold Debian 13's parser and everything it links against
// (readelf -d: libc.so.6 and ld-linux-x86-64.so.2 only).
var trixiePackages = []string{"apparmor", "libc6"}

const libDir = "usr/lib/x86_64-linux-gnu"

// trixieParser unpacks Debian 13's apparmor and libc6 once into the test
// cache and returns a parser started through the unpacked loader.
func trixieParser(ctx context.Context) (*Parser, error) {
	f := &debfetch.Fetcher{Suite: "trixie", CacheDir: debfetch.DefaultCacheDir()}
	root := filepath.Join(f.CacheDir, "trixie", "root-apparmor")
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/apparmor_parser")); err != nil {
		if err := extractOnce(ctx, f, root); err != nil {
			return nil, fmt.Errorf("oracle: unpack Debian 13 apparmor_parser: %w", err)
		}
	}
	parser := filepath.Join(root, "usr/sbin/apparmor_parser")
	if err := checkNeeded(parser, filepath.Join(root, libDir)); err != nil {
		return nil, err
	}
	return &Parser{
		Argv: []string{
			filepath.Join(root, libDir, "ld-linux-x86-64.so.2"),
			"--library-path", filepath.Join(root, libDir),
			parser,
		},
		IncludeDir: filepath.Join(root, "etc/apparmor.d"),
		ABI:        "abi/4.0",
	}, nil
}

// extractOnce unpacks into a fresh directory and renames it into place, so
// concurrent test processes never see a half-unpacked tree.
func extractOnce(ctx context.Context, f *debfetch.Fetcher, root string) error {
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(root), ".root-apparmor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := f.Extract(ctx, tmp, trixiePackages...); err != nil {
		return err
	}
	if err := os.Rename(tmp, root); err != nil {
		if _, statErr := os.Stat(filepath.Join(root, "usr/sbin/apparmor_parser")); statErr == nil {
			return nil // another process won the race
		}
		return err
	}
	return nil
}

// checkNeeded verifies that every DT_NEEDED library of bin is in dir.
func checkNeeded(bin, dir string) error {
	ef, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("oracle: %w", err)
	}
	defer ef.Close()
	libs, err := ef.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("oracle: read NEEDED of %s: %w", bin, err)
	}
	for _, l := range libs {
		if _, err := os.Stat(filepath.Join(dir, l)); err != nil {
			return fmt.Errorf("oracle: %s needs %s, which packages %v do not ship: add its Debian package to trixiePackages", bin, l, trixiePackages)
		}
	}
	return nil
}
