# Smartcard Service Centre. `make demo` runs the product; `make test` runs
# every test (installing what it needs first).
GO      ?= go
BIN     := bin
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# The demo keeps all its files (store, key, log, CA, cards) in its own data
# directory, apart from a real installation's: the empty variables (which
# count as unset) stop an exported KIOSK_* from pointing it elsewhere.
DEMO_DIR ?= $(CURDIR)/.cache/demo
DEMO_ENV := KIOSK_DATA_DIR=$(DEMO_DIR) KIOSK_DATABASE_URL= KIOSK_DB= KIOSK_KEK_FILE= KIOSK_LOG_FILE= KIOSK_CA_DIR= KIOSK_CARDS_DIR=
TEST_TIMEOUT ?= 20m
SHELL   := /bin/bash
# Verbose test output without the noise: each top-level test's result
# stays visible (the store conformance suite shows once per store), and
# so does each run of the card and readers conformance suites (one per
# implementation), with every log line of a failure.
TEST_FILTER := sed -u -E -e '/^[[:space:]]*=== (RUN|PAUSE|CONT|NAME)/d' \
	-e '/^    --- PASS: Test(Card|Readers)Conformance\/[^/ ]+ /b' -e '/^[[:space:]]+--- PASS/d'

.PHONY: all build demo demo-operator demo-data test lint fmt bench bench-full setup clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

demo: demo-data
	@$(call demo_pause,the kiosk,F10 switches between the kiosk and the demo panels,F2 puts Mr Test Person's locked card in the reader (README))
	@$(DEMO_ENV) $(BIN)/kiosk --readers sim --allow-exit

# The operator terminal on the same demo data, with both simulated readers.
demo-operator: demo-data
	@$(call demo_pause,the operator terminal,F10 switches between the terminal and the card tray,Shift+F9 puts Raj Mehta's card in the operator's reader (README))
	@$(DEMO_ENV) $(BIN)/kiosk operator --readers sim --allow-exit

# demo_pause says what the demo is about to start, below the build and
# seed messages, and waits a moment so that they can be read before the
# full-screen view covers them (Enter: at once; no wait without a
# terminal). $(1): what starts; $(2): the Panels key on a small terminal;
# $(3): a first step. Lines fit 80 columns.
define demo_pause
echo; \
echo "Demo data ready in $(DEMO_DIR) (build and seed messages above)."; \
size=$$(stty size 2>/dev/null | awk '{print $$2 "×" $$1}'); \
echo "Starting $(1) full-screen$${size:+ ($$size)}. Ctrl+C quits."; \
echo "Smaller than 100×30: $(2)."; \
echo "First: $(3)."; \
if [ -t 0 ]; then read -r -s -t 6 -p "Press Enter to start now, or wait 6 seconds… " || true; echo; fi
endef

# The demo's data directory: its key, store, CA and card files.
demo-data:
	@./.ci/setup build
	@$(MAKE) --no-print-directory build
	@mkdir -p $(DEMO_DIR)
	@$(DEMO_ENV) $(BIN)/kiosk keygen --if-missing
	@$(DEMO_ENV) $(BIN)/kiosk seed --demo

setup:
	@./.ci/setup

test: setup lint
	@set -a; . ./.cache/test.env; set +a; \
	set -o pipefail; \
	$(GO) test -race -v -timeout $(TEST_TIMEOUT) -count=1 ./... 2>&1 | $(TEST_FILTER)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# make bench runs every Go benchmark in the tree BENCH_COUNT times and
# writes BENCHMARKS.md from the output (internal/benchreport; the raw
# output stays in .cache/bench). The unlock visit benchmarks report
# percentiles over their own visits, so they run a fixed number of visits
# (BENCH_VISITS) where the rest run for BENCH_TIME: 100, so that p95 is
# the 95th visit of 100 (of 20 it was the second slowest, one stray
# spike away from the slowest). One package at a time (-p 1), so that
# no two benchmarks share the cores. make bench-full also
# runs the heavy parts (a million users to search and import) through the
# BENCH_FULL_ENV variables the benchmarks read.
BENCH_COUNT   ?= 5
BENCH_TIME    ?= 200ms
BENCH_VISITS  ?= 100x
BENCH_TIMEOUT ?= 20m
BENCH_DIR     := .cache/bench
BENCH_SAMPLED := ^BenchmarkUnlockVisit$$
BENCH_SAMPLED_PKGS := ./domain/selfservice
BENCH_FULL_ENV ?= KIOSK_BENCH_FULL=1 KIOSK_BENCH_USERS=1000000
BENCH_FULL_COUNT ?= 3

bench: setup build
	@$(call bench_run,make bench,,$(BENCH_COUNT),$(BENCH_TIMEOUT))

bench-full: setup build
	@$(call bench_run,make bench-full,$(BENCH_FULL_ENV),$(BENCH_FULL_COUNT),120m,-full)

# bench_run $(1): the command's name in the report; $(2): environment;
# $(3): runs of each benchmark; $(4): go test timeout; $(5): benchreport
# flags. The report is written even when a benchmark fails (it says
# which); the target then fails.
define bench_run
set -a; . ./.cache/test.env; set +a; \
mkdir -p $(BENCH_DIR); cat /proc/loadavg >$(BENCH_DIR)/load-before; start=$$(date +%s); \
export KIOSK_BENCH_BIN=$(CURDIR)/$(BIN)/kiosk $(2); \
{ $(GO) test -p 1 -run '^$$' -bench . -skip '$(BENCH_SAMPLED)' -benchmem -count=$(3) -benchtime=$(BENCH_TIME) -timeout $(4) ./...; s1=$$?; \
  $(GO) test -p 1 -run '^$$' -bench '$(BENCH_SAMPLED)' -benchmem -count=$(3) -benchtime=$(BENCH_VISITS) -timeout $(4) $(BENCH_SAMPLED_PKGS); s2=$$?; \
  exit $$((s1 | s2)); } 2>&1 | tee $(BENCH_DIR)/bench.txt; status=$${PIPESTATUS[0]}; \
$(GO) run ./internal/benchreport -in $(BENCH_DIR)/bench.txt -out BENCHMARKS.md -bin $(BIN)/kiosk \
	-command '$(1)' -load-before $(BENCH_DIR)/load-before -elapsed $$(( $$(date +%s) - start ))s $(5) \
	-settings '-p 1 -count=$(3) -benchtime=$(BENCH_TIME) -benchmem; BenchmarkUnlockVisit: -benchtime=$(BENCH_VISITS) (visits per run)' \
	&& echo "bench: wrote BENCHMARKS.md (raw output in $(BENCH_DIR)/bench.txt)" || status=1; \
exit $$status
endef

clean:
	rm -rf $(BIN) .cache
