# The two commands of the README: `make mocks` (start every mock) and `make test`.
# Both create the virtualenv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What is installed comes from the lock files (requirements/*.txt, pinned with hashes; `make lock`
# refreshes them); a stamp per lock says the virtualenv holds it.
RUN_STAMP := $(VENV)/.run-$(shell cat requirements/run.txt pyproject.toml | cksum | cut -d' ' -f1)
TEST_STAMP := $(VENV)/.test-$(shell cat requirements/test.txt pyproject.toml | cksum | cut -d' ' -f1)
# PactFlow's bi-directional contract check, from the npm registry (the pact suites run it).
SMV_VERSION := 14.5.0
SMV := .tools/node_modules/.bin/swagger-mock-validator

.PHONY: tools mutate mocks map test compat coverage lint fuzz bench chaos chaos-ci pacts verify-provider container-tier container-tier-stop venv lock clean

venv: $(TEST_STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	@echo "make: creating the virtualenv $(VENV)"
	@$(PYTHON) -m venv $(VENV)

# $(call install,LOCK,WHO,STAMP-KIND): the lock's pins, then this project without dependencies
define install
	@echo "make: installing what $(2) need ($(1), pinned with hashes)"
	@$(BIN)/python -m pip install --quiet --require-hashes -r $(1)
	@echo "make: installing this project (editable)"
	@$(BIN)/python -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.$(3)-* && touch $@
endef

$(RUN_STAMP): requirements/run.txt pyproject.toml | $(BIN)/python
	$(call install,requirements/run.txt,the mocks,run)

$(TEST_STAMP): requirements/test.txt pyproject.toml | $(BIN)/python
	$(call install,requirements/test.txt,the suites,test)

## Refresh the lock files from pyproject.toml's ranges (newest versions the registry has).
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'uv>=0.5'
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 --quiet -o requirements/run.txt
	$(BIN)/uv pip compile pyproject.toml --extra test --extra verify --extra contract --generate-hashes --python-version 3.11 \
		--quiet -o requirements/test.txt

## Start every mock (and a throwaway Redis when redis-server exists) until Ctrl-C.
mocks: $(RUN_STAMP)
	@echo "make: starting the mocks (python -m mocks up $(MOCKS_ARGS))"
	$(BIN)/python -m mocks up $(MOCKS_ARGS)

## The npm tools the suites use, where npm exists (without npm their tier says how to get it).
tools:
	@# --ignore-scripts: the package's postinstall applies its own development patches, and fails when CI=true
	@test -x $(SMV) || ! command -v npm >/dev/null || npm install --silent --ignore-scripts --no-audit --no-fund \
		--prefix .tools @pactflow/swagger-mock-validator@$(SMV_VERSION) >/dev/null 2>&1 || \
		echo "could not install @pactflow/swagger-mock-validator with npm: its tests will skip (or fail in CI)" >&2

## Run every suite; the result also goes to $(JUNIT) as JUnit XML (CI keeps it).
## Every answer of every mock is recorded to $(COVERAGE_RECORDS) for `make coverage`.
## The suites run on WORKERS pytest-xdist workers, each with its own servers (one per core, at most 4;
## WORKERS=0 runs them in this one process); the crash rounds share one worker (suites/chaos/conftest.py).
JUNIT ?= .run/junit.xml
COVERAGE_RECORDS ?= .run/coverage.jsonl
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; [ $$n -lt 2 ] && n=0; echo $$n)
test: venv tools
	$(if $(HARNESS_REDIS_SOURCE),HARNESS_REDIS_SOURCE=$(HARNESS_REDIS_SOURCE)) $(BIN)/python -m pytest --junitxml=$(JUNIT) \
		--harness-coverage=$(COVERAGE_RECORDS) -n $(WORKERS) --dist loadgroup $(PYTEST_ARGS)

## Contract coverage of the last `make test`: .run/coverage.html (a table per contract) and .run/coverage.json;
## fails when a documented error response of a seed endpoint was exercised by nothing.
coverage: venv
	@test -s $(COVERAGE_RECORDS) || { echo "make coverage: no $(COVERAGE_RECORDS): run make test first" >&2; exit 2; }
	$(BIN)/harness coverage --records $(COVERAGE_RECORDS) --html .run/coverage.html --json .run/coverage.json --gate

