# Two entry points: `make run` (the quickstart optimization) and `make test`.
# The virtual environment is built once and rebuilt only when pyproject.toml changes.
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.setup-stamp
export METASPARSE_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: setup run test test-all lint bench reference mutate

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

# PYTHONHASHSEED as the CLI fixes it: SMAC's and ConfigSpace's choices follow set order.
# One pytest-xdist worker per core, each with one torch thread (two threads per worker would
# oversubscribe the cores); the tests that start Ray share one worker (tests/conftest.py).
PYTEST := PYTHONHASHSEED=0 OMP_NUM_THREADS=1 $(VENV)/bin/python -m pytest -n auto --dist loadgroup
test: $(STAMP)
	$(PYTEST) -q

# The whole suite, the tests marked slow included (pyproject.toml's addopts deselects them).
test-all: $(STAMP)
	$(PYTEST) -q -m "slow or not slow"

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
	$(VENV)/bin/python bench/cli_startup.py

# Mutation testing (mutmut) of metasparse/sparse/ against tests/sparse/ and of the results store
# against its tests in tests/optimize/: a score per module and the surviving mutants. The mutants
# live in .mutate/, never in metasparse/. MUTATE_ARGS passes options, e.g. --max-children 1 on a
# shared machine, --group sparse, --resume after an interrupt (tools/mutate.py --help).
mutate: $(STAMP)
	OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/python tools/mutate.py $(MUTATE_ARGS)

# The committed reference results of the studies (results/reference/), regenerated from scratch
# (the configuration study alone takes about 4 CPU-hours: 2 hours with its --workers 2).
reference: $(STAMP)
	rm -rf results/reference/randomness results/reference/importance results/reference/configuration \
		results/reference/feature-selection
	$(VENV)/bin/metasparse study randomness scenarios/study-randomness-small.yaml
	$(VENV)/bin/metasparse study importance scenarios/study-importance-small.yaml
	$(VENV)/bin/metasparse study configuration scenarios/study-configuration-medium.yaml --workers 2
	$(VENV)/bin/metasparse study feature-selection scenarios/study-feature-selection.yaml
