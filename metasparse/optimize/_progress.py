"""The progress bar of a run: trials done, best cost so far, the incumbent's key choices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tqdm import tqdm

KEY_CHOICES = ("prune_score", "grow_score", "density")


def describe_choices(config: Mapping[str, Any]) -> str:
    """The key choices of `config` that are active (no grow score for a static topology);
    what `config` leaves out has the trainer's default."""
    from metasparse.space import active_config, default_config

    active = active_config({**default_config(), **config})
    parts = []
    for key in KEY_CHOICES:
        if key in active:
            value = active[key]
            parts.append(f"{key.split('_')[0]}={value:.3g}" if isinstance(value, float)
                         else f"{key.split('_')[0]}={value}")
    return " ".join(parts)


class Progress:
    """A tqdm bar (on stderr) that the session updates as trials finish."""

    def __init__(self, name: str, total: int | None, done: int, enabled: bool = True) -> None:
        self._bar = tqdm(total=total, initial=done, desc=name, unit="trial", disable=not enabled,
                         dynamic_ncols=True, leave=True)

    def update(self, done: int, incumbent: Mapping[str, Any] | None) -> None:
        self._bar.n = done
        if incumbent is not None:
            choices = describe_choices(incumbent.get("config", {}))
            self._bar.set_postfix_str(f"best={incumbent['cost']:.4f} {choices}", refresh=False)
        self._bar.refresh()

    def write(self, text: str) -> None:
        self._bar.write(text)

    def close(self) -> None:
        self._bar.close()
