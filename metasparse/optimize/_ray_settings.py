"""The settings of the Ray Tune backend (`_ray.py`), without importing Ray."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from metasparse.optimize._backends import Backend, register_backend


@register_backend
class RayBackend(Backend):
    """Ray Tune on a cluster (`address`: auto, host:port or ray://host:port; else $RAY_ADDRESS,
    else a local instance on 127.0.0.1); `max_concurrent` trials at a time (else n_workers);
    `search` optuna or random; `scheduler` asha (by default with one objective) or none;
    `max_failures` retries of a trial whose worker died."""

    adapter = "metasparse.optimize._ray"
    name: Literal["ray"] = "ray"
    address: str | None = None
    cpus_per_trial: float = Field(default=1.0, gt=0)
    gpus_per_trial: float = Field(default=0.0, ge=0)
    max_concurrent: int | None = Field(default=None, ge=1)
    search: Literal["optuna", "random"] = "optuna"
    scheduler: Literal["asha", "none"] | None = None
    max_failures: int = Field(default=2, ge=0)

    def settle(self, multi_objective: bool, per_epoch: bool = True) -> None:
        self._settle_stopper("scheduler", "asha", multi_objective, per_epoch,
                             "ASHA stops trials on one metric")
