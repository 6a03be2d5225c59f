# The two commands: `make demo` and `make test`. Everything they need is installed here,
# into .venv (Python packages and configurable-http-proxy), from a fresh clone.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NODE_PREFIX := $(VENV)/node
CHP := $(NODE_PREFIX)/node_modules/.bin/configurable-http-proxy
CHP_VERSION := 5.3.0
export PATH := $(abspath $(BIN)):$(abspath $(NODE_PREFIX)/node_modules/.bin):$(PATH)
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: demo test lint format docs pytest test-fast benchmarks clean

demo: $(VENV)/.demo-installed $(CHP)
	$(BIN)/jhub-managed demo $(DEMO_ARGS)

test: $(VENV)/.test-installed $(CHP) lint docs pytest

pytest: $(VENV)/.test-installed $(CHP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# the quick set for development: no end-to-end hubs and browsers
test-fast: $(VENV)/.test-installed $(CHP)
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: $(VENV)/.test-installed
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

benchmarks: $(VENV)/.test-installed $(CHP)
	$(BIN)/python -m benchmarks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[demo,postgres]"
	touch $@

$(VENV)/.test-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,docs]"
	touch $@ $(VENV)/.demo-installed

$(CHP):
	npm install --silent --no-audit --no-fund --prefix $(NODE_PREFIX) configurable-http-proxy@$(CHP_VERSION)

clean:
	rm -rf $(VENV) docs/_build .pytest_cache .ruff_cache
