# lazysched: the two commands a fresh machine needs are `make demo` and
# `make test`; everything else (modules, tools) is fetched by the go command.

GO      ?= go
# Every module of the repository: the library and the nested ones (bench/,
# examples/), found by their go.mod files.
MODULES := $(patsubst %/go.mod,%,$(shell find . -name go.mod -not -path './.git/*' | sort))
TESTFLAGS ?= -race -count=1 -timeout 10m

.PHONY: all test vet demo bench stress tidy conformance

all: test

vet:
	@set -e; for m in $(MODULES); do echo "== go vet $$m"; (cd $$m && $(GO) vet ./...); done

test: vet conformance
	@set -e; for m in $(MODULES); do echo "== go test $$m"; (cd $$m && $(GO) test $(TESTFLAGS) ./...); done

# Runs golang.org/x/sync/errgroup's own tests against factory/errgroup.
conformance:
	GO=$(GO) bash factory/errgroup/conformance.sh

demo:
	cd examples && $(GO) run ./jobs

tidy:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) mod tidy); done

# Compares lazysched with its peers in one run (see bench/README.md).
bench:
	cd bench && ./run.sh
