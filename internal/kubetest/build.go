// Package kubetest builds and runs a real kube-apiserver with its etcd
// for tests: the binaries come from the Go module proxy through the nested
// module test/kubeapi/tools (its own go.mod and go.sum, so armorer's stays
// small) and are cached outside the repository, keyed on that module.
package kubetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/armorer-dev/armorer/internal/debfetch"
	"github.com/armorer-dev/armorer/internal/statelock"
)

// Binaries the tools module builds: the name in the cache and the package.
var tools = []struct{ name, pkg string }{
	{"etcd", "go.etcd.io/etcd/server/v3"},
	{"kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"},
}

// ToolsDir is the nested module, found from this file's place in the tree.
func ToolsDir() (string, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("kubetest: cannot locate the source tree")
	}
	dir := filepath.Join(filepath.Dir(self), "..", "..", "test", "kubeapi", "tools")
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err != nil {
		return "", fmt.Errorf("kubetest: tools module: %w", err)
	}
	return filepath.Clean(dir), nil
}

// CacheDir is where the binaries of the current tools module live:
// $ARMORER_TEST_CACHE/kubeapi-<hash of go.mod and go.sum>.
func CacheDir() (string, error) {
	tdir, err := ToolsDir()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(tdir, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return filepath.Join(debfetch.DefaultCacheDir(), "kubeapi-"+hex.EncodeToString(h.Sum(nil))[:16]), nil
}

// Cached returns the directory of the built binaries, or "" when they are
// not built yet.
func Cached() (string, error) {
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		return "", nil
	}
	return dir, nil
}

// Build builds the binaries into the cache unless they are there, and
// returns their directory. Concurrent builds (two test binaries, two
// worktrees) wait on one lock file; a cold build takes minutes and about
// 3 GB of memory. log receives the go command's output.
func Build(ctx context.Context, log *os.File) (string, error) {
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	// One build at a time across processes; the next one finds it done.
	lock, err := statelock.Acquire(ctx, dir+".lock", nil)
	if err != nil {
		return "", err
	}
	defer lock.Unlock()
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	tdir, err := ToolsDir()
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, t := range tools {
		start := time.Now()
		cmd := exec.CommandContext(ctx, goCommand(), "build", "-trimpath", "-o", filepath.Join(tmp, t.name), t.pkg)
		cmd.Dir = tdir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if log != nil {
			fmt.Fprintf(log, "kubetest: go build %s: %s\n%s", t.pkg, time.Since(start).Round(time.Second), out.Bytes())
		}
		if err != nil {
			return "", fmt.Errorf("go build %s (in %s): %w\n%s", t.pkg, tdir, err, out.Bytes())
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// goCommand is the go tool of the toolchain running the tests.
func goCommand() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
