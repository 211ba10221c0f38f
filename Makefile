# rlvr — set up, run, test. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of torch; an unpinned torch would pull several GB of CUDA wheels.
TORCH  ?= torch==2.13.0
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
# Where a machine keeps wheels on disk (the CPU torch here), pip should look there first.
LINKS  := $(if $(wildcard /opt/wheels),--find-links /opt/wheels)
export HF_HUB_OFFLINE := 1
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
QUIET  := { grep -v "is ignored" || true; }   # this machine's pip config warns about every package

.PHONY: help setup run score lint test test-fast bench docker clean

help:
	@echo "make run      set up .venv and run the main job: train the tiny_arith experiment (runs/tiny_arith)"
	@echo "make score    score the bundled sample predictions offline"
	@echo "make test-fast  the everyday loop: unit tests without Docker, Ray or slow ones (about 2 minutes)"
	@echo "make test     set up .venv and run the whole test suite, full experiments included (CI runs this)"
	@echo "make lint     ruff: lint and import order"
	@echo "make docker   install and start the Docker engine, build the sandbox image offline (root)"
	@echo "make bench    run the benchmarks in benchmarks/"

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install $(LINKS) "$(TORCH)" 2>&1 | $(QUIET)
	$(PIP) install $(LINKS) -e ".[dev]" 2>&1 | $(QUIET)
	$(BIN)/python -c "import torch, transformers, trl, peft, ray, verifiers, rl, sandbox, rewards"
	touch $@

run: setup
	$(BIN)/rlvr train experiments/tiny_arith.yaml --out runs/tiny_arith

score: setup
	$(BIN)/rlvr score experiments/data/math_sample.jsonl --verifier math -o runs/quickstart/scored.jsonl --force

lint: setup
	$(BIN)/ruff check .

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not docker and not ray"

docker: setup
	bash .ci/docker.sh

bench: setup
	$(BIN)/python benchmarks/verifier_bench.py
	$(BIN)/python benchmarks/grpo_bench.py
	$(BIN)/python benchmarks/sandbox_bench.py

clean:
	rm -rf $(VENV) runs .pytest_cache
