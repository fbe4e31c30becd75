"""Optimizer comparison: best-so-far cost against trials and wall time, over several runs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from metasparse.analysis._results import Results
from metasparse.errors import MetasparseError

__all__ = ["check_comparable", "compare_runs", "convergence", "convergence_summary"]

# Scenario keys that must agree for the costs of two runs to be comparable.
_SAME = ("space", "fixed", "instances", "objectives", "budget", "seeds")


def check_comparable(runs: Sequence[Results]) -> None:
    """Raise unless every run tuned the same problem (space, fixed settings, instances,
    objectives, budget, seeds); the backend, its seed and the number of trials may differ."""
    first = runs[0]
    for other in runs[1:]:
        for key in _SAME:
            if first.scenario.get(key) != other.scenario.get(key):
                raise MetasparseError(
                    f"{str(other.directory)!r} and {str(first.directory)!r} ran different "
                    f"scenarios ({key}: {other.scenario.get(key)!r} vs "
                    f"{first.scenario.get(key)!r}); their costs cannot be compared")


def convergence(runs: Sequence[Results]) -> pd.DataFrame:
    """The incumbent's cost of each run as it changed (its trajectory.csv): one row per change
    with the run, its optimizer `label`, its backend `seed`, the number of trials finished then
    (`n_trials`), the seconds since the run started (`elapsed_s`) and the `cost`, and a last
    row per run at its end (all its trials, its whole wall time)."""
    frames = []
    for run in runs:
        trajectory = run.trajectory
        if trajectory.empty:
            continue
        ends = np.sort((run.trials["end_time"] - run.trials["start_time"].min())
                       .dt.total_seconds().to_numpy())
        elapsed = trajectory["elapsed_s"].to_numpy(dtype=float)
        costs = trajectory["cost"].to_numpy(dtype=float)
        frames.append(pd.DataFrame({
            "run": str(run.directory), "label": run.label, "seed": run.backend_seed,
            "n_trials": np.append(np.searchsorted(ends, elapsed + 5e-4, side="right"),
                                  len(ends)),
            "elapsed_s": np.append(elapsed, max(ends[-1], elapsed[-1])),
            "cost": np.append(costs, costs[-1]),
        }))
    columns = ["run", "label", "seed", "n_trials", "elapsed_s", "cost"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else \
        pd.DataFrame(columns=columns)


def convergence_summary(curves: pd.DataFrame, by: str = "n_trials",
                        grid: Sequence[float] | None = None) -> pd.DataFrame:
    """Best-so-far cost of each optimizer (`label`) on a common grid of `by` (n_trials or
    elapsed_s): mean, standard deviation, min and max over its runs, and how many runs had an
    incumbent by then (`runs`)."""
    if curves.empty:
        return pd.DataFrame(columns=["label", by, "mean", "std", "min", "max", "runs"])
    if grid is None:
        top = float(curves[by].max())
        grid = np.unique(np.concatenate([curves[by].to_numpy(dtype=float), [top]]))
    grid = np.asarray(grid, dtype=float)
    rows = []
    for label, group in curves.groupby("label", sort=True):
        values = []
        for _, run in group.groupby("run", sort=False):
            run = run.sort_values(by)
            index = np.searchsorted(run[by].to_numpy(dtype=float), grid, side="right") - 1
            costs = np.where(index >= 0, run["cost"].to_numpy()[np.maximum(index, 0)], np.nan)
            values.append(costs)
        matrix = np.vstack(values)
        for k, x in enumerate(grid):
            column = matrix[:, k][~np.isnan(matrix[:, k])]
            if len(column) == 0:
                continue
            rows.append({"label": label, by: x, "mean": float(column.mean()),
                         "std": float(column.std()), "min": float(column.min()),
                         "max": float(column.max()), "runs": len(column)})
    return pd.DataFrame(rows)


def compare_runs(runs: Sequence[Results]) -> pd.DataFrame:
    """One row per run: optimizer, backend seed, trials (and how many succeeded), wall time,
    the incumbent's cost and the reference preset's cost on the same tuning instances."""
    rows = []
    for run in runs:
        trials = run.trials
        wall = (trials["end_time"].max() - trials["start_time"].min()).total_seconds() \
            if len(trials) else 0.0
        incumbent = run.incumbent or {}
        reference = run.reference or {}
        rows.append({
            "run": str(run.directory), "label": run.label, "seed": run.backend_seed,
            "trials": len(trials), "succeeded": int((trials["status"] == "success").sum())
            if len(trials) else 0,
            "wall_time_s": wall, "best_cost": incumbent.get("cost", np.nan),
            "incumbent_trial": incumbent.get("trial_id"),
            "reference": reference.get("preset", ""),
            "reference_cost": reference.get("cost", np.nan),
        })
    return pd.DataFrame(rows)
