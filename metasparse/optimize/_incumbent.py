"""The incumbent and the trajectory, derived from the rows of trials.csv."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from metasparse.optimize._table import cost_columns, timestamp


def incumbent_history(rows: Sequence[Mapping[str, str]], n_objectives: int
                      ) -> tuple[list[dict[str, str]], dict[str, Any] | None]:
    """The trajectory (each new incumbent, in the order trials ended) and the incumbent now.

    The incumbent is the configuration with the lowest mean first cost among successful trials
    at the highest budget reached, counting only configurations evaluated on the most
    (instance, seed) pairs (the AC facade evaluates a configuration instance by instance)."""
    ordered = sorted(rows, key=lambda r: timestamp(r["end_time"]))
    start = min((timestamp(r["start_time"]) for r in rows), default=0.0)
    columns = cost_columns(n_objectives)
    groups: dict[tuple[str, tuple[str, ...]], list[Mapping[str, str]]] = {}
    trajectory: list[dict[str, str]] = []
    best: dict[str, Any] | None = None
    for row in ordered:
        if row["status"] != "success":
            continue
        key = (row["budget"], tuple(v for k, v in row.items() if k.startswith("config.")))
        groups.setdefault(key, []).append(row)
        best = _best(groups, columns)
        last = trajectory[-1] if trajectory else None
        if best is not None and (last is None or float(last["cost"]) != best["costs"][0]
                                 or last["trial_id"] != best["trial_ids"][0]):
            trajectory.append({
                "trial_id": best["trial_ids"][0],
                "elapsed_s": f"{timestamp(row['end_time']) - start:.3f}",
                "cost": repr(best["costs"][0]),
            })
    if best is not None and n_objectives > 1:
        best["pareto_front"] = _pareto(groups, columns)
    return trajectory, best


def _eligible(groups: Mapping[tuple[str, tuple[str, ...]], list[Mapping[str, str]]]
              ) -> list[list[Mapping[str, str]]]:
    top = max(float(budget) for budget, _ in groups)
    at_top = [g for (budget, _), g in groups.items() if float(budget) == top]
    coverage = max(len({(r["instance"], r["seed"]) for r in g}) for g in at_top)
    return [g for g in at_top if len({(r["instance"], r["seed"]) for r in g}) == coverage]


def _mean_costs(group: Sequence[Mapping[str, str]], columns: Sequence[str]) -> list[float]:
    return [sum(float(r[c]) for r in group) / len(group) for c in columns]


def _best(groups: Mapping[tuple[str, tuple[str, ...]], list[Mapping[str, str]]],
          columns: Sequence[str]) -> dict[str, Any] | None:
    if not groups:
        return None
    group = min(_eligible(groups), key=lambda g: (_mean_costs(g, columns)[0],
                                                  int(g[0]["trial_id"])))
    return {"trial_ids": [r["trial_id"] for r in group], "costs": _mean_costs(group, columns),
            "budget": int(float(group[0]["budget"]))}


def _pareto(groups: Mapping[tuple[str, tuple[str, ...]], list[Mapping[str, str]]],
            columns: Sequence[str]) -> list[dict[str, Any]]:
    points = [(int(g[0]["trial_id"]), _mean_costs(g, columns)) for g in _eligible(groups)]
    front = [
        (tid, costs) for tid, costs in points
        if not any(all(o <= c for o, c in zip(other, costs, strict=True)) and other != costs
                   for _, other in points)
    ]
    return [{"trial_id": tid, "costs": costs} for tid, costs in sorted(front, key=lambda p: p[1])]
