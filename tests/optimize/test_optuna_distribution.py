"""The one ConfigSpace-to-Optuna mapping (optimize.optuna_distribution), over the one dispatch on
a parameter's type (space.kind_of, choices_of, is_integer): what an Optuna trial is asked for is
what an exported study records."""

from __future__ import annotations

import optuna
import pytest
from ConfigSpace import (
    CategoricalHyperparameter,
    ConfigurationSpace,
    Constant,
    EqualsCondition,
    OrdinalHyperparameter,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from metasparse.optimize import optuna_distribution
from metasparse.optimize._optuna import searched, suggest
from metasparse.space import choices_of, is_integer, kind_of, load_space


def toy_space() -> ConfigurationSpace:
    space = ConfigurationSpace(seed=0)
    space.add([
        CategoricalHyperparameter("schedule", ["cosine", "step"]),
        OrdinalHyperparameter("width", [16, 32, 64]),
        UniformFloatHyperparameter("lr", 1e-4, 1e-1, log=True),
        UniformIntegerHyperparameter("delta_t", 10, 1000, log=True),
        UniformFloatHyperparameter("gamma", 0.1, 0.9),
        Constant("task", "classifier"),
    ])
    space.add(EqualsCondition(space["gamma"], space["schedule"], "step"))
    return space


def test_each_kind_of_parameter_has_its_distribution():
    space = toy_space()
    assert {name: kind_of(hp) for name, hp in space.items()} == {
        "schedule": "categorical", "width": "ordinal", "lr": "float", "delta_t": "float",
        "gamma": "float", "task": "constant"}
    assert [name for name, hp in space.items() if is_integer(hp)] == ["delta_t"]
    assert choices_of(space["width"]) == [16, 32, 64]
    assert choices_of(space["task"]) == ["classifier"]
    assert optuna_distribution(space["schedule"]) == CategoricalDistribution(["cosine", "step"])
    assert optuna_distribution(space["width"]) == CategoricalDistribution([16, 32, 64])
    assert optuna_distribution(space["task"]) == CategoricalDistribution(["classifier"])
    assert optuna_distribution(space["lr"]) == FloatDistribution(1e-4, 1e-1, log=True)
    assert optuna_distribution(space["delta_t"]) == IntDistribution(10, 1000, log=True)
    assert optuna_distribution(space["gamma"]) == FloatDistribution(0.1, 0.9)


@pytest.mark.parametrize("space_name", ["toy", "meta"])
def test_a_trial_is_asked_for_the_distributions_that_an_export_records(space_name):
    space = toy_space() if space_name == "toy" else load_space("meta", seed=0)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(8):
        trial = study.ask()
        values = suggest(trial, space)
        assert set(trial.params) == set(searched(values, space))
        study.tell(trial, 0.0)
    for trial in study.trials:
        assert trial.distributions == {name: optuna_distribution(space[name])
                                       for name in trial.params}
        assert all(kind_of(space[name]) != "constant" for name in trial.params)
