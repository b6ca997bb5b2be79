// Package kubeapi runs armorer's Kubernetes output against a real
// kube-apiserver (v1.37.2) and etcd, built from the Go module proxy by the
// nested module tools/ and cached outside the repository (internal/kubetest).
package kubeapi

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/armorer-dev/armorer/internal/cli"
	"github.com/armorer-dev/armorer/internal/kubetest"
	"github.com/armorer-dev/armorer/internal/testenv"
)

// EnvBuild asks the tests to build the binaries when they are not cached
// (CI always builds them; elsewhere a cold build of minutes is opt-in, or
// run `go run ./internal/kubetest/cmd/kubetest-build`).
const EnvBuild = "ARMORER_KUBEAPI_BUILD"

var (
	apiServer *kubetest.Server
	startErr  error
)

// envRunArmorer makes this test binary armorer itself, for the tests
// that run the command line against the API server.
const envRunArmorer = "ARMORER_KUBEAPI_RUN_ARMORER"

func TestMain(m *testing.M) {
	if os.Getenv(envRunArmorer) != "" {
		os.Exit(cli.Main())
	}
	os.Exit(run(m))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func run(m *testing.M) int {
	ctx := context.Background()
	bin, err := kubetest.Cached()
	if err == nil && bin == "" {
		if testenv.InCI() || os.Getenv(EnvBuild) != "" {
			bin, err = kubetest.Build(ctx, os.Stderr)
		} else {
			err = fmt.Errorf("kube-apiserver and etcd are not built: run `go run ./internal/kubetest/cmd/kubetest-build` (minutes, about 3 GB of memory) or set %s=1", EnvBuild)
		}
	}
	if err != nil {
		startErr = err
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "armorer-kubeapi-")
	if err != nil {
		startErr = err
		return m.Run()
	}
	defer os.RemoveAll(dir)
	s, err := kubetest.Start(ctx, bin, dir)
	if err != nil {
		startErr = fmt.Errorf("start the API server from %s: %w", bin, err)
		return m.Run()
	}
	defer s.Stop()
	apiServer = s
	return m.Run()
}

// server returns the running API server, or ends the test: a failure in
// CI, a skip elsewhere.
func server(t *testing.T) *kubetest.Server {
	t.Helper()
	if apiServer == nil {
		testenv.Missing(t, "a real kube-apiserver: %v", startErr)
	}
	return apiServer
}
