GO ?= go
export PATH := $(PATH):/usr/local/go/bin

# Release stamps: a tag (v1.2.3, or git describe past one), else a Go
# pseudo-version of the commit; the date is the commit's, so a release
# build is reproducible.
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE    ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
VERSION ?= $(shell git describe --tags --match 'v[0-9]*' 2>/dev/null || \
	echo v0.0.0-$$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S 2>/dev/null)-$$(git rev-parse --short=12 HEAD 2>/dev/null))
BUILDINFO := github.com/armorer-dev/armorer/internal/buildinfo
LDFLAGS   := -s -w -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(DATE)

# make install: PREFIX=/usr/local by default; DESTDIR for staging.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
UNITDIR ?= $(PREFIX)/lib/systemd/system

RELEASE := bin/release

.PHONY: build test deps unit e2e example vet release dist/armorer docs deb image install $(RELEASE)

build:
	$(GO) build -o bin/armorer ./cmd/armorer

# The full suite, as CI runs it: Debian packages, unit tests, end-to-end tests.
test: deps vet unit e2e

deps:
	./scripts/install-deps.sh

vet:
	test -z "$$(gofmt -l .)" || (gofmt -l . && false)
	$(GO) vet ./...
	$(GO) -C scripts/release vet ./...

# kubetest-build first: the real kube-apiserver and etcd that test/kubeapi
# runs (cached in ~/.cache/armorer-test/kubeapi-*; a cold build takes
# minutes), so their build is not charged to a test's timeout.
unit:
	$(GO) run ./internal/kubetest/cmd/kubetest-build
	$(GO) test ./...
	$(GO) -C scripts/release test ./...

# End-to-end scenarios boot a real AppArmor kernel under qemu (see internal/vmtest);
# the release artefacts are installed and run for real (a debootstrap chroot, the image's tree).
e2e:
	$(GO) test -tags e2e -timeout 35m -v ./test/e2e/...
	$(GO) -C scripts/release test -tags e2e -timeout 25m -v ./...

# Release artefacts in dist/: the static binary, man pages and completions,
# the .deb and the agent image (an OCI layout tarball), and their checksums.
release: dist/armorer docs deb image
	cd dist && sha256sum armorer armorer_*.deb armorer-agent_*.oci.tar > SHA256SUMS

dist/armorer:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/armorer ./cmd/armorer

docs:
	$(GO) run ./scripts/gendoc -out dist/docs -version '$(VERSION)' -date '$(DATE)'

$(RELEASE):
	$(GO) -C scripts/release build -o $(CURDIR)/$(RELEASE) .

deb: dist/armorer docs $(RELEASE)
	rm -f dist/armorer_*.deb
	$(RELEASE) deb -bin dist/armorer -docs dist/docs -unit contrib/systemd/armorer-monitor.service \
		-version '$(VERSION)' -date '$(DATE)' -out dist

# Built without a container daemon: the base layer is a debootstrap tree
# (cached under ~/.cache/armorer-test), as contrib/k8s/Dockerfile describes.
image: dist/armorer $(RELEASE)
	rm -f dist/armorer-agent_*.oci.tar
	$(RELEASE) image -dockerfile contrib/k8s/Dockerfile -context dist -version '$(VERSION)' -date '$(DATE)' -out dist

# The binary, man pages, completions and the systemd unit (its ExecStart
# pointed at BINDIR).
install: dist/armorer docs
	install -D -m 0755 dist/armorer $(DESTDIR)$(BINDIR)/armorer
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 0644 dist/docs/man/man1/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -D -m 0644 dist/docs/completions/armorer.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/armorer
	install -D -m 0644 dist/docs/completions/_armorer $(DESTDIR)$(DATADIR)/zsh/site-functions/_armorer
	install -D -m 0644 dist/docs/completions/armorer.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/armorer.fish
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|^ExecStart=/usr/bin/armorer |ExecStart=$(BINDIR)/armorer |' contrib/systemd/armorer-monitor.service \
		> $(DESTDIR)$(UNITDIR)/armorer-monitor.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/armorer-monitor.service
