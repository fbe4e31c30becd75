"""The settings of random search (`_random.py`): the shared ones only (`seed`)."""

from __future__ import annotations

from typing import Literal

from metasparse.optimize._backends import Backend, register_backend


@register_backend
class RandomBackend(Backend):
    """Random search: trial k evaluates the k-th configuration drawn with `seed`."""

    adapter = "metasparse.optimize._random"
    name: Literal["random"] = "random"
