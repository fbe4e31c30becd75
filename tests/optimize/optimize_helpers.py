"""Helpers of the optimize tests: small scenarios on scikit-learn's bundled datasets (offline),
the real trainer, and `metasparse optimize` as a subprocess."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

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


def cli(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "metasparse.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=cli_env())


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def popen(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "metasparse.cli", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env())


def wait_for_rows(path: Path, count: int, process, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.is_file() and len(path.read_text().splitlines()) > count:
            return
        if process.poll() is not None:
            pytest.fail(f"the run ended before {count} trials: {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"no {count} trials after {timeout} s")
