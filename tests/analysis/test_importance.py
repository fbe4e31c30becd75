"""fANOVA and local importance on trials of functions whose important parameters are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float

from metasparse.analysis import fanova, fit_surrogate, local_importance
from metasparse.analysis._importance import _TreeMarginals


def synthetic_space() -> ConfigurationSpace:
    """Six floats in [0, 1], a categorical `c` and a log-scaled `y` active only when c == 'a'."""
    space = ConfigurationSpace(seed=1)
    floats = [Float(f"x{i}", (0.0, 1.0)) for i in range(1, 7)]
    c = Categorical("c", ["a", "b", "c"])
    y = Float("y", (1e-3, 1.0), log=True)
    space.add([*floats, c, y])
    space.add(EqualsCondition(y, c, "a"))
    return space


def cost(config: dict) -> float:
    """x1 matters most; x2 and x3 matter together (x2 > .5 and x3 > .5); the rest barely."""
    value = 3.0 * config["x1"] + 2.0 * (config["x2"] > 0.5 and config["x3"] > 0.5)
    value += 0.3 * config["x4"] + 0.5 * (config["c"] == "b")
    if config["c"] == "a":
        value += 0.2 * np.log10(config["y"])
    return value


def trials_of(space: ConfigurationSpace, n: int) -> pd.DataFrame:
    """A trials table in the results format (inactive parameters empty)."""
    rows = []
    for k, configuration in enumerate(space.sample_configuration(n)):
        config = dict(configuration)
        row = {"trial_id": k, "status": "success", "cost": cost(config), "budget": 1.0,
               "instance": "all"}
        row.update({f"config.{p}": config.get(p) for p in space})
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def synthetic():
    space = synthetic_space()
    return space, trials_of(space, 200)


def test_fanova_ranks_the_important_parameter_first_and_finds_the_planted_interaction(synthetic):
    space, trials = synthetic
    importance = fanova(trials, space)
    main = importance.main
    assert main.iloc[0]["parameter"] == "x1"
    assert main.iloc[0]["importance"] > 0.3
    # the noise parameters explain next to nothing
    shares = main.set_index("parameter")["importance"]
    assert max(shares["x5"], shares["x6"]) < 0.05
    top_pair = importance.pairs.iloc[0]
    assert {top_pair["parameter_1"], top_pair["parameter_2"]} == {"x2", "x3"}
    assert top_pair["importance"] > 0.05


def test_fanova_has_a_row_for_every_parameter_conditional_ones_included(synthetic):
    space, trials = synthetic
    main = fanova(trials, space, pairs=False).main
    assert set(main["parameter"]) == set(space)
    row = main.set_index("parameter").loc["y"]
    assert row["status"] == "searched"
    assert 0.2 < row["active_share"] < 0.5  # active only where c == 'a'
    assert (main["importance"] >= 0).all() and main["importance"].sum() <= 1.0 + 1e-9


def test_a_parameter_that_never_varied_explains_nothing(synthetic):
    space, trials = synthetic
    trials = trials.copy()
    trials["config.x6"] = 0.5
    row = fanova(trials, space, pairs=False).main.set_index("parameter").loc["x6"]
    assert row["importance"] == 0.0
    assert row["status"] == "one value tried"


def test_tree_marginals_match_a_monte_carlo_estimate(synthetic):
    space, trials = synthetic
    surrogate = fit_surrogate(trials, space, n_trees=4)
    lower, upper = surrogate.lower, surrogate.upper
    estimator = surrogate.forest.estimators_[0]
    exact = _TreeMarginals(estimator.tree_, lower, upper)
    rng = np.random.default_rng(0)
    points = rng.uniform(lower, upper, size=(100_000, len(lower)))
    predictions = estimator.predict(points)
    assert exact.mean == pytest.approx(predictions.mean(), rel=0.02)
    assert exact.total == pytest.approx(predictions.var(), rel=0.05)
    index = [f.name for f in surrogate.features].index("x1")
    edges = np.linspace(lower[index], upper[index], 41)
    bins = np.digitize(points[:, index], edges) - 1
    marginal = np.array([predictions[bins == k].mean() for k in range(40)])
    estimate = float(np.mean((marginal - predictions.mean()) ** 2))
    assert exact.main(index) == pytest.approx(estimate, rel=0.1)


def test_local_importance_points_at_the_parameter_that_matters_here(synthetic):
    space, trials = synthetic
    surrogate = fit_surrogate(trials, space)
    config = {"x1": 0.9, "x2": 0.2, "x3": 0.2, "x4": 0.5, "x5": 0.5, "x6": 0.5, "c": "c"}
    local = local_importance(surrogate, config)
    assert local.iloc[0]["parameter"] == "x1"
    assert local.iloc[0]["best_value"] < 0.3
    assert local.iloc[0]["predicted_gain"] > 1.0
    assert "y" not in set(local["parameter"])  # inactive here
