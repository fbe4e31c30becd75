"""Published algorithms as points of the meta-space (spaces/presets.yaml)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import yaml

from metasparse._paths import shipped_dir
from metasparse.errors import ConfigError, invalid_choice
from metasparse.space._config import resolve_config


@lru_cache(maxsize=1)
def _presets_file() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((shipped_dir("spaces") / "presets.yaml").read_text())


def preset_names() -> list[str]:
    return list(_presets_file())


def preset_info(name: str) -> dict[str, Any]:
    """The preset's paper, source and note, and its partial configuration."""
    try:
        return copy.deepcopy(_presets_file()[name])
    except KeyError:
        raise ConfigError(invalid_choice("preset", preset_names(), name)) from None


def get_preset(name: str) -> dict[str, Any]:
    """The full configuration of a published algorithm."""
    return resolve_config(preset_info(name)["config"])


# What makes the dense baseline dense: a scenario's fixed settings never override it.
_DENSE_KEEPS = ("density",)


def preset_config(name: str, fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A preset with a scenario's fixed settings applied (e.g. the small hidden sizes it was
    tuned with), so that it is compared with the incumbent on equal terms; the `dense` preset
    keeps its density of 1 whatever density the scenario fixes."""
    fixed = dict(fixed or {})
    if name == "dense":
        fixed = {k: v for k, v in fixed.items() if k not in _DENSE_KEEPS}
    return resolve_config({**get_preset(name), **fixed})
