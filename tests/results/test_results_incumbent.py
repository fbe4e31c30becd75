"""The incumbent and trajectory derived from trials.csv rows (no training)."""

from __future__ import annotations

from metasparse.results import incumbent_history, iso_time


def row(trial_id: int, cost: float, config: str, end: float, instance: str = "all",
        budget: str = "10", status: str = "success") -> dict[str, str]:
    return {"trial_id": str(trial_id), "status": status, "cost": repr(cost), "budget": budget,
            "seed": "0", "instance": instance, "start_time": iso_time(1e9),
            "end_time": iso_time(1e9 + end), "config.x": config}


def test_a_worse_repeat_of_the_incumbent_hands_over_to_the_next_best():
    rows = [row(0, 0.1, "a", 1), row(1, 0.2, "b", 2), row(2, 0.5, "a", 3),
            row(3, 0.0, "c", 4, status="crashed")]
    trajectory, best = incumbent_history(rows, 1)
    assert [(t["trial_id"], float(t["cost"])) for t in trajectory] == [("0", 0.1), ("1", 0.2)]
    assert best == {"trial_ids": ["1"], "costs": [0.2], "budget": 10}


def test_higher_budget_and_more_pairs_take_precedence_over_lower_cost():
    rows = [row(0, 0.1, "a", 1, budget="3"), row(1, 0.4, "b", 2),
            row(2, 0.3, "c", 3, instance="i1"), row(3, 0.5, "b", 4, instance="i2"),
            row(4, 0.2, "c", 5, instance="i2")]
    # budget 10 displaces a; then the configuration on the most pairs wins, by mean cost
    trajectory, best = incumbent_history(rows, 1)
    assert [t["trial_id"] for t in trajectory] == ["0", "1", "2", "1", "2"]
    assert best == {"trial_ids": ["2", "4"], "costs": [0.25], "budget": 10}
