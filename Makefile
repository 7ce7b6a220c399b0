# lazysched: the two commands a fresh machine needs are `make demo` and
# `make test`; everything else (modules, tools) is fetched by the go command.

GO      ?= go
# Every module of the repository: the library and the nested ones (bench/,
# examples/), found by their go.mod files.
MODULES := $(patsubst %/go.mod,%,$(shell find . -name go.mod -not -path './.git/*' | sort))
TESTFLAGS ?= -race -count=1 -timeout 10m
# The invariant checks (internal/check) are compiled in with this tag.
CHECKTAGS ?= -tags lazysched_check
# A count of runs, not a duration: with a duration, go1.26's fuzzing
# coordinator can fail a target with a bare "context deadline exceeded" as
# the time runs out on a loaded machine (go.dev/issue/75804, fixed in
# go1.27); a count has no deadline to race. 40,000 runs take 5-10 s a
# target on the 2-core VM.
FUZZTIME  ?= 40000x

.PHONY: all test vet demo demo-fleet bench bench-fleet stress soak tidy conformance fuzz

all: test

vet:
	@set -e; for m in $(MODULES); do echo "== go vet $$m"; (cd $$m && $(GO) vet ./...); done
	@echo "== go vet, invariant checks on"; $(GO) vet $(CHECKTAGS) ./...

test: vet conformance
	@command -v redis-server >/dev/null 2>&1 || echo "== redisfleet: redis-server is not on PATH, so the Redis tests are skipped (install it: apt-get install redis-server)"
	@set -e; for m in $(MODULES); do echo "== go test $$m"; (cd $$m && $(GO) test $(TESTFLAGS) ./...); done
	@echo "== go test, invariant checks on"
	$(GO) test $(TESTFLAGS) $(CHECKTAGS) ./scheduler/ ./lazytask/ ./limiter/ ./internal/...
	@$(MAKE) --no-print-directory fuzz

# A short fuzz run of the scheduler's operations (one scope, and a tree of
# capped scopes) and of its queue, each checked against a plain model or
# the invariants (seed corpora under testdata/fuzz).
fuzz:
	@echo "== fuzz ($(FUZZTIME) each)"
	$(GO) test -run XXX -fuzz '^FuzzSchedulerOps$$' -fuzztime $(FUZZTIME) ./scheduler/
	$(GO) test -run XXX -fuzz FuzzSchedulerOpsScopes -fuzztime $(FUZZTIME) ./scheduler/
	$(GO) test -run XXX -fuzz FuzzQueue -fuzztime $(FUZZTIME) ./internal/core/

# Runs golang.org/x/sync/errgroup's own tests against factory/errgroup.
conformance:
	GO=$(GO) bash factory/errgroup/conformance.sh

demo:
	cd examples && $(GO) run ./jobs

# Three processes share one cap of 8 kept in a redis-server of the demo's
# own (redis-server must be on PATH); one is killed with SIGKILL while it
# holds permits, and they come back to the fleet when their leases expire.
demo-fleet:
	cd redisfleet && $(GO) run ./cmd/fleetdemo

# 10,000,000 tasks through the randomized stress driver, invariant checks
# on; prints tasks/s, peak heap, goroutines left and violations (must be 0).
stress:
	$(GO) run $(CHECKTAGS) ./internal/stress/cmd/stress -tasks 10000000

# 1,000,000 tasks pending behind a blocked cap, then a slow drain.
soak:
	$(GO) run $(CHECKTAGS) ./internal/stress/cmd/stress -soak

tidy:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) mod tidy); done

# Compares lazysched with its peers in one run (see bench/README.md).
bench:
	cd bench && ./run.sh

# The fleet cap's cost: a task's latency and the permits per second one
# redis-server grants, against a local cap only (needs redis-server).
bench-fleet:
	cd redisfleet && $(GO) test -run XXX -bench . -benchtime 2s .
