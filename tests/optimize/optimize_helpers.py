"""Helpers of the optimize tests: small scenarios on scikit-learn's bundled datasets (offline),
the real trainer, and `metasparse optimize` as a subprocess."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import waiting
import yaml

from metasparse.features import evaluate_selection, fit_evolving, rank_features
from metasparse.optimize import load_scenario, optimize
from metasparse.results import CONFIG_PREFIX, parse_value
from metasparse.space import load_space

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("METASPARSE_DATA_DIR") or REPO.parent / "shared" / "data")

# A small, fast tuning problem: the RigL subspace of a 128-unit MLP, two epochs, two datasets.
BASE: dict[str, Any] = {
    "space": "rigl",
    "fixed": {"model": "mlp", "hidden_sizes": "128", "dense_first_layer": False,
              "dense_last_layer": False},
    "instances": ["iris", "wine"],
    "budget": {"epochs": 2},
    "n_trials": 4,
    "trial_timeout": 120,
}

# Adam with every other setting fixed: the learning rate (log-uniform on [1e-4, 0.3]) makes or
# breaks a run. After an epoch of iris, lr below 0.005 leaves it near chance (0.7 to 0.8
# validation error) and lr above 0.05 does not, so Hyperband and ASHA must stop slow learners.
LR_DECIDES = {"model": "mlp", "hidden_sizes": "32", "dense_first_layer": False,
              "dense_last_layer": False, "optimizer": "adam", "batch_size": 32,
              "lr_schedule": "constant", "dropout": 0.0, "label_smoothing": 0.0,
              "weight_decay": 1e-6, "normalization": "none", "activation": "relu",
              "input_scaling": "standard", "weight_init": "kaiming_normal", "density": 0.5}


# A small feature-selection problem (objective fs_error): the top 3 features of wine.
K = 3
FS = {
    "space": "feature-selection",
    "fixed": {"hidden_sizes": "32", "dense_first_layer": False, "dense_last_layer": False},
    "instances": ["wine"], "objectives": ["fs_error"],
    "feature_selection": {"k": K, "classifier": "svm", "importance": "neuron_strength"},
    "budget": {"epochs": 2}, "n_trials": 3, "reference": "quickselection",
}


def selection_errors(config: dict, k: int = K) -> tuple[float, float, float]:
    """(validation, test) error of the SVM on the top k features, and the network's own
    validation error, of `config` trained as a trial trains it (wine, seed 0, 2 epochs, with
    its input evolution aimed at k)."""
    trained = fit_evolving(config, "wine", 2, seed=0, k=k, device="cpu", fit_dense_layers=True)
    scores = evaluate_selection(trained.data, rank_features(trained), k, "svm", seed=0)
    return 1 - scores.val_accuracy, 1 - scores.test_accuracy, trained.result.val_error


def trial_config(row: dict[str, str]) -> dict[str, Any]:
    """The configuration of a row of trials.csv."""
    return {k.removeprefix(CONFIG_PREFIX): parse_value(v) for k, v in row.items()
            if k.startswith(CONFIG_PREFIX) and v != ""}


STATUSES = {"success", "crashed", "timeout", "diverged", "pruned"}
LEADING = ["trial_id", "status", "cost"]
AFTER_COSTS = ["budget", "seed", "instance", "val_error", "val_accuracy", "density",
               "train_flops", "inference_flops", "topology_updates", "wall_time_s",
               "start_time", "end_time", "error"]


def check_results(directory: Path, n_trials: int, n_objectives: int = 1,
                  state: str | None = None) -> list[dict[str, str]]:
    """The results-directory contract (docs/CONTRACTS.md) of a finished run of n_trials."""
    for name in ("scenario.yaml", "trials.csv", "trial_instances.csv", "incumbent.yaml",
                 "trajectory.csv", "reference.yaml"):
        assert (directory / name).is_file(), name
    if state is not None:
        assert (directory / state).exists()
    rows = read_csv(directory / "trials.csv")
    assert len(rows) == n_trials
    columns = list(rows[0])
    costs = [f"cost_{k}" for k in range(2, n_objectives + 1)]
    assert columns[:3 + len(costs) + len(AFTER_COSTS)] == LEADING + costs + AFTER_COSTS
    assert not any("test" in c for c in columns)
    space = load_space(yaml.safe_load((directory / "scenario.yaml").read_text())["space"],
                       fixed=yaml.safe_load((directory / "scenario.yaml").read_text())["fixed"])
    assert [c[len("config."):] for c in columns if c.startswith("config.")] == list(space.keys())
    ids = [int(r["trial_id"]) for r in rows]
    assert len(set(ids)) == len(ids)
    assert {r["status"] for r in rows} <= STATUSES
    instance_rows = read_csv(directory / "trial_instances.csv")
    assert {int(r["trial_id"]) for r in instance_rows} <= set(ids)
    incumbent = yaml.safe_load((directory / "incumbent.yaml").read_text())
    assert {"trial_id", "cost", "config", "budget", "instances"} <= set(incumbent)
    assert incumbent["trial_id"] in ids
    best = min(float(r["cost"]) for r in rows if r["status"] == "success"
               and r["budget"] == str(incumbent["budget"]))
    # A mean over several rows of one configuration (mf, ac) may exceed the best single row.
    repeated = len({(r["budget"], config_key(r)) for r in rows}) < len(rows)
    assert incumbent["cost"] <= best + 1e-12 or repeated
    trajectory = read_csv(directory / "trajectory.csv")
    assert trajectory and float(trajectory[-1]["cost"]) == pytest.approx(incumbent["cost"])
    # Across budgets or instances (mf, ac) an incumbent's cost may rise; otherwise it only falls.
    if len({r["budget"] for r in rows}) == 1 and {r["instance"] for r in rows} == {"all"}:
        costs = [float(t["cost"]) for t in trajectory]
        assert costs == sorted(costs, reverse=True)
    reference = yaml.safe_load((directory / "reference.yaml").read_text())
    assert reference["status"] == "success" and reference["preset"] == "rigl"
    return rows


def run(path: Path, **overrides: Any) -> Path:
    """Optimize the scenario at `path`; its results directory."""
    scenario = load_scenario(path, **overrides)
    summaries = optimize(scenario, progress=False)
    assert len(summaries) == 1
    assert "reference (rigl)" in summaries[0].table()
    return summaries[0].directory


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "fixed":
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def write_scenario(directory: Path, name: str = "t", **changes: Any) -> Path:
    """A scenario YAML in `directory` writing to directory/results/name."""
    data = merge({"name": name, **BASE, "output": str(directory / "results" / name)}, changes)
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def config_key(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(v for k, v in row.items() if k.startswith("config."))


# How a subprocess starts the command line (a test that registers a backend starts it otherwise).
CLI = ("-m", "metasparse.cli")


def cli(*args: str, cwd: Path, cpu_budget: float = 240,
        entry: Sequence[str] = CLI) -> subprocess.CompletedProcess[str]:
    """The command line's run, failing the test past `cpu_budget` CPU-seconds (waiting.py)."""
    return waiting.run([sys.executable, *entry, *args], cpu_budget, f"metasparse {args[0]}",
                       cwd=cwd, env=cli_env())


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def popen(*args: str, cwd: Path, entry: Sequence[str] = CLI) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, *entry, *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env())


def wait_for_rows(path: Path, count: int, process, cpu_budget: float = 240) -> None:
    """Wait until `path` has `count` rows, failing the test if the run ends first or spends
    `cpu_budget` CPU-seconds without writing them (waiting.py)."""
    start = waiting.cpu_seconds(process.pid)
    while waiting.cpu_seconds(process.pid) - start < cpu_budget:
        if path.is_file() and len(path.read_text().splitlines()) > count:
            return
        if process.poll() is not None:
            pytest.fail(f"the run ended before {count} trials: {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"no {count} trials after {cpu_budget} CPU-seconds")
