# rlvr — set up, run, test. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of torch; an unpinned torch would pull several GB of CUDA wheels.
TORCH  ?= torch==2.13.0
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q $(if $(wildcard /opt/wheels),--find-links /opt/wheels)
export HF_HUB_OFFLINE := 1

.PHONY: help setup run test test-fast bench docker clean

help:
	@echo "make run      set up .venv and run the main job (score the bundled sample predictions)"
	@echo "make test     set up .venv and run the whole test suite"
	@echo "make docker   install and start the Docker engine, build the sandbox image offline (root)"
	@echo "make bench    run the benchmarks in benchmarks/"

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install "$(TORCH)" 2>&1 | grep -v "is ignored" || true
	$(PIP) install -e ".[dev]" 2>&1 | grep -v "is ignored" || true
	$(BIN)/python -c "import torch, verifiers, rl" 
	touch $@

run: setup
	$(BIN)/rlvr score experiments/data/math_sample.jsonl --verifier math -o runs/quickstart/scored.jsonl --force

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not docker and not ray"

docker: setup
	bash .ci/docker.sh

bench: setup
	$(BIN)/python benchmarks/verifier_bench.py

clean:
	rm -rf $(VENV) runs .pytest_cache
