"""The objectives a scenario may name: the metric column behind each, its direction, its crash
cost and its label. Every objective is minimized."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FIRST_OBJECTIVES", "OBJECTIVES", "SECOND_OBJECTIVES", "Objective", "crash_costs",
           "objective"]


@dataclass(frozen=True)
class Objective:
    """`metric`: the column of trials.csv (and key of a trial's metrics) that it reads;
    `crash_cost`: the cost of a failed trial when the scenario gives none for it (None: the
    worst value among the successful trials so far, whose scale depends on the datasets)."""

    name: str
    metric: str
    label: str
    crash_cost: float | None
    direction: str = "minimize"


OBJECTIVES: dict[str, Objective] = {o.name: o for o in (
    Objective("val_error", "val_error", "validation error", 1.0),
    # 1 - the validation accuracy of a classifier trained on the top K features of the
    # network's ranking (the scenario's `feature_selection` says K, the classifier and the
    # importance); the network itself may be an autoencoder
    Objective("fs_error", "fs_error", "feature-selection error", 1.0),
    Objective("density", "density", "density", 1.0),  # a failed trial is as dense as dense
    Objective("inference_density", "density", "density", 1.0),  # the final density
    Objective("train_flops", "train_flops", "training FLOPs", None),
    Objective("train_time", "wall_time_s", "training time (s)", None),  # the trainer's time
)}
# What a scenario may name first (what the trained network is for), and after it.
FIRST_OBJECTIVES = ("val_error", "fs_error")
SECOND_OBJECTIVES = tuple(sorted(name for name in OBJECTIVES if name not in FIRST_OBJECTIVES))


def objective(name: str) -> Objective:
    return OBJECTIVES[name]


def crash_costs(objectives: list[str], given: list[float]) -> tuple[float | None, ...]:
    """One crash cost per objective: the scenario's, then each objective's own."""
    costs: list[float | None] = list(given)
    costs += [OBJECTIVES[name].crash_cost for name in objectives[len(costs):]]
    return tuple(costs)
