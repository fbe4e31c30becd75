"""Pages that the browser test's single-budget run cannot show: the budget correlation of a real
multi-fidelity run, and every preset that `analyze --presets` trained as a reference line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dashboard_helpers import copy_reference

from metasparse.analysis import budget_correlation, load_results
from metasparse.dashboard import RunStore, discover_runs, render
from metasparse.results import REPORT


def graph(content: list, name: str):
    return next(c for c in content if getattr(c, "id", None) == f"graph-{name}").figure


def test_the_budget_page_of_a_multi_fidelity_run(tiny_mf_run):
    store = RunStore(discover_runs([tiny_mf_run]))
    heatmap = graph(render(store, "budget", 0), "budget").data[0]
    table = budget_correlation(load_results(tiny_mf_run).trials)
    budgets = sorted(set(table["budget_1"]) | set(table["budget_2"]))
    assert list(heatmap.x) == [f"{b:g}" for b in budgets]
    z = pd.DataFrame(heatmap.z, index=budgets, columns=budgets)
    assert z.to_numpy() == pytest.approx(z.T.to_numpy(), nan_ok=True)  # symmetric
    for row in table.itertuples():
        assert z.loc[row.budget_1, row.budget_2] == pytest.approx(row.correlation, nan_ok=True)
    assert (np.diag(z) == 1.0).all()


def test_the_cost_page_draws_every_trained_preset(tmp_path):
    run = copy_reference(tmp_path)
    store = RunStore(discover_runs([run]))
    lines = graph(render(store, "cost", 0), "cost").layout.shapes
    assert len(lines) == 1  # the reference preset of reference.yaml
    (run / REPORT).mkdir()
    pd.DataFrame({"preset": ["rigl", "set", "static"], "status": ["success", "success", "failed"],
                  "cost": [0.3, 0.25, 1.0]}).to_csv(run / REPORT / "presets.csv", index=False)
    store = RunStore(discover_runs([run]))
    figure = graph(render(store, "cost", 0), "cost")
    assert sorted(shape.y0 for shape in figure.layout.shapes) == \
        sorted([0.25, load_results(run).reference["cost"]])  # rigl is the reference; static failed
    assert {a.text for a in figure.layout.annotations} == {"set", "rigl (reference)"}
