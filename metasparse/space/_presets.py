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


RELATIVE = "-relative"  # `<name>-relative`: a preset's relative form


def preset_names(relative: bool = False) -> list[str]:
    """The published presets; with `relative`, each followed by its relative form if it has
    one (a preset whose topology changes: see spaces/presets.yaml)."""
    return [form for name in _presets_file()
            for form in (preset_forms(name) if relative else [name])]


def preset_info(name: str) -> dict[str, Any]:
    """The preset's paper, source and note, and its partial configuration. The relative form
    `<name>-relative` is `<name>` with `updates_per_run` updates (its `relative` entry) in place
    of its published interval in steps or epochs."""
    base = name.removesuffix(RELATIVE)
    info = copy.deepcopy(_presets_file().get(base))
    if info is None or (name != base and "relative" not in info):
        raise ConfigError(invalid_choice("preset", preset_names(relative=True), name))
    if name == base:
        info.pop("relative", None)
        return info
    relative = info.pop("relative")
    info["note"] = (f"the relative form of {base}: {relative['updates_per_run']} topology "
                    f"updates spread over its t_end of training whatever the dataset's size, as "
                    f"many as its paper's ({relative['figure']}; {relative['source']})."
                    + (f" {base}'s note: {info['note']}" if info.get("note") else ""))
    config = {k: v for k, v in info["config"].items() if k != "delta_t"}
    info["config"] = {**config, "update_every": "run",
                      "updates_per_run": relative["updates_per_run"]}
    return info


def preset_forms(name: str) -> list[str]:
    """A preset's published form, then its relative form where it has one."""
    relative = relative_form(name)
    return [name, relative] if relative else [name]


def relative_form(name: str) -> str | None:
    """The name of a preset's relative form, or None where its topology never changes."""
    return name + RELATIVE if "relative" in _presets_file().get(name, {}) else None


def schedule_text(config: Mapping[str, Any]) -> str:
    """A configuration's topology schedule in words (`every 100 steps`, `every epoch`, `250
    updates per run`, `never`), its t_end aside."""
    every = config.get("update_every", "never")
    if every == "steps":
        return f"every {int(config['delta_t'])} steps"
    if every == "run":
        return f"{int(config['updates_per_run'])} updates per run"
    return "every epoch" if every == "epoch" else "never"


def relative_hint(name: str) -> str:
    """For a preset whose schedule never fired: where to look instead ('' without a relative
    form)."""
    relative = relative_form(name)
    return f"{relative} updates as often, relative to training, as in its paper" \
        if relative else ""


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
