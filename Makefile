# rnnlab: `make install` then `make run` (offline, CPU) and `make test`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
ARGS ?=
PAGES ?=

.PHONY: install run test test-full lint tensorboard clean experiments experiments-quick

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

lint:  ## style and common mistakes (ruff)
	$(BIN)/ruff check src tests

experiments: install  ## run the sweeps behind experiments/*.md and write their tables and plots (hours: IMDB); PAGES=stock for one
	$(BIN)/python experiments/generate.py $(PAGES)

experiments-quick: install  ## the same sweeps with few epochs and batches (minutes), into experiments/quick/
	$(BIN)/python experiments/generate.py --quick $(PAGES)

tensorboard:
	$(BIN)/tensorboard --logdir logs/

clean:
	rm -rf logs outputs multirun lightning_logs .pytest_cache build src/*.egg-info
