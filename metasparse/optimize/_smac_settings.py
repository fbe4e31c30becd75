"""The settings of the SMAC backend (`_smac.py`), without importing SMAC."""

from __future__ import annotations

from typing import Literal

from metasparse.optimize._backends import Backend, register_backend

MAX_RATIO = 0.25  # SMAC's facades' default: their own design takes at most this share of n_trials


@register_backend
class SmacBackend(Backend):
    """SMAC 2.4; `facade`: hpo (one trial evaluates every instance and seed), mf (Hyperband over
    epochs), ac (SMAC picks the instance of each trial), bb (Gaussian process)."""

    adapter = "metasparse.optimize._smac"
    name: Literal["smac"] = "smac"
    facade: Literal["ac", "bb", "hpo", "mf"] = "hpo"

    def settle(self, multi_objective: bool, per_epoch: bool = True) -> None:
        if multi_objective and self.facade in ("mf", "bb"):
            raise ValueError("backend.facade must be one of ['ac', 'hpo'] with two objectives "
                             "(SMAC's multi-objective support; mf fails, SMAC3 #1050); "
                             f"got {self.facade!r}")

    def warm_start_limit(self, n_trials: int | None) -> int | None:
        """SMAC refuses an initial design larger than n_trials and keeps at least one
        configuration of its own (at most MAX_RATIO of n_trials) beside the warm start."""
        if n_trials is None:
            return None
        return max(0, n_trials - max(1, int(MAX_RATIO * n_trials)))
