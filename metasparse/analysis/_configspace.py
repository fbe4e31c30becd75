"""What the analysis needs to know about a ConfigSpace: kinds, cell parsing, activity, forbidden."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ConfigSpace import (
    CategoricalHyperparameter,
    ConfigurationSpace,
    Constant,
    OrdinalHyperparameter,
)
from ConfigSpace.hyperparameters import IntegerHyperparameter

from metasparse.optimize._configs import plain

__all__ = ["active_parameters", "choices_of", "default_values", "is_forbidden", "kind_of",
           "parse_cell", "plain", "same_value", "with_activity"]


def kind_of(hp: Any) -> str:
    """'categorical', 'ordinal', 'float' (any number, integers too) or 'constant'."""
    if isinstance(hp, Constant):
        return "constant"
    if isinstance(hp, CategoricalHyperparameter):
        return "categorical"
    if isinstance(hp, OrdinalHyperparameter):
        return "ordinal"
    return "float"


def choices_of(hp: Any) -> list[Any]:
    """The values of a categorical, ordinal or constant parameter."""
    if isinstance(hp, Constant):
        return [hp.value]
    if isinstance(hp, CategoricalHyperparameter):
        return list(hp.choices)
    return list(hp.sequence)


def default_values(space: ConfigurationSpace) -> dict[str, Any]:
    """The default of every parameter of the space (active or not)."""
    return {name: plain(space[name].default_value) for name in space}


def parse_cell(hp: Any, text: str) -> Any:
    """A `config.<name>` cell of trials.csv -> the typed value (None when empty: inactive)."""
    if text == "":
        return None
    if kind_of(hp) == "float":
        value = float(text)
        return round(value) if isinstance(hp, IntegerHyperparameter) else value
    for choice in choices_of(hp):
        if str(choice) == text:
            return choice
    for choice in choices_of(hp):  # a number written as 1.0 for a choice 1, and so on
        if isinstance(choice, int | float) and not isinstance(choice, bool):
            try:
                if float(text) == float(choice):
                    return choice
            except ValueError:
                break
    return text


def same_value(a: Any, b: Any) -> bool:
    """Equality of configuration values: True is not 1, NaN equals NaN, numpy scalars count
    as their plain values."""
    a, b = plain(a), plain(b)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) \
        else a == b


def active_parameters(space: ConfigurationSpace, values: Mapping[str, Any]) -> set[str]:
    """The parameters of `space` that the conditions make active for these values.

    `values` may hold values for inactive parameters too (a full configuration); parameters
    missing from it are inactive.
    """
    active: set[str] = set()
    for name in space:  # ConfigSpace keeps parents before their children
        if name not in values or values[name] is None:
            continue
        parents = space.parents_of[name]
        if all(p.name in active for p in parents) and all(
                condition.satisfied_by_value(values)
                for condition in space.parent_conditions_of[name]):
            active.add(name)
    return active


def with_activity(space: ConfigurationSpace, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the active parameters of `space` (others dropped)."""
    active = active_parameters(space, values)
    return {name: values[name] for name in space if name in active}


def is_forbidden(space: ConfigurationSpace, values: Mapping[str, Any]) -> bool:
    """True when the active values fall under one of the space's forbidden clauses."""
    active = with_activity(space, values)
    return any(clause.is_forbidden_value(active) for clause in space.forbidden_clauses)
