# Quick start: `make run` (service with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast worker loadtest clean

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

clean:
	rm -rf $(VENV) instance .pytest_cache
