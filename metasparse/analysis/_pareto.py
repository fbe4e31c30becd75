"""Multi-objective runs: the Pareto front of the trials and where the presets fall against it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from metasparse.analysis._results import Results
from metasparse.analysis._surrogate import select_trials
from metasparse.analysis._training import (
    comparable_presets,
    preset_config,
    selection_of,
    train_runs,
)
from metasparse.results import OBJECTIVES, cost_columns

__all__ = ["dominated_by", "evaluate_presets", "pareto_front", "pareto_trials",
           "reference_point"]


def pareto_front(points: pd.DataFrame, objectives: Sequence[str] = ("cost", "cost_2")
                 ) -> pd.DataFrame:
    """The rows of `points` that no other row dominates (all objectives minimized), sorted by
    the first objective."""
    values = points[list(objectives)].to_numpy(dtype=float)
    keep = ~_dominance(values, values).any(axis=1)
    return points[keep].sort_values(list(objectives), kind="stable")


def _dominance(candidates: np.ndarray, others: np.ndarray) -> np.ndarray:
    """[i, j]: does row j of `others` dominate candidate row i?"""
    no_worse = (others[None, :, :] <= candidates[:, None, :]).all(axis=2)
    better = (others[None, :, :] < candidates[:, None, :]).any(axis=2)
    return no_worse & better


def dominated_by(points: pd.DataFrame, front: pd.DataFrame,
                 objectives: Sequence[str] = ("cost", "cost_2")) -> pd.Series:
    """For each row of `points` (e.g. presets): how many points of `front` dominate it."""
    candidates = points[list(objectives)].to_numpy(dtype=float)
    others = front[list(objectives)].to_numpy(dtype=float)
    return pd.Series(_dominance(candidates, others).sum(axis=1), index=points.index,
                     name="dominated_by")


def pareto_trials(results: Results) -> pd.DataFrame:
    """The usable trials of a multi-objective run with `on_front` marking its Pareto front."""
    trials = select_trials(results.trials).copy()
    objectives = results.cost_columns[:2]
    trials = trials[np.isfinite(trials[objectives]).all(axis=1)]
    front = pareto_front(trials, objectives)
    trials["on_front"] = trials.index.isin(front.index)
    return trials


def reference_point(results: Results) -> pd.DataFrame:
    """The reference preset as the run evaluated it (reference.yaml), in the trials' objectives
    (empty when the run has no reference)."""
    reference = results.reference
    columns = ["preset", *results.cost_columns]
    if not reference or reference.get("status") != "success":
        return pd.DataFrame(columns=columns)
    costs = reference.get("costs") or [reference.get("cost")]
    return pd.DataFrame([[reference["preset"], *costs[:len(results.cost_columns)]]],
                        columns=columns)


def evaluate_presets(results: Results, presets: Sequence[str] | None = None, *,
                     data_dir: str | None = None, progress: bool = True
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train every preset (with the scenario's fixed settings) like a trial: on the tuning
    instances with the scenario's seeds at its budget. Returns (one row per preset with its
    costs in the run's objectives, one row per run)."""

    names = list(presets) if presets is not None else comparable_presets(results.objectives[0])
    candidates = {name: preset_config(name, results.fixed) for name in names}
    runs = train_runs(candidates, results.tuning_instances, results.seeds, results.epochs,
                      data_dir=data_dir or results.data_dir, evaluate_test=False,
                      timeout=results.settings.trial_timeout,
                      progress=progress, description="presets",
                      target=results.settings.target,
                      feature_selection=selection_of(results.settings))
    return preset_costs(runs, results.objectives, results.crash_cost), runs


def preset_costs(runs: pd.DataFrame, objectives: Sequence[str],
                 crash_cost: float = 1.0) -> pd.DataFrame:
    """Per candidate, the mean of each objective's metric over its runs (as a trial's costs);
    a candidate with a failed run gets the crash cost as its first cost."""
    rows: list[dict[str, Any]] = []
    for name, group in runs.groupby("candidate", sort=False):
        failed = bool((group["status"] != "success").any())
        row: Mapping[str, Any] = {"preset": name, "status": "failed" if failed else "success"}
        costs = {}
        for k, (column, objective) in enumerate(zip(cost_columns(len(objectives)), objectives,
                                                    strict=True)):
            # the run's val_error is the first objective's (the selection's, with fs_error)
            metric = OBJECTIVES[objective].metric if k else "val_error"
            costs[column] = crash_cost if failed and k == 0 else \
                float(pd.to_numeric(group[metric]).mean())
        rows.append({**row, **costs})
    return pd.DataFrame(rows)
