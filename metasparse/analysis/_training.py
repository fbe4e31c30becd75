"""Real evaluations: configurations trained on (instance, seed) pairs through the trial runner
(`metasparse.optimize.evaluate_run`), for the ablation's real mode, the presets of the Pareto
plot and the validation."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from tqdm import tqdm

from metasparse.space import preset_config

__all__ = ["RUN_COLUMNS", "TrainingCost", "comparable_presets", "preset_config", "selection_of",
           "train_runs"]

RUN_COLUMNS = ["candidate", "instance", "seed", "epochs", "status", "val_error", "test_error",
               "test_accuracy", "density", "train_flops", "inference_flops", "wall_time_s",
               "topology_updates", "error"]


def comparable_presets(objective: str) -> list[str]:
    """The presets that a run whose first objective is `objective` compares with by default:
    every one with fs_error (a selection of any network), the classifiers with val_error (an
    autoencoder has no classification error); each in both forms, published and relative."""
    from metasparse.space import get_preset, preset_names

    return [name for name in preset_names(relative=True)
            if objective != "val_error" or get_preset(name)["task"] == "classifier"]


def selection_of(settings: Any) -> dict[str, Any] | None:
    """A scenario's feature_selection as plain data (None without the objective fs_error)."""
    selection = settings.feature_selection
    return None if selection is None else selection.model_dump()


def train_runs(candidates: Mapping[str, Mapping[str, Any]], instances: Sequence[str],
               seeds: Sequence[int], epochs: int, *, data_dir: str | None = None,
               evaluate_test: bool = True, timeout: float | None = None,
               progress: bool = True, description: str = "training",
               target: str | None = None,
               feature_selection: dict[str, Any] | None = None) -> pd.DataFrame:
    """Train every candidate (name -> configuration) on every (instance, seed) pair.

    One row per run (columns RUN_COLUMNS); `test_error` is empty unless `evaluate_test`, and for
    runs that failed (status diverged, or crashed where the trainer rejects the configuration).
    With a scenario's `feature_selection`, `val_error` and `test_error` are the selection's (the
    objective fs_error and its test counterpart), not the network's.
    """
    jobs = [(name, instance, seed) for name in candidates for instance in instances
            for seed in seeds]
    rows = []
    with tqdm(total=len(jobs), desc=description, unit="run", disable=not progress) as bar:
        for name, instance, seed in jobs:
            bar.set_postfix_str(f"{name} on {instance}, seed {seed}")
            rows.append(_train_one(name, candidates[name], instance, seed, epochs, data_dir,
                                   evaluate_test, timeout, target, feature_selection))
            bar.update(1)
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def _train_one(name: str, config: Mapping[str, Any], instance: str, seed: int, epochs: int,
               data_dir: str | None, evaluate_test: bool,
               timeout: float | None = None, target: str | None = None,
               feature_selection: dict[str, Any] | None = None) -> dict[str, Any]:
    """One run as a row, trained through the trial runner (`metasparse.optimize.evaluate_run`):
    every failure (a configuration the trainer rejects, divergence, a timeout, a dead process)
    is a row with its status and one-line error, as in tuning."""
    from metasparse.optimize import evaluate_run

    row: dict[str, Any] = {"candidate": name, "instance": instance, "seed": seed,
                           "epochs": epochs}
    run = evaluate_run(config, instance, seed, epochs, data_dir=data_dir, timeout=timeout,
                       evaluate_test=evaluate_test, target=target,
                       feature_selection=feature_selection)
    m = run.metrics
    selecting = feature_selection is not None
    accuracy = m.get("fs_test_accuracy" if selecting else "test_accuracy")
    return {
        **row, "status": run.status, "val_error": m.get("fs_error" if selecting else "val_error"),
        "test_error": None if accuracy is None else 1.0 - accuracy,
        "test_accuracy": accuracy, "density": m.get("density"),
        "train_flops": m.get("train_flops"), "inference_flops": m.get("inference_flops"),
        "wall_time_s": m.get("wall_time_s"), "topology_updates": m.get("topology_updates"),
        "error": run.error,
    }


@dataclass
class TrainingCost:
    """`evaluate` for the ablation path: the mean validation error over the pairs, by training.

    A run that diverges or crashes costs `crash_cost` (as in tuning). Results are cached per
    configuration; `runs` keeps a row per run (RUN_COLUMNS, the candidate named by its order of
    evaluation).
    """

    instances: Sequence[str]
    seeds: Sequence[int]
    epochs: int
    data_dir: str | None = None
    crash_cost: float = 1.0
    timeout: float | None = None  # seconds per run, as the scenario's trial_timeout
    target: str | None = None  # the scenario's user function, if it names one
    feature_selection: dict[str, Any] | None = None  # the scenario's, with objective fs_error
    progress: bool = True
    runs: list[dict[str, Any]] = field(default_factory=list)
    _cache: dict[str, float] = field(default_factory=dict)
    _bar: Any = None

    def __call__(self, configs: Sequence[Mapping[str, Any]]) -> list[float]:
        keys = [json.dumps(dict(c), sort_keys=True, default=str) for c in configs]
        todo = {k: c for k, c in zip(keys, configs, strict=True) if k not in self._cache}
        pairs = [(i, s) for i in self.instances for s in self.seeds]
        if self._bar is None:
            self._bar = tqdm(total=len(todo) * len(pairs), desc="ablation (training)",
                             unit="run", disable=not self.progress)
        else:
            self._bar.total += len(todo) * len(pairs)
            self._bar.refresh()
        for key, config in todo.items():
            name = f"config {len(self._cache) + 1}"
            errors = []
            for instance, seed in pairs:
                self._bar.set_postfix_str(f"{name} on {instance}, seed {seed}")
                row = _train_one(name, config, instance, seed, self.epochs, self.data_dir,
                                 False, self.timeout, self.target, self.feature_selection)
                self.runs.append(row)
                errors.append(row["val_error"] if row["status"] == "success"
                              else self.crash_cost)
                self._bar.update(1)
            self._cache[key] = float(sum(errors) / len(errors))
        return [self._cache[k] for k in keys]

    def close(self) -> None:
        """Close the progress bar."""
        if self._bar is not None:
            self._bar.close()
