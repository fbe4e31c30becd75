"""Plain configuration dicts: validation against the meta-space and its defaults."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import yaml

from metasparse.errors import ConfigError
from metasparse.space._definition import check_value, load_definition


@lru_cache(maxsize=1)
def _meta_parameters() -> dict[str, dict[str, Any]]:
    return load_definition("meta")["parameters"]


def parameter_names() -> list[str]:
    """Every parameter of the meta-space, in the order of spaces/meta.yaml."""
    return list(_meta_parameters())


def default_config() -> dict[str, Any]:
    """The meta-space default of every parameter: the trainer's defaults."""
    return {name: spec["default"] for name, spec in _meta_parameters().items()}


def coerce_value(name: str, value: Any) -> Any:
    """Plain Python value of the type the parameter expects (numpy scalars, '128' vs 128...)."""
    spec = _meta_parameters().get(name)
    if spec is None:
        raise ConfigError(f"Unknown parameter {name!r}; the parameters are: "
                          + ", ".join(parameter_names()))
    if hasattr(value, "item"):  # numpy scalar from ConfigSpace
        value = value.item()
    kind = spec["kind"]
    if kind == "categorical":
        choices = spec["choices"]
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and all(isinstance(c, str) for c in choices):
            value = str(value)  # YAML reads hidden_sizes "128" as an int; a mapping stays one
        elif isinstance(value, str) and all(isinstance(c, bool) for c in choices):
            value = {"true": True, "false": False}.get(value.lower(), value)
    elif kind == "int_log" and isinstance(value, int | float) and not isinstance(value, bool) \
            and math.isfinite(value):
        value = round(value)
    elif kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind in ("float", "int_log") and isinstance(value, str):
        with contextlib.suppress(ValueError):  # YAML 1.1 reads '1e-3' as a string
            value = coerce_value(name, float(value))
    return value


def resolve_config(values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate a (partial) configuration and fill every missing parameter with its default."""
    config = default_config()
    specs = _meta_parameters()
    for name, value in (values or {}).items():
        value = coerce_value(name, value)
        check_value(name, specs[name], value)
        config[name] = value
    if config["sparsity_schedule"] == "gradual" and config["initial_density"] < config["density"]:
        raise ConfigError("The 'initial_density' parameter must be at least 'density' "
                          f"({config['density']}) with a gradual sparsity schedule; "
                          f"got {config['initial_density']}")
    return config


def parse_assignment(text: str) -> tuple[str, Any]:
    """'key=value' (as given to --set) -> (key, typed value)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects key=value; got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    return key, coerce_value(key, value)
