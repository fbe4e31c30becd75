"""The settings of the Optuna backend (`_optuna.py`), without importing Optuna."""

from __future__ import annotations

from typing import Literal

from metasparse.optimize._backends import Backend, register_backend


@register_backend
class OptunaBackend(Backend):
    """Optuna; `sampler`: tpe, gp or nsga2; `pruner`: hyperband (per-epoch validation error) or
    none, by default hyperband with one objective and none with two."""

    adapter = "metasparse.optimize._optuna"
    name: Literal["optuna"] = "optuna"
    sampler: Literal["gp", "nsga2", "tpe"] = "tpe"
    pruner: Literal["hyperband", "none"] | None = None

    def settle(self, multi_objective: bool, per_epoch: bool = True) -> None:
        self._settle_stopper("pruner", "hyperband", multi_objective, per_epoch,
                             "Optuna cannot prune multi-objective trials")
