# PSA Bridge — the two commands: `make run` (demo) and `make test` (whole suite, SQLite then PostgreSQL).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-sqlite test-postgres lint typecheck bench fuzz install clean lock

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## The demo: emulator + hub + sample data + connector + sync, then serve the Admin Hub.
run: $(STAMP)
	bash scripts/ensure-system.sh
	$(BIN)/psabridge demo

## The whole test suite: lint, types, then tests on SQLite and on PostgreSQL.
test: $(STAMP)
	bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks

## Schemathesis over the REST API's OpenAPI (0 server errors, 0 schema violations), bounded to 15 minutes.
FUZZ_EXAMPLES ?= 150
fuzz: $(STAMP)
	PSABRIDGE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) timeout 900 $(BIN)/pytest -q -p no:randomly \
		-o addopts="" --timeout=900 tests/security/test_schemathesis.py

lock:
	uv pip compile pyproject.toml --extra dev -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
