// Command kubetest-build builds the kube-apiserver and etcd that
// test/kubeapi runs, into the cache (make runs it before the unit tests,
// so a cold build is not charged to a test's timeout).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/armorer-dev/armorer/internal/kubetest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dir, err := kubetest.Build(ctx, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubetest-build:", err)
		os.Exit(1)
	}
	fmt.Println(dir)
}
