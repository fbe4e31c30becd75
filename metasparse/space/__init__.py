"""Search spaces (spaces/*.yaml as ConfigSpace objects), configurations and presets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ConfigSpace import ConfigurationSpace

from metasparse.space._active import active_config, active_parameters, is_active
from metasparse.space._config import (
    coerce_value,
    default_config,
    parameter_names,
    parse_assignment,
    resolve_config,
)
from metasparse.space._definition import (
    build_space,
    fix,
    held_axes,
    load_definition,
    shipped_spaces,
)
from metasparse.space._kinds import choices_of, is_integer, kind_of
from metasparse.space._presets import (
    RELATIVE,
    get_preset,
    preset_config,
    preset_forms,
    preset_info,
    preset_names,
    relative_form,
    relative_hint,
    schedule_text,
)

__all__ = [
    "PRESETS",
    "RELATIVE",
    "active_config",
    "active_parameters",
    "axes_held",
    "choices_of",
    "coerce_value",
    "default_config",
    "get_preset",
    "held_axes",
    "is_active",
    "is_integer",
    "kind_of",
    "load_definition",
    "load_space",
    "parameter_names",
    "parse_assignment",
    "preset_config",
    "preset_forms",
    "preset_info",
    "preset_names",
    "relative_form",
    "relative_hint",
    "resolve_config",
    "schedule_text",
    "shipped_spaces",
]


def load_space(spec: str | Path, fixed: Mapping[str, Any] | None = None,
               seed: int | None = None) -> ConfigurationSpace:
    """A shipped space name or a space YAML path -> ConfigSpace, with `fixed` made constant."""
    definition = load_definition(spec)
    if fixed:
        definition = fix(definition, {k: coerce_value(k, v) for k, v in fixed.items()})
    return build_space(definition, seed=seed)


def axes_held(spec: str | Path, searched: Sequence[str],
              fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a search of only the `searched` groups of axes (spaces/meta.yaml's `axes`) of a
    space, with `fixed`, holds at its defaults (`held_axes`)."""
    definition = load_definition(spec)
    if fixed:
        definition = fix(definition, {k: coerce_value(k, v) for k, v in fixed.items()})
    return held_axes(definition, searched)


class _Presets(Mapping[str, dict[str, Any]]):
    """name -> full configuration, read lazily from spaces/presets.yaml."""

    def __getitem__(self, name: str) -> dict[str, Any]:
        return get_preset(name)

    def __iter__(self):
        return iter(preset_names())

    def __len__(self) -> int:
        return len(preset_names())


PRESETS: Mapping[str, dict[str, Any]] = _Presets()
