"""Which parameters of a space are active: the one reading of a space's conditions."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any

from ConfigSpace import ConfigurationSpace

from metasparse.space._definition import build_space, load_definition

__all__ = ["active_config", "active_parameters", "is_active"]


def is_active(space: ConfigurationSpace, name: str, values: Mapping[str, Any],
              active: Collection[str] | None = None) -> bool:
    """Whether the conditions of `name` hold: every parent is active (in `active`, by default
    the keys of `values`) and has a value its condition accepts."""
    active = values.keys() if active is None else active
    return all(parent.name in active for parent in space.parents_of[name]) and all(
        condition.satisfied_by_value(values) for condition in space.parent_conditions_of[name])


def active_parameters(space: ConfigurationSpace, values: Mapping[str, Any]) -> set[str]:
    """The parameters of `space` that the conditions make active for these values.

    `values` may hold values for inactive parameters too (a full configuration); parameters
    missing from it (or None) are inactive.
    """
    active: set[str] = set()
    for name in space:  # ConfigSpace keeps parents before their children
        if values.get(name) is not None and is_active(space, name, values, active):
            active.add(name)
    return active


@lru_cache(maxsize=1)
def _meta_space() -> ConfigurationSpace:
    return build_space(load_definition("meta"))


def active_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of a full configuration that the meta-space's conditions make active."""
    space = _meta_space()
    active = active_parameters(space, config)
    return {name: value for name, value in config.items() if name in active or name not in space}
