package vmtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
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
// returns a File installing it at /usr/sbin/armorer. The build runs once per
// test process (every scenario boots the same binary), under its own time
// limit rather than ctx's: a scenario's deadline is sized for the VM, and a
// build on a loaded machine must not eat it. ctx still cancels the wait.
func BuildArmorer(ctx context.Context, dir string) (File, error) {
	armorerOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "vmtest-armorer-")
		if err != nil {
			armorerErr = err
			return
		}
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		armorerBin = filepath.Join(tmp, "armorer")
		armorerErr = GoBuild(bctx, "./cmd/armorer", armorerBin)
	})
	if armorerErr != nil {
		return File{}, armorerErr
	}
	out := filepath.Join(dir, "armorer")
	b, err := os.ReadFile(armorerBin)
	if err == nil {
		err = os.WriteFile(out, b, 0o755)
	}
	if err != nil {
		return File{}, err
	}
	return Program(out, "/usr/sbin/armorer"), nil
}

var (
	armorerOnce sync.Once
	armorerBin  string
	armorerErr  error
)

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
