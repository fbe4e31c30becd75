"""Does randomness in the prune and grow phases help? A grid over the randomness ratios.

For each dataset, density, grow score and seed, the ratio of connections chosen uniformly at
random is varied for pruning, for growing, or for both at once (ratio 0 is one shared run). Each
run gives the final test accuracy and its speed of learning: the epochs needed to reach 95% of
the final validation accuracy, and the area under the validation curve (its mean over epochs).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from metasparse.optimize import evaluate_run
from metasparse.study._grid import run_grid
from metasparse.study._spec import RandomnessStudy

METRICS = ("test_accuracy", "auc", "epochs_to_95")


def ratio_config(axis: str, ratio: float) -> dict[str, float]:
    return {"prune_random_ratio": ratio if axis in ("prune", "both") else 0.0,
            "grow_random_ratio": ratio if axis in ("grow", "both") else 0.0}


def points(study: RandomnessStudy) -> Iterator[dict[str, Any]]:
    # ratio 0 is one shared run ("none"), before the other ratios of each axis
    settings = ([("none", 0.0)] if 0.0 in study.ratios else []) + [
        (axis, ratio) for axis in study.phases for ratio in study.ratios if ratio != 0.0]
    for dataset, density, grow, seed in itertools.product(
            study.datasets, study.densities, study.grow_scores, study.seeds):
        for phase, ratio in settings:
            yield dict(dataset=dataset, density=density, grow_score=grow, phase=phase,
                       ratio=ratio, seed=seed)


def learning_speed(val_curve: list[float]) -> tuple[float, float]:
    """(area under the validation curve, first epoch reaching 95% of the final accuracy)."""
    curve = np.asarray(val_curve, dtype=float)
    if curve.size == 0:
        return float("nan"), float("nan")
    reached = np.nonzero(curve >= 0.95 * curve[-1])[0]
    return float(curve.mean()), float(reached[0] + 1)


def train(study: RandomnessStudy, point: Mapping[str, Any],
          ratios: Mapping[str, float]) -> dict[str, Any]:
    """The base configuration at the point's grow score and density with the given randomness
    ratios, trained on the point's dataset and seed through the evaluation path: its metrics
    (none for a failed run) and its `status`."""
    config = {**study.base_config(), "grow_score": point["grow_score"],
              "density": point["density"], **ratios}
    run = evaluate_run(config, point["dataset"], point["seed"], study.epochs,
                       data_dir=study.data_dir)
    return {**run.metrics, "status": run.status}


def run_point(study: RandomnessStudy, point: Mapping[str, Any]) -> list[dict[str, Any]]:
    result = train(study, point, ratio_config(point["phase"], point["ratio"]))
    auc, epochs_to_95 = learning_speed(result.get("val_curve", []))
    return [{"status": result["status"], "test_accuracy": result.get("test_accuracy"),
             "val_accuracy": result.get("val_accuracy"), "auc": auc,
             "epochs_to_95": epochs_to_95, "actual_density": result.get("density"),
             "wall_time_s": result.get("wall_time_s")}]


def run(study: RandomnessStudy, progress: bool = True) -> pd.DataFrame:
    return run_grid(study.output_dir / "runs.csv", points(study),
                    lambda p: run_point(study, p), description="randomness study",
                    progress=progress)


def expand_shared_zero(runs: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """Repeat the shared ratio-0 runs under every axis, so each axis has a full curve."""
    zero = runs[runs["phase"] == "none"]
    parts = [runs[runs["phase"] != "none"]] + [zero.assign(phase=axis) for axis in axes]
    return pd.concat(parts, ignore_index=True)


def summarize(runs: pd.DataFrame, axes: list[str], by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Mean and std over seeds of each metric, per grow score, axis and ratio.

    Each seed's value is first averaged over the datasets and densities (unless kept in `by`),
    so the spread is the seed-to-seed spread of the whole study's answer.
    """
    runs = expand_shared_zero(runs, axes)
    keys = ["grow_score", "phase", "ratio", *by]
    per_seed = runs.groupby([*keys, "seed"])[list(METRICS)].mean().reset_index()
    table = per_seed.groupby(keys)[list(METRICS)].agg(["mean", "std"])
    table.columns = [f"{m}_{s}" for m, s in table.columns]
    return table.reset_index()


def best_fixed_ratio(runs: pd.DataFrame, axes: list[str], density: float) -> pd.DataFrame:
    """Per grow score, the (axis, ratio) of best mean VALIDATION accuracy at one density."""
    runs = expand_shared_zero(runs[runs["density"] == density], axes)
    mean = runs.groupby(["grow_score", "phase", "ratio"])["val_accuracy"].mean().reset_index()
    return mean.loc[mean.groupby("grow_score")["val_accuracy"].idxmax()].reset_index(drop=True)
