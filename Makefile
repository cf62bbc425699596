# visionflow — the two commands a newcomer needs: `make serve` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
SDK_VENV ?= .venv-sdk
BIN := $(VENV)/bin
PIPFLAGS ?= -q

.PHONY: install install-test venv-python bytecode serve serve-ray test test-ray bench-ray bench-peer check lint typecheck layers unit services chromium bench fuzz soak clean

# A virtualenv made with another Python than $(PYTHON) is rebuilt (checked on every run).
venv-python:
	@want=$$($(PYTHON) -c 'import sys; print(sys.version_info[:2])'); \
	if [ -x $(BIN)/python ] && [ "$$($(BIN)/python -c 'import sys; print(sys.version_info[:2])' 2>/dev/null)" != "$$want" ]; then \
		echo "$(VENV) was made with another Python than $(PYTHON): rebuilding it"; rm -rf $(VENV); \
	fi

# What the server needs (`make serve`); the test tooling is installed by `make test` only.
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIPFLAGS) --upgrade pip
	$(BIN)/pip install $(PIPFLAGS) -e .
# The tracker blocks' `trackers` package, without its opencv-python (GUI) dependency, which
# would clash with opencv-python-headless; its other dependencies are ours.
	$(BIN)/pip install $(PIPFLAGS) --no-deps "trackers==2.4.0"
	@touch $@

$(SDK_VENV)/.installed: tests/compat/requirements.txt
	@test -x $(SDK_VENV)/bin/python || $(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip install $(PIPFLAGS) -r tests/compat/requirements.txt
	@touch $@

install: venv-python $(VENV)/.installed

# Bytecode of the editable sources, as pip writes for a regular install: Python skips writing
# it where PYTHONDONTWRITEBYTECODE is set, and compiling ~140 modules at every start cost it
# ~0.2 s (docs/performance.md). Quick when current: only changed files are compiled.
bytecode: install
	@$(BIN)/python -m compileall -q -j 0 src/visionflow

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/pip install $(PIPFLAGS) -e ".[test,ray,s3]"
	@touch $@

install-test: install $(VENV)/.test-installed

## Install, prepare the registry with the demo models, and serve on 127.0.0.1:9001.
serve: install bytecode
	$(BIN)/visionflow serve

## The same API on a local Ray Serve cluster bounded to this machine (loopback only): the app
## `visionflow`, deployments `ingress` and `models` (VISIONFLOW_RAY_REPLICAS replicas), the
## registry in PostgreSQL (created if missing), demo models and key as `make serve`; Ctrl-C or
## SIGTERM stops the cluster.
VISIONFLOW_RAY_REPLICAS ?= 2
VISIONFLOW_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/visionflow
serve-ray: install bytecode services
	$(BIN)/pip install $(PIPFLAGS) -e ".[ray]"
	$(BIN)/python scripts/ensure_database.py "$(VISIONFLOW_DATABASE_URL)"
	VISIONFLOW_DATABASE_URL="$(VISIONFLOW_DATABASE_URL)" VISIONFLOW_RAY_REPLICAS=$(VISIONFLOW_RAY_REPLICAS) \
		exec $(BIN)/visionflow serve-ray

## Every Ray test (real local cluster, real PostgreSQL; minutes). `make test` runs the lean ones.
test-ray: install-test services
	VISIONFLOW_TEST_RAY_FULL=1 $(BIN)/python -m pytest -m ray -v

## Start the services the tests use (PostgreSQL) when they are not running.
services:
	@scripts/ensure-services.sh

lint: install-test
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks

typecheck: install-test
	$(BIN)/mypy

layers: install-test
	$(BIN)/lint-imports

## Debian's chromium for the browser tests (installed when missing).
chromium:
	@scripts/ensure-chromium.sh

unit: install-test bytecode $(SDK_VENV)/.installed services chromium
	VISIONFLOW_SDK_PYTHON=$(abspath $(SDK_VENV))/bin/python $(BIN)/python -m pytest

## Everything CI checks: lint, types, layer contracts, and the whole test suite.
test: lint typecheck layers unit

check: test

## Speed table: raw ONNX Runtime vs end-to-end HTTP (not a test).
bench: install-test bytecode
	$(BIN)/python benchmarks/run.py

## visionflow vs the reference server (../shared/peer, dev-only; PEER_ROOT=/tmp/peer after
## ../shared/peer/setup_peer.sh): 1/4/8 clients, ~20 and 300 boxes, OCR 1 vs 4, cold start;
## ratios to raw ONNX Runtime; JSON and a PNG plot (not a test).
PEER_ROOT ?= /tmp/peer
BENCH_PEER_FLAGS ?=
bench-peer: install-test bytecode
	$(BIN)/python benchmarks/bench_peer.py --peer-root $(PEER_ROOT) $(BENCH_PEER_FLAGS)

## Latency and throughput of `serve` vs `serve-ray` with 1 and 2 model replicas, and model loads
## under a two-model mixed load (PostgreSQL registry each; not a test).
BENCH_RAY_FLAGS ?=
bench-ray: install-test services
	$(BIN)/python benchmarks/ray_bench.py $(BENCH_RAY_FLAGS)

## Schemathesis over every OpenAPI operation with many examples (CI runs a few): no 5xx answers.
## The examples are the same on every run; FUZZ_SEED=<n> draws others.
FUZZ_EXAMPLES ?= 1000
FUZZ_SEED ?=
fuzz: install-test
	VISIONFLOW_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) VISIONFLOW_FUZZ_SEED=$(FUZZ_SEED) \
		$(BIN)/python -m pytest tests/http/test_schemathesis.py -q --timeout=0

## 50 concurrent clients for 60 s over every task, a workflow, OCR, CLIP, YOLO-World and /info on a
## real server: requests, errors (must be 0), p50/p99 latency, server RSS.
SOAK_FLAGS ?= --clients 50 --duration 60
soak: install-test
	$(BIN)/python benchmarks/soak.py $(SOAK_FLAGS)

clean:
	rm -rf $(VENV) $(SDK_VENV) .mypy_cache .ruff_cache
