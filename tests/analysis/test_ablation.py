"""The ablation path on functions whose order of changes is known."""

from __future__ import annotations

import pandas as pd
import pytest
from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
)

from metasparse.analysis import ablation_path, fit_surrogate

# The gain of moving each parameter from the source's value to the target's.
GAINS = {"a": 0.5, "b": 0.3, "opt": 0.2, "c": 0.1, "d": 0.02}


def space_with_condition() -> ConfigurationSpace:
    """Floats a..d and an optimizer whose `momentum` exists only for sgd."""
    space = ConfigurationSpace(seed=3)
    floats = [Float(name, (0.0, 1.0)) for name in "abcd"]
    opt = Categorical("opt", ["sgd", "adam"])
    momentum = Float("momentum", (0.0, 1.0))
    space.add([*floats, opt, momentum])
    space.add(EqualsCondition(momentum, opt, "sgd"))
    return space


SOURCE = {"a": 0.0, "b": 0.0, "c": 0.0, "d": 0.0, "opt": "adam", "momentum": 0.9}
TARGET = {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0, "opt": "sgd", "momentum": 0.3}


def known_cost(config) -> float:
    """Each parameter's gain scales with how far it moved towards the target; momentum (only
    active with sgd) is worth 0.05 at the target's value and costs 0.1 elsewhere."""
    cost = 1.5
    for name in "abcd":
        cost -= GAINS[name] * config[name]
    if config["opt"] == "sgd":
        cost -= GAINS["opt"]
        cost -= 0.05 if config["momentum"] == TARGET["momentum"] else -0.1
    return cost


def test_the_path_recovers_the_planted_order_and_the_gains():
    space = space_with_condition()
    path = ablation_path(SOURCE, TARGET, space, lambda cs: [known_cost(c) for c in cs])
    assert list(path["parameter"]) == ["(source)", "a", "b", "opt", "c", "d"]
    # changing the optimizer activates momentum, which takes the target's value in the same step
    step = path.set_index("parameter").loc["opt"]
    assert step["activates"] == "momentum=0.3"
    assert step["gain"] == pytest.approx(0.25)
    assert path["gain"].iloc[1:].tolist() == pytest.approx([0.5, 0.3, 0.25, 0.1, 0.02])
    assert path["cost"].iloc[-1] == pytest.approx(known_cost(TARGET))
    assert path["gain_share"].sum() == pytest.approx(1.0)
    assert path["candidates"].tolist() == [0, 5, 4, 3, 2, 1]


def test_changing_a_parent_away_deactivates_its_children():
    space = space_with_condition()
    source = {**TARGET, "a": 0.0}
    source["opt"], source["momentum"] = "sgd", 0.9
    target = {**TARGET, "opt": "adam"}
    path = ablation_path(source, target, space, lambda cs: [known_cost(c) for c in cs])
    assert set(path["parameter"]) == {"(source)", "a", "opt"}
    assert path.set_index("parameter").loc["opt", "deactivates"] == "momentum"


def test_forbidden_intermediate_configurations_are_skipped():
    space = space_with_condition()
    space.add(ForbiddenAndConjunction(ForbiddenEqualsClause(space["a"], 1.0),
                                      ForbiddenEqualsClause(space["b"], 0.0)))
    path = ablation_path(SOURCE, TARGET, space, lambda cs: [known_cost(c) for c in cs])
    # a alone would gain most, but a=1 with b=0 is forbidden: b has to move first
    assert list(path["parameter"]) == ["(source)", "b", "a", "opt", "c", "d"]
    assert path["candidates"].iloc[1] == 4


def test_the_surrogate_path_finds_the_big_changes_first():
    space = space_with_condition()
    rows = []
    for k, configuration in enumerate(space.sample_configuration(300)):
        config = dict(configuration)
        config.setdefault("momentum", None)
        row = {"trial_id": k, "status": "success", "budget": 1.0, "instance": "all",
               "cost": known_cost({**config, "momentum": config["momentum"] or 0.0})}
        row.update({f"config.{p}": config[p] for p in space})
        rows.append(row)
    surrogate = fit_surrogate(pd.DataFrame(rows), space)
    path = ablation_path(SOURCE, TARGET, space, surrogate.predict)
    assert list(path["parameter"])[1:3] == ["a", "b"]
    assert path["gain"].iloc[1] > path["gain"].iloc[2] > 0


def test_real_mode_trains_each_candidate_once_and_ends_at_the_target():
    from metasparse.analysis import TrainingCost, preset_config
    from metasparse.space import load_space
    from metasparse.train import run_config

    fixed = {"hidden_sizes": "16"}
    source = preset_config("rigl", fixed)
    target = {**source, "lr": 0.05, "optimizer": "adam", "activation": "tanh"}
    cost = TrainingCost(["wine"], [0], 1, progress=False)
    path = ablation_path(source, target, load_space("meta", fixed=fixed), cost)
    cost.close()
    assert set(path["parameter"].iloc[1:]) == {"lr", "optimizer", "activation"}
    assert path.set_index("parameter").loc["optimizer", "deactivates"] == "momentum, nesterov"
    assert len(cost.runs) == 1 + 3 + 2 + 1  # the source, then every candidate of each step
    direct = run_config(target, "wine", 1, 0, evaluate_test=False).val_error
    assert path["cost"].iloc[-1] == pytest.approx(direct)
