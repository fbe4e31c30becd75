"""The files of a results directory (docs/CONTRACTS.md) and the columns of its tables."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CONFIG_PREFIX", "INCUMBENT", "INSTANCES", "INSTANCE_COLUMNS", "METRIC_COLUMNS",
           "REFERENCE", "REPORT", "SCENARIO", "TRAINED", "TRAINED_COLUMNS", "TRAJECTORY",
           "TRAJECTORY_COLUMNS", "TRIALS", "VALIDATION", "WARM_START", "config_column",
           "cost_columns", "trial_columns"]

SCENARIO = "scenario.yaml"
TRIALS = "trials.csv"
INSTANCES = "trial_instances.csv"
INCUMBENT = "incumbent.yaml"
TRAJECTORY = "trajectory.csv"
REFERENCE = "reference.yaml"
VALIDATION = "validation.csv"
REPORT = "report"
WARM_START = "warm_start.yaml"

CONFIG_PREFIX = "config."
METRIC_COLUMNS = ("val_error", "val_accuracy", "density", "train_flops", "inference_flops",
                  "topology_updates", "wall_time_s")
INSTANCE_COLUMNS = ("trial_id", "instance", "seed", "budget", "status", "cost", *METRIC_COLUMNS,
                    "start_time", "end_time", "error")
# The parameters that a trial may train with otherwise than sampled: a dense first or last
# layer that the density cannot pay for on an instance is trained sparse (train.fit's
# fit_dense_layers). trial_instances.csv records what each pair trained with in the
# TRAINED_COLUMNS, after the INSTANCE_COLUMNS (a run recorded before them has none).
TRAINED = ("dense_first_layer", "dense_last_layer")
TRAINED_COLUMNS = tuple(f"trained.{p}" for p in TRAINED)
TRAJECTORY_COLUMNS = ("trial_id", "elapsed_s", "cost")


def cost_columns(n_objectives: int) -> list[str]:
    """`cost`, then `cost_2` ... for further objectives."""
    return ["cost", *(f"cost_{k}" for k in range(2, n_objectives + 1))]


def config_column(param: str) -> str:
    return f"{CONFIG_PREFIX}{param}"


def trial_columns(n_objectives: int, params: Sequence[str]) -> list[str]:
    """The header of trials.csv."""
    return ["trial_id", "status", *cost_columns(n_objectives), "budget", "seed", "instance",
            *METRIC_COLUMNS, "start_time", "end_time", "error", *map(config_column, params)]
