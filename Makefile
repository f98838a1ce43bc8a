# Quick start: `make run` (service with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast worker loadtest bench fuzz clean
LOAD_STAMP := $(VENV)/.installed-load
FUZZ_STAMP := $(VENV)/.installed-fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## Migrate, seed the demo data, start gunicorn on 127.0.0.1:8000 and one worker (Ctrl-C stops all).
run: $(STAMP)
	$(BIN)/python -m app.devserver

## The whole suite (uses REDIS_URL / DATABASE_URL when set, embedded Valkey + SQLite otherwise).
test: $(STAMP)
	$(BIN)/pytest -q

## Everything but the slow suites.
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

$(LOAD_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,load]'
	touch $(LOAD_STAMP)

## Seed 300,000 taxpayers if needed, serve make-run style on a free port, run Locust headless for
## LOADTEST_RUN_TIME (default 60s), write loadtests/reports/, stop everything; fails on any failure.
loadtest: $(LOAD_STAMP)
	$(BIN)/python -m loadtests.run

## Ratios against a bare Flask app under the same gunicorn settings (needs wrk: apt-get install -y wrk).
bench: $(LOAD_STAMP)
	$(BIN)/python -m loadtests.bench

$(FUZZ_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,fuzz]'
	touch $(FUZZ_STAMP)

## Schemathesis (not_a_server_error) as each demo role against a make-run-style service on a free port.
fuzz: $(FUZZ_STAMP)
	$(BIN)/python -m loadtests.fuzz

clean:
	rm -rf $(VENV) instance .pytest_cache
