# deskgate — build, run, test. `make run` and `make test` are the two
# commands a newcomer needs (README.md); .ci/run calls `make test`.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := build/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests drive: sipp (sip-tester) plays phones, callers and
# trunks; baresip and linphone-cli (linphonec) are real softphones; kamailio
# (with its sca module) is the reference the shared call appearance test compares with.
TEST_DEBS := sip-tester iproute2 baresip linphone-cli kamailio
export CGO_ENABLED ?= 0

.PHONY: all build run test test-deps go-check vet fmt fmt-check bench fuzz clean

all: build

go-check:
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is required: install it to /usr/local/go and put /usr/local/go/bin on PATH" >&2; exit 1; }
	@v=$$($(GO) env GOVERSION); [ "$$(printf '%s\n' go1.26 "$$v" | sort -V | head -n1)" = go1.26 ] || \
		{ echo "Go 1.26 or newer is required (found $$v)" >&2; exit 1; }

build: go-check
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# The daemon on the demo office, unprivileged, on loopback only.
run: build
	@mkdir -p build/demo
	@echo "deskgated on the demo office; try: $(BIN)/deskgatectl --socket build/demo/control.sock status"
	$(BIN)/deskgated -config testdata/demo/deskgate.yaml

# Installs what the tests need (only when missing), then runs them all: the
# package checks first (they need root: CI runs as root; elsewhere run
# `sudo make package-test` on its own), the Go tests last so their summary
# ends the output.
test: test-deps go-check fmt-check vet
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory package-test; \
	else echo "package tests skipped: they need root (sudo make package-test)"; fi
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m ./...

test-deps:
	@if ! command -v sipp >/dev/null || ! command -v ip >/dev/null || ! command -v baresip >/dev/null || \
		! command -v linphonec >/dev/null || ! command -v kamailio >/dev/null; then \
		echo "installing $(TEST_DEBS): sipp, baresip and linphonec play phones in the SIP tests, ip makes network namespaces for discovery tests, kamailio is the SCA reference"; \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $(TEST_DEBS); \
	fi
	@if ! command -v gcc >/dev/null; then \
		echo "installing gcc (the race detector needs cgo)"; \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends gcc libc6-dev; \
	fi
	$(GO) mod download

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')

fmt-check:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './build/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# Benchmarks: Go benchmarks (start-up and reload with a 1,000-user office,
# store writes, parsing, a REGISTER with digest, a fork branch), then sipp
# load against the built deskgated (REGISTER with digest auth, 2000 users at
# 2000/s; a user with 5 phones; a 25-operator department at 50 calls/s; the
# same with two phones each, a 50-branch fork; overload at 200 calls/s,
# which must be refused with 503, then recovery; a 1-minute soak with RSS
# sampled: rate, failures, peak RSS and CPU); then 10 s of unauthenticated
# requests at 6,000/s: RSS before, during and 30 s after; about 6 minutes;
# needs sipp, see test-deps; `go run ./routing/internal/loadbench -h` for
# the knobs, e.g. -soak 10m. Speed is measured here, never asserted in tests.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...
	$(GO) run ./routing/internal/loadbench -bin $(BIN)

# A short run of every fuzz target (the seed corpora also run in `make test`).
FUZZTIME ?= 20s
fuzz: go-check
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; done

clean:
	rm -rf build

# The .deb for each of DEB_ARCHES into build/dist/ (static binaries, nfpm as a
# Go tool pinned in tools.mod). packaging/build.sh has the details.
DEB_ARCHES ?= amd64 arm64
.PHONY: deb package-test
deb: go-check
	GO=$(GO) VERSION=$(VERSION) DEB_ARCHES="$(DEB_ARCHES)" packaging/build.sh

# Tests of the packages (root: debootstrap, chroot, systemd-nspawn): lintian,
# contents, unit hardening score, install / upgrade / remove / purge in a
# Debian 12 root (cached in build/debroot-bookworm.tar), the service booted
# under systemd. packaging/test.sh has the details.
package-test: deb
	$(SUDO) env PATH="$$PATH" GO=$(GO) packaging/test.sh
