"""SMAC and Optuna's TPE search, they do not sample at random: on a cheap deterministic target
with one decisive parameter, their later proposals crowd around the optimum, while random search
with the same seed and budget spreads them over the whole range.

The target replaces the trainer, not the optimizers: `optimize()` runs as it always does (the
scenario, the space, the backend adapters of metasparse/optimize, the results store), with the
real SMAC facade and Optuna sampler, and only `TrialRunner.evaluate` is swapped for the target.
The project has no hook for a custom target function, so the runner class that `_optimize`
builds is patched (a subclass, so everything but `evaluate` stays the runner's own). Training
real networks instead would make each proposal cost a second and the signal noisy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from optimize_helpers import read_csv

from metasparse.optimize import (
    PairResult,
    TrialOutcome,
    TrialRunner,
    _optimize,
    load_scenario,
    optimize,
)

# The RigL space with its training settings fixed: density (log-uniform on [0.005, 1]) decides
# the cost; delta_t, zeta and t_end are free and irrelevant.
FIXED = {"model": "mlp", "hidden_sizes": "128", "dense_first_layer": False,
         "dense_last_layer": False, "activation": "relu", "batch_size": 128, "dropout": 0.0,
         "erk_power_scale": 1.0, "input_scaling": "standard", "label_smoothing": 0.0,
         "lr_schedule": "constant", "normalization": "none", "optimizer": "adam",
         "weight_init": "kaiming_normal", "weight_decay": 0.0001}
BEST_DENSITY = 0.05
N_TRIALS = 40
LATE = 20  # the proposals judged: the last 20 of 40 (SMAC's initial design is the first 10)
NEAR = 0.2  # decades of density from the optimum; random search lands there with p = 0.17


def distance(density: float) -> float:
    """Decades between a density and the best one: the target's cost."""
    return abs(math.log10(density / BEST_DENSITY))


class TargetRunner(TrialRunner):
    """The trial runner with the cheap target in place of training (no trial processes)."""

    def start(self) -> None:
        pass

    def evaluate(self, config: dict[str, Any], budget: int, pairs: Sequence[tuple[str, int]],
                 report: Callable[[int, float], bool] | None = None) -> TrialOutcome:
        now = time.time()
        cost = distance(config["density"])
        metrics = {"val_error": cost, "val_accuracy": 1.0 - cost}
        return TrialOutcome(
            config=config, budget=budget, instance="all", seed=0, status="success",
            costs=[cost], metrics=metrics, error="", start_time=now, end_time=now,
            pairs=[PairResult(instance, seed, "success", metrics, "", now, now)
                   for instance, seed in pairs])


def late_proposals_near_the_optimum(scenario_file: Any, monkeypatch: pytest.MonkeyPatch,
                                    backend: dict[str, Any]) -> int:
    """How many of the last LATE proposals of a run of `backend` lie within NEAR decades."""
    monkeypatch.setattr(_optimize, "TrialRunner", TargetRunner)
    path: Path = scenario_file(backend["name"], backend=backend, n_trials=N_TRIALS, fixed=FIXED)
    directory = optimize(load_scenario(path), progress=False)[0].directory
    rows = read_csv(directory / "trials.csv")
    assert len(rows) == N_TRIALS
    return sum(distance(float(row["config.density"])) < NEAR for row in rows[-LATE:])


@pytest.mark.parametrize("backend", [{"name": "smac", "seed": 0},
                                     {"name": "optuna", "seed": 0, "pruner": "none"}],
                         ids=["smac", "optuna-tpe"])
def test_the_optimizer_concentrates_its_later_proposals_unlike_random_search(
        scenario_file, monkeypatch, backend):
    baseline = late_proposals_near_the_optimum(scenario_file, monkeypatch,
                                               {"name": "random", "seed": 0})
    # Random search: about 3.5 of 20 expected (2 with this seed); the target hands it nothing.
    assert baseline <= 5
    near = late_proposals_near_the_optimum(scenario_file, monkeypatch, backend)
    # Measured: SMAC 11 to 16 of 20 over six hash seeds (its choices follow Python's string
    # hashing, which pytest does not fix), TPE 11. SMAC's RandomFacade and Optuna's
    # RandomSampler in their place: 3 and 4.
    assert near >= max(8, 2 * baseline), (near, baseline)
