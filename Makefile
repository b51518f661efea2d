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

.PHONY: all build demo demo-operator demo-data test lint fmt bench setup clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

demo: demo-data
	@$(DEMO_ENV) $(BIN)/kiosk --readers sim --allow-exit

# The operator terminal on the same demo data, with both simulated readers.
demo-operator: demo-data
	@$(DEMO_ENV) $(BIN)/kiosk operator --readers sim --allow-exit

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

bench: setup
	@set -a; . ./.cache/test.env; set +a; \
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

clean:
	rm -rf $(BIN) .cache
