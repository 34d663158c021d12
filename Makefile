# Tutela — the quick start is `make run`, then `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DECLARATIONS ?= examples/saas-helpdesk.yml
export TUTELA_DATA_DIR ?= ./tutela-data

.PHONY: run init test test-postgres lint bench clean help

help:
	@echo "make run    install into .venv, initialise ./tutela-data, serve on 127.0.0.1:8000"
	@echo "make test   the whole test suite (plus PostgreSQL when TUTELA_TEST_DATABASE_URL is set)"
	@echo "make lint   ruff and mypy --strict"
	@echo "make bench  benchmarks, each beside its raw limit"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

init: $(VENV)/.installed
	$(BIN)/tutela init --declarations $(DECLARATIONS)

run: init
	$(BIN)/tutela serve

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests $(wildcard benchmarks)
	$(BIN)/ruff format --check src tests $(wildcard benchmarks)
	$(BIN)/mypy --strict src

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
