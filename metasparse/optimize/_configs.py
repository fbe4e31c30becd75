"""Configurations between ConfigSpace, the trainer and the results table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ConfigSpace import Configuration, ConfigurationSpace

from metasparse.results import plain
from metasparse.space import choices_of, is_integer, kind_of


def config_values(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """The active values of a configuration as plain Python values, as the space holds them
    (the trainer rounds log-scaled integers such as delta_t itself)."""
    return {name: plain(value) for name, value in dict(configuration).items()}


def configuration_from_values(space: ConfigurationSpace,
                              values: Mapping[str, Any]) -> Configuration:
    """A Configuration of `space` holding `values` (as written to the results table)."""
    typed: dict[str, Any] = {}
    for name, value in values.items():
        hp = space[name]
        if kind_of(hp) == "constant":
            typed[name] = hp.value
        elif kind_of(hp) != "float":
            choices = choices_of(hp)
            typed[name] = next((c for c in choices if c == value and type(c) is type(value)),
                               next((c for c in choices if str(c) == str(value)), value))
        else:
            typed[name] = int(value) if is_integer(hp) else float(value)
    return Configuration(space, values=typed)
