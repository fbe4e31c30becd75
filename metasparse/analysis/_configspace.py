"""What the analysis needs to know about a ConfigSpace besides the cells of a results table
(metasparse.results) and the kinds and activity of parameters (metasparse.space): defaults,
equality of values, forbidden clauses."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ConfigSpace import ConfigurationSpace

from metasparse.results import parse_cell, plain
from metasparse.space import active_parameters, choices_of, kind_of

__all__ = ["active_parameters", "choices_of", "default_values", "is_forbidden", "kind_of",
           "parse_cell", "plain", "same_value", "with_activity"]


def default_values(space: ConfigurationSpace) -> dict[str, Any]:
    """The default of every parameter of the space (active or not)."""
    return {name: plain(space[name].default_value) for name in space}


def same_value(a: Any, b: Any) -> bool:
    """Equality of configuration values: True is not 1, NaN equals NaN, numpy scalars count
    as their plain values."""
    a, b = plain(a), plain(b)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) \
        else a == b


def with_activity(space: ConfigurationSpace, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the active parameters of `space` (others dropped)."""
    active = active_parameters(space, values)
    return {name: values[name] for name in space if name in active}


def is_forbidden(space: ConfigurationSpace, values: Mapping[str, Any]) -> bool:
    """True when the active values fall under one of the space's forbidden clauses."""
    active = with_activity(space, values)
    return any(clause.is_forbidden_value(active) for clause in space.forbidden_clauses)
