"""Cost over time, partial dependence and ICE, the configuration footprint and the budget
correlation, on real results directories of the optimizer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from metasparse.analysis import (
    budget_correlation,
    cost_over_time,
    fanova,
    fit_surrogate,
    footprint,
    load_results,
    partial_dependence,
    pdp_of,
)
from metasparse.results import CONFIG_PREFIX


@pytest.fixture(scope="module")
def tiny(tiny_run):
    results = load_results(tiny_run)
    return results, fit_surrogate(results.trials, results.space)


def test_cost_over_time_is_the_best_usable_cost_so_far(tiny):
    results, _ = tiny
    frame = cost_over_time(results)
    assert len(frame) == len(results.trials)
    assert (np.diff(frame["elapsed_s"]) >= 0).all()
    best = np.inf
    for status, cost, incumbent in frame[["status", "cost", "incumbent_cost"]].itertuples(
            index=False):
        if status in ("success", "diverged"):
            best = min(best, cost)
        assert incumbent == best or (np.isinf(best) and np.isnan(incumbent))
    assert frame["incumbent_cost"].iloc[-1] == pytest.approx(results.incumbent["cost"])
    trials = results.trials.copy()
    trials.loc[trials.index[0], ["status", "cost"]] = ["pruned", 0.0]  # says nothing of it
    pruned = cost_over_time(dataclasses.replace(results, trials=trials))
    assert pruned["incumbent_cost"].min() > 0.0


def test_ice_curves_pass_through_each_trials_own_prediction(tiny):
    results, surrogate = tiny
    kinds = {f.name: f.kind for f in surrogate.features}
    main = fanova(results.trials, results.space, surrogate=surrogate).main
    # the most important choice: the forest splits on it, so its curves cannot all be flat
    name = next(p for p in main["parameter"] if kinds.get(p) == "categorical")
    assert main.set_index("parameter").loc[name, "importance"] > 0
    ice = partial_dependence(surrogate, results.trials, name, n_curves=4, seed=1)
    assert ice.groupby("trial_id")["cost"].nunique().max() > 1
    feature = surrogate.feature(name)
    assert ice["trial_id"].nunique() == 4
    assert (ice.groupby("trial_id").size() == len(feature.choices)).all()
    for trial_id, curve in ice.groupby("trial_id"):
        row = results.trials[results.trials["trial_id"] == trial_id]
        own = row[f"{CONFIG_PREFIX}{name}"].iloc[0]
        at_own = curve[curve["value"] == own]["cost"].iloc[0]
        assert at_own == pytest.approx(surrogate.predict(results.configs(row))[0])
    pdp = pdp_of(ice)
    assert list(pdp["value"]) == feature.choices
    for value, mean in zip(pdp["value"], pdp["mean"], strict=True):
        assert mean == pytest.approx(ice[ice["value"] == value]["cost"].mean())


def test_a_float_parameter_is_drawn_on_its_grid(tiny):
    results, surrogate = tiny
    feature = next(f for f in surrogate.features if f.kind == "float")
    ice = partial_dependence(surrogate, results.trials, feature.name, n_grid=7)
    values = pdp_of(ice)["value"]
    assert len(values) == 7
    assert values.iloc[0] == pytest.approx(feature.lower)
    assert values.iloc[-1] == pytest.approx(feature.upper)


def test_footprint_places_equal_configurations_together(tiny):
    results, surrogate = tiny
    trials = pd.concat([results.trials, results.trials.iloc[[0]]], ignore_index=True)
    points = footprint(surrogate, trials)
    assert len(points) == len(trials)
    assert np.isfinite(points[["x", "y"]].to_numpy()).all()
    first, copy = points.iloc[0], points.iloc[-1]
    assert (first["x"], first["y"]) == pytest.approx((copy["x"], copy["y"]), abs=1e-6)
    others = points.iloc[1:-1]
    assert np.hypot(others["x"] - first["x"], others["y"] - first["y"]).min() > 1e-3


def frame(costs: dict[float, list[float]]) -> pd.DataFrame:
    """Trials of configurations k = 0, 1, ... at each budget with the given costs."""
    rows = [{"status": "success", "budget": budget, "cost": cost,
             f"{CONFIG_PREFIX}lr": 0.1 * (k + 1)}
            for budget, values in costs.items() for k, cost in enumerate(values)]
    return pd.DataFrame(rows).rename_axis("trial_id").reset_index()


def test_budget_correlation_ranks_configurations_across_budgets():
    same_order = frame({1.0: [0.5, 0.4, 0.3, 0.2], 3.0: [0.30, 0.25, 0.2, 0.1],
                        9.0: [0.1, 0.2, 0.3]})
    table = budget_correlation(same_order).set_index(["budget_1", "budget_2"])
    assert table.loc[(1.0, 3.0), "correlation"] == pytest.approx(1.0)
    assert table.loc[(1.0, 9.0), "correlation"] == pytest.approx(-1.0)
    assert table.loc[(3.0, 9.0), "n_configs"] == 3
    assert budget_correlation(frame({1.0: [0.5, 0.4]})).empty
    two = budget_correlation(frame({1.0: [0.5, 0.4], 3.0: [0.3, 0.2]}))
    assert np.isnan(two["correlation"].iloc[0])  # two configurations rank nothing


def test_budget_correlation_of_a_real_multi_fidelity_run(tiny_mf_run):
    trials = load_results(tiny_mf_run).trials
    table = budget_correlation(trials)
    assert sorted(zip(table["budget_1"], table["budget_2"], strict=True)) == \
        [(1, 3), (1, 9), (3, 9)]
    params = [c for c in trials.columns if c.startswith(CONFIG_PREFIX)]
    low, high = (trials[trials["budget"] == b][[*params, "cost"]] for b in (1, 3))
    both = low.merge(high, on=params, suffixes=("_low", "_high"))  # Hyperband's promotions
    row = table[(table["budget_1"] == 1) & (table["budget_2"] == 3)].iloc[0]
    assert row["n_configs"] == len(both) >= 3
    assert row["correlation"] == pytest.approx(
        both["cost_low"].rank().corr(both["cost_high"].rank()))
