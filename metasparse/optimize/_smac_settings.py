"""The settings of the SMAC backend (`_smac.py`), without importing SMAC."""

from __future__ import annotations

from typing import Literal

from metasparse.optimize._backends import Backend, register_backend


@register_backend
class SmacBackend(Backend):
    """SMAC 2.4; `facade`: hpo (one trial evaluates every instance and seed), mf (Hyperband over
    epochs), ac (SMAC picks the instance of each trial), bb (Gaussian process)."""

    adapter = "metasparse.optimize._smac"
    name: Literal["smac"] = "smac"
    facade: Literal["ac", "bb", "hpo", "mf"] = "hpo"

    def settle(self, multi_objective: bool) -> None:
        if multi_objective and self.facade in ("mf", "bb"):
            raise ValueError("backend.facade must be one of ['ac', 'hpo'] with two objectives "
                             "(SMAC's multi-objective support; mf fails, SMAC3 #1050); "
                             f"got {self.facade!r}")
