# Two entry points: `make run` (the quickstart optimization) and `make test`.
# The virtual environment is built once and rebuilt only when pyproject.toml changes.
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.setup-stamp
export METASPARSE_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: setup run test lint bench reference

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	# The CPU build of torch first: a later unpinned "torch" requirement is then already met
	# and pip does not pull several GB of CUDA packages.
	$(VENV)/bin/pip install --quiet "torch==2.13.0"
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/metasparse optimize scenarios/quickstart.yaml

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# About 35 minutes on 2 cores; bench/README.md holds the latest numbers. OMP_WAIT_POLICY=PASSIVE
# keeps PyTorch's threads from spinning, which on a shared machine costs far more than it saves.
bench: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/python bench/trainer_sweep.py
	OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/python bench/trainer_overhead.py --repeats 3
	OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/python bench/sparse_matmul.py
	OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/python bench/scaling.py
	$(VENV)/bin/python bench/tuning_efficiency.py --out results/bench/tuning
	$(VENV)/bin/python bench/tuning_efficiency.py --epochs 100 --seeds 0 --out results/bench/tuning

# The committed reference results of the two studies (results/reference/), regenerated from scratch.
reference: $(STAMP)
	rm -rf results/reference/randomness results/reference/importance
	$(VENV)/bin/metasparse study randomness scenarios/study-randomness-small.yaml
	$(VENV)/bin/metasparse study importance scenarios/study-importance-small.yaml
