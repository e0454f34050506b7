# rnnlab: `make install` then `make run` (offline, CPU) and `make test`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
ARGS ?=
PAGES ?=

.PHONY: install run test test-full lint tensorboard clean experiments experiments-quick bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python  ## torch first (CPU build here; `make install TORCH=torch` on a GPU machine), then rnnlab
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev]"

run: install  ## the embedded default: an LSTM forecasting a noisy sine, on the CPU, offline
	$(BIN)/python -m rnnlab $(ARGS)

test: install  ## the default suite (fast tests)
	$(BIN)/python -m pytest -q

test-full: install  ## every test, slow ones included
	$(BIN)/python -m pytest -q -m "slow or not slow"

lint: install  ## style and common mistakes (ruff), and imports that go one way (import-linter, pyproject.toml)
	$(BIN)/ruff check src tests benchmarks experiments
	$(BIN)/lint-imports

experiments: install  ## run the sweeps behind experiments/*.md and write their tables and plots (hours: IMDB); PAGES=stock for one
	$(BIN)/python experiments/generate.py $(PAGES)

experiments-quick: install  ## the same sweeps with few epochs and batches (minutes), into experiments/quick/
	$(BIN)/python experiments/generate.py --quick $(PAGES)

tensorboard:
	$(BIN)/tensorboard --logdir logs/

clean:
	rm -rf logs outputs multirun lightning_logs .pytest_cache build src/*.egg-info

BENCH_VENV := benchmarks/.venv
BENCH_ARGS ?=

bench: install  ## IMDB training speed and time to accuracy: rnnlab vs a hand-written loop vs Keras -> benchmarks/results.md
	-$(MAKE) --no-print-directory $(BENCH_VENV)/installed
	$(BIN)/python benchmarks/bench_imdb.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/time_to_accuracy.py

$(BENCH_VENV)/installed:  ## the `bench` extra (TensorFlow/Keras) in a venv of its own; without it the Keras legs are skipped
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet $$($(BIN)/python -c 'import tomllib; \
		print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["bench"]))')
	touch $@
