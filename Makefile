GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: build test deps unit e2e example vet

build:
	$(GO) build -o bin/armorer ./cmd/armorer

# The full suite, as CI runs it: Debian packages, unit tests, end-to-end tests.
test: deps vet unit e2e

deps:
	./scripts/install-deps.sh

vet:
	test -z "$$(gofmt -l .)" || (gofmt -l . && false)
	$(GO) vet ./...

# kubetest-build first: the real kube-apiserver and etcd that test/kubeapi
# runs (cached in ~/.cache/armorer-test/kubeapi-*; a cold build takes
# minutes), so their build is not charged to a test's timeout.
unit:
	$(GO) run ./internal/kubetest/cmd/kubetest-build
	$(GO) test ./...

# End-to-end scenarios boot a real AppArmor kernel under qemu (see internal/vmtest).
e2e:
	$(GO) test -tags e2e -timeout 25m -v ./test/e2e/...
