"""A randomness ratio tuned by SMAC against the best fixed one, both judged on test data.

SMAC searches the two ratios (everything else fixed to the study's base configuration) on the
mean validation error over the study's datasets; the best fixed ratio is the grid's point of
best mean validation accuracy. Only then are both trained again per dataset and seed and
scored on the test splits: the test set plays no part in either choice.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import yaml

from metasparse.optimize import load_scenario, optimize
from metasparse.study._grid import run_grid
from metasparse.study._randomness import best_fixed_ratio, ratio_config, train
from metasparse.study._spec import RandomnessStudy

RATIOS = ("prune_random_ratio", "grow_random_ratio")


def tune_ratios(study: RandomnessStudy, grow: str, density: float) -> dict[str, float]:
    """SMAC's incumbent ratios for one grow score at one density."""
    fixed = {k: v for k, v in study.base_config().items() if k not in RATIOS}
    fixed.update(grow_score=grow, density=density)
    directory = study.output_dir / "tuned" / grow
    directory.mkdir(parents=True, exist_ok=True)
    scenario = {
        "name": f"{study.name}-tuned-{grow}", "space": "meta", "fixed": fixed,
        "instances": study.datasets, "seeds": [study.seeds[0]],
        "budget": {"epochs": study.epochs}, "backend": {"name": "smac", "facade": "hpo"},
        "n_trials": study.tuned_trials, "output": str(directory), "data_dir": study.data_dir,
    }
    path = directory / "scenario-in.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    summary = optimize(load_scenario(path), progress=False)[0]
    config = summary.incumbent["config"]
    return {k: float(config[k]) for k in RATIOS}


def compare(study: RandomnessStudy, runs: pd.DataFrame, progress: bool = True) -> pd.DataFrame:
    """Test accuracy of the tuned and the best fixed ratios, per grow score, dataset and seed."""
    density = study.tuned_density or min(study.densities)
    best = best_fixed_ratio(runs, list(study.phases), density)
    candidates: list[dict[str, Any]] = []
    for grow in study.grow_scores:
        row = best[best["grow_score"] == grow].iloc[0]
        candidates.append({"grow_score": grow, "which": "best_fixed",
                           **ratio_config(row["phase"], float(row["ratio"]))})
        candidates.append({"grow_score": grow, "which": "tuned",
                           **tune_ratios(study, grow, density)})
    points = [{**c, "dataset": d, "seed": s, "density": density}
              for c in candidates for d in study.datasets for s in study.seeds]

    def run(point):
        result = train(study, point, {k: point[k] for k in RATIOS})
        return [{"test_accuracy": result.get("test_accuracy"),
                 "val_accuracy": result.get("val_accuracy")}]

    return run_grid(study.output_dir / "tuned.csv", points, run,
                    description="tuned vs fixed ratio", progress=progress)
