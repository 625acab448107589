# werkcron — build, test, run, generate. Needs Go and PostgreSQL's server binaries
# (Debian: apt-get install postgresql); `make test` and `make run` boot their own
# throwaway clusters from them.

SQLC_VERSION := v1.31.1
TOOLS        := $(CURDIR)/.tools
SQLC         := $(TOOLS)/sqlc-$(SQLC_VERSION)
GO_TEST_FLAGS ?=

.PHONY: all build test run migrate generate check-generate fuzz bench lint clean

all: build

build:
	go build -o bin/werkcron ./cmd/werkcron

# Every test, against real PostgreSQL (a throwaway cluster, or WERK_TEST_DATABASE_URL).
test:
	go test -race -count=1 -timeout 30m $(GO_TEST_FLAGS) ./...

# The ticker in the foreground: on DATABASE_URL if set, else on a throwaway local
# cluster in .devdb/. Extra flags: make run ARGS='--log-format json'
run: build
	go run ./internal/devdb bin/werkcron $(ARGS)

# sqlc, pinned; built once into .tools/.
$(SQLC):
	mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) go install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)
	mv $(TOOLS)/sqlc $(SQLC)

# Regenerate db/ from sql/ and queries/; commit the result.
generate: $(SQLC)
	$(SQLC) generate

# Fails when db/ is not what sql/ and queries/ generate.
check-generate: generate
	@git diff --exit-code -- db/ || { echo 'db/ is stale: run make generate and commit it' >&2; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- db/)" || { echo 'db/ has files not committed: run make generate and commit them' >&2; exit 1; }

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed' >&2; exit 1; }
	go vet ./...

# A short run of the cron fuzz target: a count of inputs (about 10 s on 2 cores), not a
# duration. Go 1.26's fuzzer can fail a duration-bounded run with a bare "context
# deadline exceeded" when its deadline meets a worker still busy (golang/go#75804, a
# loaded machine makes it likely); a count has no deadline. Longer: FUZZTIME=20000000x.
FUZZTIME ?= 400000x
fuzz:
	go test -run '^$$' -fuzz FuzzParseCronNext -fuzztime $(FUZZTIME) ./scheduler/cron

# Speed at scale: fan-out of 1k/10k/100k schedules against its floors, River's periodic
# jobs side by side, lateness, idle cost, reload, the worker path and scale, on throwaway
# clusters; about 25 minutes. See docs/benchmarks.md for the longer runs.
# Flags: make bench ARGS='-only river -n 100000 -reps 5'
bench: build
	go run ./internal/bench -bin bin/werkcron $(ARGS)

clean:
	rm -rf bin .tools
