"""Warm start: the configurations a run evaluates first, before its backend searches.

`warm_start: presets` starts from the published presets (`[name, ...]`: from those), each with
the scenario's fixed settings and restricted to its space; `warm_start: <results directory>`
from the best
configurations of an earlier run. A configuration that is not a point of the space (a value the
space fixes otherwise, a choice or range it excludes, a forbidden combination) is dropped with
its reason; both lists are written to the results directory (warm_start.yaml).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ConfigSpace import Configuration, ConfigurationSpace

from metasparse.errors import MetasparseError
from metasparse.optimize._configs import config_values, configuration_from_values
from metasparse.results import CONFIG_PREFIX, TRIALS, parse_value, read_trials
from metasparse.space import choices_of, kind_of

__all__ = ["PRESETS", "WarmStart", "check_warm_start", "warm_start"]

PRESETS = "presets"
BEST_OF_A_RUN = 5  # configurations taken from an earlier run: its best, one of each


@dataclass
class WarmStart:
    """The configurations to evaluate first (label -> active values of the space, in order)
    and those dropped (label -> why)."""

    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"configs": [{"label": k, "config": v} for k, v in self.configs.items()],
                "dropped": [{"label": k, "reason": v} for k, v in self.dropped.items()]}


def check_warm_start(value: str | list[str] | None) -> None:
    """Raise ValueError (one line) unless `value` is None, 'presets', a list of preset names or
    a results directory."""
    if isinstance(value, list):
        from metasparse.space import preset_names

        names = preset_names(relative=True)
        bad = next((v for v in value if v not in names), None)
        if bad is not None or not value:
            raise ValueError(f"warm_start must list preset names among {names}; "
                             f"got {bad if value else value!r}")
        return
    if value is None or value == PRESETS or (Path(value) / TRIALS).is_file():
        return
    raise ValueError(f"warm_start must be {PRESETS!r} or a results directory holding {TRIALS}; "
                     f"got {value!r}")


def warm_start(source: str | list[str] | None, space: ConfigurationSpace,
               fixed: Mapping[str, Any]) -> WarmStart:
    """The warm-start configurations of `source` (see the module) as points of `space`."""
    result = WarmStart()
    if source is None:
        return result
    for label, config in _candidates(source, fixed):
        try:
            result.configs[label] = restrict(config, space)
        except (MetasparseError, ValueError) as exc:
            result.dropped[label] = str(exc)
    return result


def _candidates(source: str | list[str],
                fixed: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    from metasparse.space import preset_config, preset_names, resolve_config

    if source == PRESETS or isinstance(source, list):
        names = preset_names() if source == PRESETS else source
        return [(name, preset_config(name, fixed)) for name in names]
    trials = read_trials(Path(source) / TRIALS)  # a damaged table is one line naming its line
    rows = [r for r in trials.to_dict("records") if r["status"] == "success"]
    seen, best = set(), []
    for row in sorted(rows, key=lambda r: (float(r["cost"]), int(r["trial_id"]))):
        values = {k[len(CONFIG_PREFIX):]: v for k, v in row.items()
                  if k.startswith(CONFIG_PREFIX) and v != ""}
        key = tuple(sorted(values.items()))
        if key in seen:
            continue
        seen.add(key)
        config = resolve_config({**{k: parse_value(v) for k, v in values.items()}, **fixed})
        best.append((f"{source} trial {row['trial_id']}", config))
        if len(best) == BEST_OF_A_RUN:
            break
    return best


def restrict(config: Mapping[str, Any], space: ConfigurationSpace) -> dict[str, Any]:
    """The active values of `space` that a full configuration takes; ValueError naming the
    first parameter whose value the space does not allow."""
    from metasparse.space import is_active

    values: dict[str, Any] = {}
    for name in space:  # parents before children
        if not is_active(space, name, values):
            continue
        hp, value, kind = space[name], config[name], kind_of(space[name])
        if kind == "constant":
            allowed = value == hp.value and type(value) is type(hp.value)
            where = f"the space fixes the {name!r} parameter at {hp.value!r}"
        elif kind != "float":
            options = choices_of(hp)
            allowed = any(value == o and type(value) is type(o) for o in options)
            where = f"the {name!r} parameter must be one of {list(options)} in the space"
        else:
            allowed = isinstance(value, int | float) and math.isfinite(value) \
                and hp.lower <= value <= hp.upper
            where = f"the {name!r} parameter must lie in [{hp.lower}, {hp.upper}] in the space"
        if not allowed:
            raise ValueError(f"{where}; got {value!r}")
        values[name] = value
    configuration: Configuration = configuration_from_values(space, values)
    return config_values(configuration)
