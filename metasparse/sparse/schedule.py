"""When the topology changes, how many connections move, and the density over time.

Steps are counted after the optimizer step (the first step is 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from metasparse._registry import Registry

DECAYS: Registry = Registry("zeta_decay")

GRADUAL_END = 0.5  # a gradual schedule reaches the target density halfway through (GraNet)


@DECAYS.register("constant")
def constant_decay(progress: float) -> float:
    return 1.0


@DECAYS.register("cosine")
def cosine_decay(progress: float) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * progress))


@DECAYS.register("linear")
def linear_decay(progress: float) -> float:
    return 1.0 - progress


@dataclass(frozen=True)
class UpdateSchedule:
    """Topology updates until `t_end` of training: every `delta_t` steps (`steps`), at each
    epoch end (`epoch`), or `updates_per_run` times evenly spread (`run`: as many updates on a
    small dataset as on a large one; min(updates_per_run, steps) where steps are fewer)."""

    update_every: str
    delta_t: int
    zeta: float
    zeta_decay: str
    t_end: float
    steps_per_epoch: int
    total_steps: int
    updates_per_run: int = 0

    @property
    def last_step(self) -> float:
        return self.t_end * self.total_steps

    def is_update(self, step: int) -> bool:
        if self.update_every == "never" or step > self.last_step or step >= self.total_steps:
            return False
        if self.update_every == "run":
            # the k-th of (n + 1) equal parts of [0, last_step] ends at an update, k = 1..n
            parts = self.updates_per_run + 1
            part = math.floor(step * parts / self.last_step)
            return part <= self.updates_per_run \
                and part > math.floor((step - 1) * parts / self.last_step)
        period = self.delta_t if self.update_every == "steps" else self.steps_per_epoch
        return step % period == 0

    def fraction(self, step: int) -> float:
        """The fraction of a layer's active connections moved at this step (zeta decayed)."""
        progress = min(1.0, step / max(self.last_step, 1.0))
        return self.zeta * DECAYS[self.zeta_decay](progress)


@dataclass(frozen=True)
class SparsitySchedule:
    """Target density over training: constant, or cubic from `initial_density` (Zhu & Gupta)."""

    kind: str
    density: float
    initial_density: float
    total_steps: int

    def density_at(self, step: int) -> float:
        if self.kind == "constant":
            return self.density
        progress = min(1.0, step / max(GRADUAL_END * self.total_steps, 1.0))
        return self.density + (self.initial_density - self.density) * (1.0 - progress) ** 3

    @property
    def start(self) -> float:
        return self.density_at(0)
