# Genre dataset toolkit: every command a user types goes through here.
# `make` alone lists the targets. Variables: DATA (data folder), PLAYLISTS, PYTHON.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= data
DEMO_DATA ?= data/demo
PLAYLISTS ?=
STAMP := $(VENV)/.installed

.PHONY: help venv test test-slow lint doctor validate demo clean-demo

help: ## List the targets (this text)
	@echo "Genre dataset toolkit. First time: 'make demo', then 'make test'."
	@echo "Variables: DATA=$(DATA) (data folder)  PLAYLISTS=file.csv or \"rock=ID jazz=ID\""
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

# The virtual environment is (re)built whenever pyproject.toml is newer than it.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python >= 3.11 or run 'make PYTHON=python3.12 ...'" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: Python >= 3.11 is required, $(PYTHON) is " + sys.version.split()[0])'
	@echo "Setting up $(VENV) from pyproject.toml (first time takes a few minutes)..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(STAMP) ## Create or refresh the virtual environment from pyproject.toml

test: $(STAMP) ## Run the offline test suite (never touches the internet)
	$(PY) -m pytest -q -m "not slow and not network"

test-slow: $(STAMP) ## Run the slow tests as well (still offline)
	$(PY) -m pytest -q -m "not network"

lint: $(STAMP) ## Check style with ruff
	$(PY) -m ruff check .

validate: $(STAMP) ## Validate every manifest in DATA against its schema
	$(PY) -m manifests validate --data $(DATA)
