# Genre dataset toolkit: every command a user types goes through here.
# `make` alone lists the targets. Variables: DATA (data folder), PLAYLISTS, PYTHON.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules

# The first Python >= 3.11 found (checked when the environment is built); override with PYTHON=...
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do command -v $$p >/dev/null 2>&1 && echo $$p && break; done)
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= data
DEMO_DATA ?= data/demo
PLAYLISTS ?=
export PLAYLISTS
RYM_PAGES ?=
LABELS_ARGS ?=
SPLIT_ARGS ?=
DOWNLOAD_ARGS ?=
COOKIES ?=
TRAIN_ARGS ?=
RUN ?=
FILES ?=
OUT ?=
FORMAT ?= savedmodel
AUDIO ?=
IMPORT_ARGS ?=
STAMP := $(VENV)/.installed

.PHONY: help venv test test-slow lint validate collect import spotify-login labels download doctor split manifest \
	audit review train report predict export serve demo bench bench-spotify bench-audio bench-import bench-train bench-match bench-review bench-serve bench-metadata bench-gpu chaos clean-demo

help: ## List the targets (this text)
	@echo "Genre dataset toolkit. First time: 'make demo', then 'make test'."
	@echo "Variables: DATA=$(DATA) (data folder)  PLAYLISTS=file.csv or \"rock=ID jazz=ID\""
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

# The virtual environment is (re)built whenever pyproject.toml is newer than it.
$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" && command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: no python3 found; install Python >= 3.11 or run 'make PYTHON=/path/to/python3.11 ...'" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: Python >= 3.11 is required, $(PYTHON) is " + sys.version.split()[0])'
	@echo "Setting up $(VENV) from pyproject.toml (first time takes a few minutes)..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@# compat: the checkout goes on sys.path, so a data folder's manifests/ directory in the current
	@# folder can never shadow the manifests package (the default editable hook loses to it).
	@$(PY) -m pip install --quiet -e '.[train,export,jax,dev]' --config-settings editable_mode=compat
	@touch $@

venv: $(STAMP) ## Create or refresh the virtual environment from pyproject.toml

test: $(STAMP) ## Run the offline test suite (never touches the internet)
	$(PY) -m pytest -q

test-slow: $(STAMP) ## The slow tier: multi-process tests (two training workers on 127.0.0.1), minutes
	$(PY) -m pytest -q -m slow

lint: $(STAMP) ## Style (ruff), types (mypy) and the layer contracts between packages (import-linter)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

validate: $(STAMP) ## Validate every manifest in DATA against its schema
	$(PY) -m manifests validate --data $(DATA)

# ---------------------------------------------------------------- the pipeline on real music

collect: $(STAMP) ## 1. Tracks from Spotify playlists: PLAYLISTS=playlists.csv or PLAYLISTS="rock=ID jazz=ID"
	@test -n "$$PLAYLISTS" || { echo 'error: set PLAYLISTS=playlists.csv (columns genre,playlist) or PLAYLISTS="rock=ID jazz=ID"' >&2; exit 2; }
	$(PY) -m collectors collect --playlists "$$PLAYLISTS" --data $(DATA)
	$(PY) -m labeling resolve --data $(DATA)

import: $(STAMP) ## 1b. Audio you already have: AUDIO="folder ..." (IMPORT_ARGS="--layout genre", "--gtzan", ...), then labels
	@test -n "$(AUDIO)" || { echo 'error: set AUDIO="folder ..." (e.g. AUDIO=~/Music, or AUDIO=gtzan/genres IMPORT_ARGS=--drop-gtzan-faults)' >&2; exit 2; }
	$(PY) -m collectors import-audio $(AUDIO) --data $(DATA) $(IMPORT_ARGS)
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

split: $(STAMP) ## Artist-disjoint, genre-stratified splits (SPLIT_ARGS="--no-artists album" for unknown artists)
	$(PY) -m labeling split --data $(DATA) $(SPLIT_ARGS)

manifest: $(STAMP) ## Join tracks, labels, audio and splits into DATA/manifests/training.csv
	$(PY) -m labeling build --data $(DATA)

audit: split manifest ## 4. Validate everything and write DATA/reports/audit/report.md (plots, flagged.csv)
	$(PY) -m labeling audit --data $(DATA)

train: $(STAMP) ## 5. Train the CNN (RUN=name, TRAIN_ARGS="--preset cpu"), evaluate it next to the MFCC baseline
	run=$$($(PY) -m training train --data $(DATA) $(if $(RUN),--run "$(RUN)") $(TRAIN_ARGS)) && \
	$(PY) -m training evaluate "$$run" --data $(DATA) && \
	echo "Report: $$run/report.md"

review: $(STAMP) ## Browse DATA's tracks in your browser, listen, and write overrides.csv (RUN=name adds its predictions)
	$(PY) -m labeling review --data $(DATA) $(if $(RUN),--run "$(RUN)")

report: $(STAMP) ## Redraw report.md and the plots of RUN=name from its saved metrics
	@test -n "$(RUN)" || { echo 'error: set RUN=name (a folder under $(DATA)/runs)' >&2; exit 2; }
	$(PY) -m training report "$(RUN)" --data $(DATA)

