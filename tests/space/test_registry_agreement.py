"""The trainer's registries, spaces/meta.yaml, the presets and the subspaces name the same things.

A key registered in the trainer but missing from the meta-space can never be tuned; a choice of
the meta-space that no registry holds crashes the trial that samples it; a preset outside the
meta-space is not a point that a tuner could find; a subspace value outside the meta-space gives
results that the meta-space cannot reproduce.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from ConfigSpace import (
    CategoricalHyperparameter,
    Configuration,
    Constant,
    OrdinalHyperparameter,
)
from ConfigSpace.hyperparameters import NumericalHyperparameter

import metasparse.data
import metasparse.features
import metasparse.models
import metasparse.sparse
import metasparse.tasks
import metasparse.train
from metasparse._registry import Registry
from metasparse.errors import ConfigError
from metasparse.space import (
    active_config,
    active_parameters,
    get_preset,
    load_definition,
    load_space,
    preset_info,
    preset_names,
    shipped_spaces,
)
from metasparse.space._definition import check_value
from metasparse.sparse.schedule import UpdateSchedule

# Every Registry the trainer's layers define, found by scanning their modules' public names
# (a package may load them on first use), so that a new registry is checked without editing
# this file.
REGISTRIES: dict[str, Registry] = {
    value.axis: value
    for module in (metasparse.sparse, metasparse.models, metasparse.train, metasparse.data,
                   metasparse.tasks)
    for value in (getattr(module, name) for name in {*vars(module), *module.__all__})
    if isinstance(value, Registry)
}
# Categorical parameters whose names the code keeps in a plain tuple instead of a Registry.
NAME_TUPLES: dict[str, tuple[str, ...]] = {
    "input_scaling": metasparse.data.SCALING_METHODS,
    "input_evolution": tuple(metasparse.features.INPUT_EVOLUTIONS.names()),
}
# The closed parameters that no registry or tuple names: SparsitySchedule and resolve_config
# compare `sparsity_schedule` with "constant" / "gradual" directly, UpdateSchedule compares
# `update_every` with "steps" / "never" / "run" (anything else is "epoch"), the topology compares
# `fan_in` with "constant" (anything else is "free"), `prune_scope` with "layer" (anything
# else is "global"), `redistribution` with "momentum" (anything else is "none") and
# `channel_prune` with "none" (anything else is "umm").
UNBACKED = {"sparsity_schedule", "update_every", "fan_in", "prune_scope", "redistribution",
            "channel_prune"}

META = load_definition("meta")["parameters"]


def _names_in_code() -> dict[str, Iterable[str]]:
    return {**{axis: registry.names() for axis, registry in REGISTRIES.items()}, **NAME_TUPLES}


def _names_in_space(spec: dict[str, Any]) -> list[Any]:
    """What spaces/meta.yaml names for a parameter: its choices (or its constant value) and the
    values it `accepts` besides, which the trainer takes but no search samples."""
    named = spec["choices"] if spec["kind"] == "categorical" else [spec["value"]]
    return [*named, *spec.get("accepts", [])]


def _closed(spec: dict[str, Any]) -> bool:
    return spec["kind"] in ("categorical", "constant") and not spec.get("open")


def test_the_scan_finds_every_registry_of_the_trainer():
    assert {"prune_score", "grow_score", "distribution", "weight_init", "regrow_init",
            "zeta_decay", "execution", "model", "activation", "normalization", "optimizer",
            "lr_schedule"} <= set(REGISTRIES)


@pytest.mark.parametrize("axis", sorted(_names_in_code()))
def test_registry_keys_are_exactly_the_choices_of_the_meta_space(axis: str):
    spec = META.get(axis)
    assert spec is not None, f"the {axis!r} registry backs no parameter of spaces/meta.yaml"
    assert _closed(spec), f"{axis}: a registry backs a parameter that takes other values"
    in_code, in_space = set(_names_in_code()[axis]), set(_names_in_space(spec))
    assert in_code - in_space == set(), f"{axis}: registered but not in spaces/meta.yaml"
    assert in_space - in_code == set(), f"{axis}: in spaces/meta.yaml but registered nowhere"


def test_update_every_takes_the_values_that_the_update_schedule_tells_apart():
    def updates(every: str) -> list[int]:
        schedule = UpdateSchedule(every, delta_t=3, zeta=0.3, zeta_decay="constant", t_end=1.0,
                                  steps_per_epoch=10, total_steps=40, updates_per_run=4)
        return [step for step in range(1, 41) if schedule.is_update(step)]

    assert sorted(_names_in_space(META["update_every"])) == ["epoch", "never", "run", "steps"]
    assert updates("steps") == list(range(3, 40, 3))
    assert updates("epoch") == [10, 20, 30]
    assert updates("never") == []
    assert updates("run") == [8, 16, 24, 32]  # four updates, evenly spread


def test_every_closed_string_parameter_of_the_meta_space_is_backed_by_code():
    closed = {name for name, spec in META.items()
              if _closed(spec) and all(isinstance(v, str) for v in _names_in_space(spec))}
    assert closed - set(_names_in_code()) == UNBACKED


@pytest.mark.parametrize("name", preset_names(relative=True))
def test_every_preset_is_a_point_of_its_space(name: str):
    # ConfigSpace checks values against the sampled choices and ranges (stricter than the
    # trainer's `bounds` and `open`), inactive values, and the forbidden clauses. A preset whose
    # task the meta-space holds constant (quickselection's autoencoder) names its own space.
    space = load_space(preset_info(name).get("space", "meta"))
    preset = get_preset(name)
    values = {k: v for k, v in active_config(preset).items()
              if k in active_parameters(space, preset)}
    Configuration(space, values=values).check_valid_configuration()


@pytest.mark.parametrize("name", preset_names(relative=True))
def test_a_preset_sets_no_parameter_that_its_own_conditions_make_inactive(name: str):
    listed = set(preset_info(name)["config"])
    assert listed - set(active_config(get_preset(name))) == set()


@pytest.mark.parametrize("name", sorted(set(preset_names()) & set(shipped_spaces())))
def test_a_preset_is_a_point_of_the_subspace_of_its_name(name: str):
    space = load_space(name)
    values = {k: v for k, v in active_config(get_preset(name)).items() if k in space}
    Configuration(space, values=values).check_valid_configuration()


def _values(hp: Any) -> list[Any]:
    """The values a subspace parameter can take, or the ends of its range."""
    if isinstance(hp, Constant):
        return [hp.value]
    if isinstance(hp, CategoricalHyperparameter):
        return list(hp.choices)
    if isinstance(hp, OrdinalHyperparameter):
        return list(hp.sequence)
    assert isinstance(hp, NumericalHyperparameter), f"{hp.name}: unexpected {type(hp).__name__}"
    return [hp.lower, hp.upper, hp.default_value]


def _trainer_accepts(name: str, value: Any) -> bool:
    """Whether meta.yaml's definition accepts `value` beyond what its search samples (its
    `bounds`, `accepts` and `open` entries: e.g. the sparse path, other widths)."""
    try:
        check_value(name, load_definition("meta")["parameters"][name], value)
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("name", [s for s in shipped_spaces() if s != "meta"])
def test_every_subspace_is_a_subspace_of_meta(name: str):
    meta, space = load_space("meta"), load_space(name)
    for hp in space.values():
        assert hp.name in meta, f"{name}: {hp.name!r} is not a parameter of the meta-space"
        illegal = [v for v in _values(hp)
                   if not meta[hp.name].legal_value(v) and not _trainer_accepts(hp.name, v)]
        assert illegal == [], f"{name}: {hp.name} takes {illegal}, outside the meta-space"
