"""Configurations between ConfigSpace, the trainer and the results table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ConfigSpace import (
    CategoricalHyperparameter,
    Configuration,
    ConfigurationSpace,
    Constant,
    OrdinalHyperparameter,
)


def config_values(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """The active values of a configuration as plain Python values, as the space holds them
    (the trainer rounds log-scaled integers such as delta_t itself)."""
    return {name: plain(value) for name, value in dict(configuration).items()}


def plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def format_value(value: Any) -> str:
    """A configuration value as a table cell (floats keep every digit)."""
    return repr(value) if isinstance(value, float) else str(value)


def parse_value(text: str) -> Any:
    """A table cell back to the plain value it was written from (a string stays one unless it
    reads as a bool or a number; `configuration_from_values` matches choices by text)."""
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def configuration_from_values(space: ConfigurationSpace,
                              values: Mapping[str, Any]) -> Configuration:
    """A Configuration of `space` holding `values` (as written to the results table)."""
    typed: dict[str, Any] = {}
    for name, value in values.items():
        hp = space[name]
        if isinstance(hp, Constant):
            typed[name] = hp.value
        elif isinstance(hp, CategoricalHyperparameter | OrdinalHyperparameter):
            choices = hp.choices if isinstance(hp, CategoricalHyperparameter) else hp.sequence
            typed[name] = next((c for c in choices if c == value and type(c) is type(value)),
                               next((c for c in choices if str(c) == str(value)), value))
        else:
            typed[name] = float(value) if isinstance(hp.lower, float) else int(value)
    return Configuration(space, values=typed)
