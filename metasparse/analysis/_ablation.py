"""Ablation path (Fawcett & Hoos, J. Heuristics 2016): from a source configuration to a target,
greedily change at each step the one parameter whose change gains most.

A step sets one parameter to the target's value. Parameters that the change activates take the
target's values too (they are part of the step, listed in `activates`); parameters it
deactivates stop mattering. Only parameters active in both the current configuration and the
target are candidates, so the path ends when every parameter active in the target has the
target's value. Candidates that fall under a forbidden clause of the space are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from ConfigSpace import ConfigurationSpace

from metasparse.analysis._configspace import active_parameters, is_forbidden, same_value

__all__ = ["ABLATION_COLUMNS", "ablation_path", "path_configs"]

Evaluate = Callable[[Sequence[Mapping[str, Any]]], Sequence[float]]
ABLATION_COLUMNS = ["step", "parameter", "source_value", "target_value", "activates",
                    "deactivates", "cost", "gain", "gain_share", "candidates"]


def ablation_path(source: Mapping[str, Any], target: Mapping[str, Any],
                  space: ConfigurationSpace, evaluate: Evaluate) -> pd.DataFrame:
    """The greedy ablation path from `source` to `target`.

    `source` and `target` are configurations of `space` (full ones, with values for inactive
    parameters too, or only the active ones); `evaluate(configs)` returns the cost of each (lower
    is better) and is called once per step with every candidate. Row 0 is the source; each
    further row the change taken, with its `cost`, its `gain` over the previous row and its
    share of the total gain, and how many `candidates` it was chosen from.
    """
    current, target = _start(space, source, target)
    first = float(evaluate([current])[0])
    rows = [{"step": 0, "parameter": "(source)", "source_value": "", "target_value": "",
             "activates": "", "deactivates": "", "cost": first, "gain": 0.0,
             "candidates": 0}]
    cost = first
    while True:
        candidates = _candidates(space, current, target)
        if not candidates:
            break
        moves = [_move(space, current, target, name) for name in candidates]
        allowed = [m for m in moves if not is_forbidden(space, m[0])] or moves[:1]
        costs = [float(c) for c in evaluate([m[0] for m in allowed])]
        best = int(np.nanargmin(costs)) if not all(math.isnan(c) for c in costs) else 0
        config, name, activated, deactivated = allowed[best]
        rows.append({
            "step": len(rows), "parameter": name, "source_value": _text(current[name]),
            "target_value": _text(target[name]),
            "activates": ", ".join(f"{p}={_text(config[p])}" for p in activated),
            "deactivates": ", ".join(deactivated),
            "cost": costs[best], "gain": cost - costs[best], "candidates": len(allowed),
        })
        current, cost = config, costs[best]
    frame = pd.DataFrame(rows)
    total = first - cost
    frame["gain_share"] = frame["gain"] / total if total != 0 else 0.0
    return frame[ABLATION_COLUMNS]


def path_configs(source: Mapping[str, Any], target: Mapping[str, Any],
                 space: ConfigurationSpace, parameters: Sequence[str]) -> list[dict[str, Any]]:
    """The configurations along a path: `source`, then each change of `parameters` in turn (as
    `ablation_path` makes them, activated children included)."""
    current, target = _start(space, source, target)
    configs = [current]
    for name in parameters:
        current = _move(space, current, target, name)[0]
        configs.append(current)
    return configs


def _start(space: ConfigurationSpace, source: Mapping[str, Any], target: Mapping[str, Any]
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(source, target) without None values; the source takes the target's values for the
    parameters it lacks."""
    target = {name: value for name, value in target.items() if value is not None}
    current = {name: value for name, value in source.items() if value is not None}
    for name in space:
        if name not in current:
            current[name] = target.get(name)
    return current, target


def _candidates(space: ConfigurationSpace, current: Mapping[str, Any],
                target: Mapping[str, Any]) -> list[str]:
    both = active_parameters(space, current) & active_parameters(space, target)
    return [name for name in space
            if name in both and not same_value(current[name], target[name])]


def _move(space: ConfigurationSpace, current: Mapping[str, Any], target: Mapping[str, Any],
          name: str) -> tuple[dict[str, Any], str, list[str], list[str]]:
    """`current` with `name` set to the target's value and what that activates set too."""
    config = dict(current)
    config[name] = target[name]
    before = active_parameters(space, current)
    activated: list[str] = []
    while True:  # an activated parent may activate children of its own
        fresh = [p for p in active_parameters(space, config) - before - set(activated)
                 if p in target]
        if not fresh:
            break
        for p in fresh:
            config[p] = target[p]
        activated += fresh
    after = active_parameters(space, config)
    order = list(space.keys())
    activated = sorted((p for p in activated if p in after), key=order.index)
    deactivated = sorted(before - after, key=order.index)
    return config, name, activated, deactivated


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