predict: $(STAMP) ## Top genres of FILES="a.mp3 b.wav folder" with the newest run (or RUN=name); OUT=preds.csv writes a file
	@test -n "$(FILES)" || { echo 'error: set FILES="song.mp3 other.wav" (files or folders)' >&2; exit 2; }
	$(PY) -m training predict $(FILES) --data $(DATA) $(if $(RUN),--run "$(RUN)") $(if $(OUT),--out "$(OUT)")

export: $(STAMP) ## Write RUN=name as FORMAT=savedmodel|onnx (OUT=folder, default <run>/export-FORMAT) + model card, usable without the toolkit
	@test -n "$(RUN)" || { echo 'error: set RUN=name (a folder under $(DATA)/runs)' >&2; exit 2; }
	$(PY) -m training export "$(RUN)" --data $(DATA) --format "$(FORMAT)" $(if $(OUT),--out "$(OUT)")

serve: $(STAMP) ## Web page + JSON API to try RUN=name (default: the newest run) at http://127.0.0.1:8000/
	$(PY) -m training serve $(if $(RUN),"$(RUN)") --data $(DATA)

# ---------------------------------------------------------------- the offline demo

demo: $(STAMP) ## Whole pipeline offline on the synthetic corpus (DEMO_DATA=data/demo): about 7 minutes on 2 cores
	@echo "== 1/7 synthetic corpus: 9 genres, 90 artists, 360 tracks of procedural music"
	$(PY) -m collectors corpus --data $(DEMO_DATA)
	@echo "== 2/7 labels: map genre claims through the taxonomy and resolve them"
	$(PY) -m labeling resolve --data $(DEMO_DATA)
	@echo "== 3/7 splits (artist-disjoint) and the training manifest"
	$(PY) -m labeling split --data $(DEMO_DATA)
	$(PY) -m labeling build --data $(DEMO_DATA)
	@echo "== 4/7 audit"
	$(PY) -m labeling audit --data $(DEMO_DATA)
	@echo "== 5/7 train the CNN (rerun 'make demo' after an interruption: it continues)"
	run=$$($(PY) -m training train --data $(DEMO_DATA) --preset cpu --run demo) && \
	echo "== 6/7 evaluate on the test split next to the MFCC baseline" && \
	$(PY) -m training evaluate "$$run" --data $(DEMO_DATA) --expect-accuracy 0.85 --expect-margin 10 && \
	echo "== 7/7 linear probe on pretrained musicnn-MSD embeddings (10 patches per track, cached), same test split" && \
	probe=$$($(PY) -m training train --data $(DEMO_DATA) --model probe --max-patches 10 --run demo-probe) && \
	$(PY) -m training evaluate "$$probe" --data $(DEMO_DATA) --expect-accuracy 0.6 && \
	echo && echo "Demo done. Audit: $(DEMO_DATA)/reports/audit/report.md  Model report (CNN vs probe vs MFCC):" \
	"$$run/report.md  Probe report: $$probe/report.md"

clean-demo: ## Delete the demo data folder (DEMO_DATA)
	rm -rf -- "$(DEMO_DATA)"

# ---------------------------------------------------------------- benchmarks

bench: bench-spotify bench-audio bench-import bench-train bench-match bench-review bench-serve bench-metadata ## All benchmarks: tables on screen, JSON in DATA/bench/

bench-spotify: $(STAMP) ## Spotify requests per 1,000 playlist tracks vs the floor (local fake server)
	$(PY) -m tests.bench.spotify --data $(DATA)

bench-audio: $(STAMP) ## Conversion throughput vs plain ffmpeg, and speed-up with workers
	$(PY) -m collectors.audio.bench --data $(DATA)

bench-import: $(STAMP) ## import-audio files/s (hash, tags, convert, checks) vs plain ffmpeg, same files and workers
	$(PY) -m collectors.local.bench --data $(DATA)

bench-train: $(STAMP) ## Training input pipeline vs naive librosa per crop, steps/s, memory per hour of audio, embeddings x real time, probe fit
	$(PY) -m training.bench --data $(DATA)

bench-gpu: $(STAMP) ## CNN and fine-tuned musicnn on this device (GPU or CPU): samples/s, input wait, peak memory; JSON in DATA/bench/gpu.json
	$(PY) -m training.bench --data $(DATA) --gpu-suite

bench-match: $(STAMP) ## YouTube matching on hand-labelled search results: right pick, wrong recordings accepted
	$(PY) -m collectors.youtube.bench --data $(DATA)

bench-review: $(STAMP) ## Review app: table page p50/p95 at 100,000 synthetic tracks (goal < 200 ms)
	$(PY) -m labeling.review.bench --data $(DATA)

bench-serve: $(STAMP) ## training serve: requests/s of 8 clients over HTTP vs predicting in process (goal >= 0.8x)
	$(PY) -m training.serve.bench --data $(DATA)

bench-metadata: $(STAMP) ## Metadata stages at 100,000 tracks (generated once): table reads, validate, resolve, split, build, audit
	$(PY) -m tests.bench.metadata --data $(DATA) --repeat 3

chaos: $(STAMP) ## SIGKILL each offline stage at random moments, rerun, check files and convergence (not in test)
	$(PY) -m tests.bench.chaos --data $(DATA)
