# relcache build, test and benchmark entry points. `make test` is what CI
# runs (.ci/run) and what the README tells a new user to run.

GO       ?= go
# Go 1.26.8's standard library has vulnerabilities govulncheck finds reachable
# from our code (crypto/tls, net/http, ...); go1.27.3 is the approved
# toolchain, which the go command fetches from the module proxy like a module
# (76 MB, once per machine). A machine's own Go ignores go.mod's toolchain
# line when GOTOOLCHAIN=local, so every entry point exports it: this
# Makefile, .ci/run and scripts/lib.sh; README.md says so for a shell.
export GOTOOLCHAIN := go1.27.3
BIN      := bin/relcache
BENCHBIN := bin/relcache-bench
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
FUZZTIME ?= 10s

# The linters run from tools.mod, a module file of their own (go get -tool
# -modfile=tools.mod pkg@version pins them), so their dependencies never
# raise the versions the server builds with: in go.mod, staticcheck alone
# would raise golang.org/x/sync and x/sys. `go tool` builds them once into
# the build cache; after the first download they run offline.
TOOL := $(GO) tool -modfile=tools.mod

.PHONY: build run test test-race test-invariants unit bench bench-bundle lint vuln fuzz clean

# The benchmark tools are their own binary (they link plotting the server
# does not need); `relcache bench` runs the one next to it.
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/relcache
	$(GO) build -o $(BENCHBIN) ./cmd/relcache-bench

# Serves testdata/sample-graph.tsv on the defaults (RESP on 127.0.0.1:6380,
# admin HTTP on 127.0.0.1:9380) from the embedded SQLite source in RUN_DIR,
# importing it on first use. The marker file is written only after a whole
# import, so an interrupted one is simply re-run (import is idempotent).
# `rm -rf .run` starts afresh.
RUN_DIR ?= .run

run: build
	@mkdir -p $(RUN_DIR)
	@test -f $(RUN_DIR)/relcache-source.db -a -f $(RUN_DIR)/.sample-imported || \
	  { $(BIN) import testdata/sample-graph.tsv --dir $(RUN_DIR) && touch $(RUN_DIR)/.sample-imported; }
	$(BIN) serve --dir $(RUN_DIR)

# Lint, every test under the race detector (integration tests then build the
# server with -race too), the unit tests with the invariant checks built in,
# and a short pass of every fuzz target.
test: lint test-race test-invariants fuzz

# -timeout 20m: the server package runs ~7 minutes under -race on a quiet
# 2-core host and passed go test's default 10 once the host was busy; the
# limit is there to catch a hang, not to time the suite.
test-race:
	$(GO) test -race -count=1 -timeout 20m ./...

# The unit tests (-short: none that starts a process) built with -tags
# invariants, under which openhash proves every set it changes with Check
# and the store recounts its accounting after writes (internal/invariants).
test-invariants:
	$(GO) test -short -count=1 -tags invariants ./...

# The unit tests alone, in seconds: -short skips every test that starts a
# process (the relcache binary, redis-server, mariadbd, nutcracker,
# redis-cli, node...), which the helpers in internal/relcachetest see to.
unit:
	$(GO) test -short -count=1 ./...

# govulncheck against a vulnerability database built from a pinned
# golang.org/x/vulndb snapshot (scripts/vuln.sh says why); part of lint.
vuln:
	GO=$(GO) scripts/vuln.sh

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# Every binary scripts/bench-cores.sh runs, with the libraries they load,
# in bench-bundle/ (ignored, under 54 MiB) for a machine without them or
# a network: there, `BIN_DIR=bench-bundle scripts/bench-cores.sh`.
bench-bundle:
	scripts/bench-bundle.sh bench-bundle

# gofmt, vet, staticcheck (its checks and their ids: staticcheck.dev/docs/checks;
# a false positive gets a `//lint:ignore CHECK reason` on its line), and
# go.mod/go.sum as `go mod tidy` would leave them.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOL) staticcheck ./...
	@$(GO) mod tidy -diff || { echo "lint: go.mod or go.sum is not tidy (the diff above): run go mod tidy"; exit 1; }
	GO=$(GO) scripts/vuln.sh

# Runs each fuzz target for FUZZTIME (make fuzz FUZZTIME=5m for a real hunt).
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" when -fuzztime ends while a worker is mid-call
# (go.dev/issue/75804; the go1.27.3 we build with has the fix, the retry
# stays for a machine on its own Go 1.26): such a run, with no failing input
# written, is run once more; anything else fails.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    if out=$$($(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) $$pkg 2>&1); then \
	      echo "$$out" | tail -n 1; continue; \
	    fi; \
	    echo "$$out"; \
	    if echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
	      echo "fuzz: $$f: the -fuzztime shutdown race, not a finding; once more"; \
	      $(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) $$pkg; \
	    else \
	      exit 1; \
	    fi; \
	  done; \
	done

clean:
	rm -rf bin bench-bundle