## The contract gate: each contract against the merge base with main (on main: the previous commit);
## a breaking change fails unless the contract declares it (README: "The contract gate").
COMPAT_REF ?=
compat: venv
	@mkdir -p .run
	$(BIN)/harness compat --git $(COMPAT_REF) --gate --pacts pacts --clients order_service/clients --show warning \
		--json .run/compat.json --markdown .run/compat.md

## ruff (lint and format) and mypy (strict for the packages).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Schemathesis with a fresh random seed and more examples than CI runs.
fuzz: venv
	@seed=$${HARNESS_FUZZ_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
		echo "make fuzz: HARNESS_FUZZ_SEED=$$seed (set it to replay this run)"; \
		HARNESS_FUZZ_SEED=$$seed HARNESS_FUZZ_EXAMPLES=$${EXAMPLES:-200} HARNESS_PUBLIC_SAMPLE=1 \
		HARNESS_PUBLIC_EXAMPLES=$${EXAMPLES:-20} \
		$(BIN)/python -m pytest -m schemathesis -p no:cacheprovider --timeout=3600

## Regenerate pacts/ from the consumer tests.
pacts: venv
	HARNESS_PACT_DIR=pacts $(BIN)/python -m pytest -m pact -p no:cacheprovider -q suites/pact

## Verify our pact against a running provider:
##   make verify-provider PROVIDER=strategy-service URL=http://host:port [STATES_URL=http://host:port/states]
verify-provider: venv
	@test -n "$(PROVIDER)" -a -n "$(URL)" || { echo "usage: make verify-provider PROVIDER=<name> URL=<base url> [STATES_URL=<url>]"; exit 2; }
	$(BIN)/harness verify-pacts --provider "$(PROVIDER)" --url "$(URL)" $(if $(STATES_URL),--states-url "$(STATES_URL)")

## Containerized Redis without Docker: Podman's API on a private socket, a locally built image.
## Then: eval "$$(scripts/container-tier.sh env)"; make test PYTEST_ARGS="-m redis" HARNESS_REDIS_SOURCE=container
container-tier:
	@scripts/container-tier.sh start

container-tier-stop:
	@scripts/container-tier.sh stop

## Mutation testing (mutmut) of the modules in pyproject's [tool.mutmut]; not in CI (too slow for 2 cores).
## Prints the share of mutants killed per module; exits 1 under 90 % or on an unlisted survivor.
mutate: venv
	$(BIN)/python -m pip install --quiet 'mutmut>=3.8,<4'
	HARNESS_REDIS_SOURCE=process $(BIN)/mutmut run > .mutmut-run.log 2>&1 || tail -c 2000 .mutmut-run.log
	$(BIN)/python -m suites.mutation.report

## Throughput, latency, cold start and memory of a real mock (see suites/bench/).
bench: venv
	command -v wrk >/dev/null || [ "$$(id -u)" != 0 ] || apt-get install -y -qq wrk >/dev/null 2>&1 || true
	$(BIN)/python -m suites.bench.bench_mocks $(BENCH_ARGS)
	$(BIN)/python -m suites.bench.bench_routing
	$(BIN)/python -m suites.bench.bench_clients
	$(BIN)/python -m suites.bench.bench_balancing
	$(BIN)/python -m suites.bench.bench_signing
	$(BIN)/python -m suites.bench.bench_tls
	$(BIN)/python -m suites.bench.bench_redis_usage
	$(BIN)/python -m suites.bench.bench_anomaly
	$(BIN)/python -m suites.bench.bench_order_service
	$(BIN)/python -m suites.bench.bench_compat

## The README's dependency map (docs/dependency-map.{json,svg,png}) from a real traced stack;
## needs Graphviz's dot (apt-get install graphviz).
map: venv
	command -v dot >/dev/null || [ "$$(id -u)" != 0 ] || apt-get install -y -qq graphviz >/dev/null 2>&1 || true
	$(BIN)/python -m suites.e2e.map_demo

## Crash rounds over real processes (harness chaos): `make chaos` runs one round of DURATION
## seconds with a new seed (printed); `make chaos SEED=7 DURATION=60` replays that round's faults.
DURATION ?= 180
chaos: venv
	$(BIN)/python -m harness chaos --seconds $(DURATION) $(if $(SEED),--seed $(SEED),)

## CI's round: two fixed seeds, about two minutes; fails on any violation.
chaos-ci: venv
	$(BIN)/python -m harness chaos --seed 11 --seed 12 --seconds 40 --partitions on --out .run/chaos-ci

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
