# visionflow — the two commands a newcomer needs: `make serve` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
SDK_VENV ?= .venv-sdk
BIN := $(VENV)/bin
PIPFLAGS ?= -q

.PHONY: install serve test check lint typecheck layers unit services bench clean

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIPFLAGS) --upgrade pip
	$(BIN)/pip install $(PIPFLAGS) -e ".[test]"
	@touch $@

$(SDK_VENV)/.installed: tests/compat/requirements.txt
	@test -x $(SDK_VENV)/bin/python || $(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip install $(PIPFLAGS) -r tests/compat/requirements.txt
	@touch $@

install: $(VENV)/.installed

## Install, prepare the registry with the demo models, and serve on 127.0.0.1:9001.
serve: install
	$(BIN)/visionflow serve

## Start the services the tests use (PostgreSQL) when they are not running.
services:
	@scripts/ensure-services.sh

lint: install
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks

typecheck: install
	$(BIN)/mypy

layers: install
	$(BIN)/lint-imports

unit: install $(SDK_VENV)/.installed services
	VISIONFLOW_SDK_PYTHON=$(abspath $(SDK_VENV))/bin/python $(BIN)/python -m pytest

## Everything CI checks: lint, types, layer contracts, and the whole test suite.
test: lint typecheck layers unit

check: test

## Speed table: raw ONNX Runtime vs end-to-end HTTP (not a test).
bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(SDK_VENV) .mypy_cache .ruff_cache
