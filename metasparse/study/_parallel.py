"""A study's grid cells as Ray tasks: a local Ray instance on 127.0.0.1 with `workers` CPUs, or
an existing cluster at `address` (every CPU it has).

Each cell is one task of one CPU, in a worker whose PYTHONHASHSEED is the driver's (SMAC's and
ConfigSpace's choices follow set order) and whose torch uses one thread, so a cell trains the
same on a worker as in the study's own process: a parallel study gives the rows a serial one
gives, in the order the cells finish. The driver appends each cell's rows as it finishes, so an
interrupted parallel study loses only the cells in flight.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

Row = dict[str, Any]


class RayGrid:
    """`map(run, points)` yields (index, rows) as the cells finish on the cluster."""

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        self.workers, self.address = workers, address
        self._started = False

    def __enter__(self) -> RayGrid:
        from metasparse.optimize._ray import connect

        env = {"PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0"), "OMP_NUM_THREADS": "1"}
        self._started = connect(self.address, num_cpus=None if self.address else self.workers,
                                runtime_env={"env_vars": env})
        return self

    def __exit__(self, *exc: object) -> None:
        import ray

        if self._started:
            ray.shutdown()

    def map(self, run: Callable[[Any], list[Row]], points: Sequence[Any]
            ) -> Iterator[tuple[int, list[Row]]]:
        import ray

        task = ray.remote(num_cpus=1, max_retries=0)(_cell)
        pending = {task.remote(run, point): i for i, point in enumerate(points)}
        try:
            while pending:
                (done,), _ = ray.wait(list(pending), num_returns=1)
                yield pending.pop(done), ray.get(done)
        finally:
            for ref in pending:  # interrupted: the cells in flight stop
                ray.cancel(ref, force=True)


def _cell(run: Callable[[Any], list[Row]], point: Any) -> list[Row]:
    import torch

    torch.set_num_threads(1)
    return run(point)
