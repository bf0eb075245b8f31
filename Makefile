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
export PLAYLISTS
RYM_PAGES ?=
LABELS_ARGS ?=
DOWNLOAD_ARGS ?=
COOKIES ?=
TRAIN_ARGS ?=
RUN ?= cnn
FILES ?=
STAMP := $(VENV)/.installed

.PHONY: help venv test test-slow lint validate collect spotify-login labels download doctor split manifest \
	audit train report predict demo bench clean-demo

help: ## List the targets (this text)
	@echo "Genre dataset toolkit. First time: 'make demo', then 'make test'."
	@echo "Variables: DATA=$(DATA) (data folder)  PLAYLISTS=file.csv or \"rock=ID jazz=ID\""
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

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

# ---------------------------------------------------------------- the pipeline on real music

collect: $(STAMP) ## 1. Tracks from Spotify playlists: PLAYLISTS=playlists.csv or PLAYLISTS="rock=ID jazz=ID"
	@test -n "$$PLAYLISTS" || { echo 'error: set PLAYLISTS=playlists.csv (columns genre,playlist) or PLAYLISTS="rock=ID jazz=ID"' >&2; exit 2; }
	$(PY) -m collectors collect --playlists "$$PLAYLISTS" --data $(DATA)
	$(PY) -m labeling resolve --data $(DATA)

spotify-login: $(STAMP) ## Sign in to Spotify once (browser; token kept privately with mode 0600)
	$(PY) -m collectors spotify-login

labels: $(STAMP) ## 2. Genre claims from MusicBrainz (+ RYM_PAGES=DIR saved pages, + Last.fm), then labels
	$(PY) -m collectors labels --data $(DATA) $(if $(RYM_PAGES),--rym-pages "$(RYM_PAGES)") $(LABELS_ARGS)
	$(PY) -m labeling resolve --data $(DATA)

download: $(STAMP) ## 3. Find each track on YouTube, download its audio, convert to 16 kHz mono WAV (COOKIES=file optional)
	$(PY) -m collectors download --data $(DATA) $(if $(COOKIES),--cookies "$(COOKIES)") $(DOWNLOAD_ARGS)

doctor: $(STAMP) ## Check ffmpeg, yt-dlp, the JS runtime (deno) and the cookies file; says what to fix
	$(PY) -m collectors doctor --data $(DATA) $(if $(COOKIES),--cookies "$(COOKIES)")

split: $(STAMP) ## Artist-disjoint, genre-stratified train/validation/test splits
	$(PY) -m labeling split --data $(DATA)

manifest: $(STAMP) ## Join tracks, labels, audio and splits into DATA/manifests/training.csv
	$(PY) -m labeling build --data $(DATA)

audit: split manifest ## 4. Validate everything and write DATA/reports/audit/report.md (plots, flagged.csv)
	$(PY) -m labeling audit --data $(DATA)
