"""The incumbent and the trajectory, derived from the rows of trials.csv."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from metasparse.results._codec import timestamp
from metasparse.results._schema import CONFIG_PREFIX, cost_columns


class _Group:
    """The successful rows of one configuration at one budget, with running cost sums."""

    def __init__(self, budget: str, n_costs: int) -> None:
        self.budget = float(budget)
        self.rows: list[Mapping[str, str]] = []
        self.pairs: set[tuple[str, str]] = set()
        self.sums = [0.0] * n_costs

    def add(self, row: Mapping[str, str], columns: Sequence[str]) -> None:
        self.rows.append(row)
        self.pairs.add((row["instance"], row["seed"]))
        self.sums = [s + float(row[c]) for s, c in zip(self.sums, columns, strict=True)]

    def means(self) -> list[float]:
        return [s / len(self.rows) for s in self.sums]

    def rank(self) -> tuple[float, int]:
        return self.sums[0] / len(self.rows), int(self.rows[0]["trial_id"])


def incumbent_history(rows: Sequence[Mapping[str, str]], n_objectives: int
                      ) -> tuple[list[dict[str, str]], dict[str, Any] | None]:
    """The trajectory (each new incumbent, in the order trials ended) and the incumbent now.

    The incumbent is the configuration with the lowest mean first cost among successful trials
    at the highest budget reached, counting only configurations evaluated on the most
    (instance, seed) pairs (the AC facade evaluates a configuration instance by instance).
    It is updated row by row (a row changes only its own group), so this is linear in the rows
    but for the rare row that makes the incumbent itself worse."""
    ordered = sorted(rows, key=lambda r: timestamp(r["end_time"]))
    start = min((timestamp(r["start_time"]) for r in rows), default=0.0)
    columns = cost_columns(n_objectives)
    groups: dict[tuple[str, tuple[str, ...]], _Group] = {}
    trajectory: list[dict[str, str]] = []
    best: _Group | None = None
    coverage = 0  # the most pairs of a configuration at the highest budget (best.budget)
    for row in ordered:
        if row["status"] != "success":
            continue
        key = (row["budget"], tuple(v for k, v in row.items() if k.startswith(CONFIG_PREFIX)))
        group = groups.setdefault(key, _Group(row["budget"], len(columns)))
        group.add(row, columns)
        if best is None or group.budget > best.budget or (
                group.budget == best.budget and len(group.pairs) > coverage):
            best, coverage = group, len(group.pairs)
        elif group.budget == best.budget and len(group.pairs) == coverage:
            if group is best:  # its mean may have risen: rank the eligible groups again
                best = min(_eligible(groups.values(), best.budget, coverage), key=_Group.rank)
            elif group.rank() < best.rank():
                best = group
        cost, first = best.sums[0] / len(best.rows), best.rows[0]["trial_id"]
        last = trajectory[-1] if trajectory else None
        if last is None or float(last["cost"]) != cost or last["trial_id"] != first:
            trajectory.append({
                "trial_id": first,
                "elapsed_s": f"{timestamp(row['end_time']) - start:.3f}",
                "cost": repr(cost),
            })
    if best is None:
        return trajectory, None
    incumbent: dict[str, Any] = {"trial_ids": [r["trial_id"] for r in best.rows],
                                 "costs": best.means(), "budget": int(best.budget)}
    if n_objectives > 1:
        incumbent["pareto_front"] = _pareto(_eligible(groups.values(), best.budget, coverage))
    return trajectory, incumbent


def _eligible(groups: Iterable[_Group], budget: float, coverage: int) -> list[_Group]:
    return [g for g in groups if g.budget == budget and len(g.pairs) == coverage]


def _pareto(eligible: Sequence[_Group]) -> list[dict[str, Any]]:
    points = [(int(g.rows[0]["trial_id"]), g.means()) for g in eligible]
    front = [
        (tid, costs) for tid, costs in points
        if not any(all(o <= c for o, c in zip(other, costs, strict=True)) and other != costs
                   for _, other in points)
    ]
    return [{"trial_id": tid, "costs": costs} for tid, costs in sorted(front, key=lambda p: p[1])]
