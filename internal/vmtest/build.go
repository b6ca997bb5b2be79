package vmtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// GoBuild builds the Go package pkg (an import path or a ./dir relative to the
// module root) as a static binary (CGO_ENABLED=0) at out. flags go to go
// build before the package (e.g. "-ldflags", "-X main.version=2").
func GoBuild(ctx context.Context, pkg, out string, flags ...string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	args := append([]string{"build", "-trimpath", "-o", out}, flags...)
	cmd := exec.CommandContext(ctx, goTool(), append(args, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("vmtest: go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// BuildArmorer builds the armorer command from this module into dir and
// returns a File installing it at /usr/sbin/armorer.
func BuildArmorer(ctx context.Context, dir string) (File, error) {
	out := filepath.Join(dir, "armorer")
	if err := GoBuild(ctx, "./cmd/armorer", out); err != nil {
		return File{}, err
	}
	return Program(out, "/usr/sbin/armorer"), nil
}

// CC compiles C sources with the host's gcc into a dynamically linked
// program at out; Image copies the libraries it needs.
func CC(ctx context.Context, out string, srcs ...string) error {
	args := append([]string{"-O2", "-Wall", "-o", out}, srcs...)
	if b, err := exec.CommandContext(ctx, "gcc", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("vmtest: gcc %v: %w\n%s", srcs, err, b)
	}
	return nil
}

// goTool is the go command: the one building this test binary (runtime's
// GOROOT is unreliable under -trimpath), else PATH's, else the usual install.
func goTool() string {
	if r := os.Getenv("GOROOT"); r != "" {
		return filepath.Join(r, "bin", "go")
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}
