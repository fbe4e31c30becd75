"""A study's grid cells as Ray tasks: a local Ray instance on 127.0.0.1 with `workers` CPUs, or
an existing cluster at `address` (every CPU it has). Ray starts at the first cell, so a finished
study rerun starts none.

Each cell is one task of one CPU, run in the driver's working directory (a cluster's nodes need
the same paths: a shared filesystem) with the driver's PYTHONHASHSEED (SMAC's and ConfigSpace's
choices follow set order) and METASPARSE_DATA_DIR, and one torch thread, so a cell trains the
same on a worker as in the study's own process: a parallel study writes the rows a serial one
writes, in the order the cells finish. The driver appends each cell's rows as it collects it;
an interrupt cancels the cells still running, whose run directories resume on the next run. A
cell that raises stops the study with its own error (the other cells are cancelled).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

Row = dict[str, Any]
_FORWARDED = ("PYTHONHASHSEED", "METASPARSE_DATA_DIR")  # environment the cells need


class RayGrid:
    """`map(run, points)` yields (index, rows) as the cells finish on the cluster."""

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        self.workers, self.address = workers, address
        self._started = False

    def __enter__(self) -> RayGrid:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def map(self, run: Callable[[Any], list[Row]], points: Sequence[Any]
            ) -> Iterator[tuple[int, list[Row]]]:
        from metasparse.optimize import connect_ray

        # first: it settles Ray's token authentication, which must precede importing Ray
        self._started |= connect_ray(self.address,
                                     num_cpus=None if self.address else self.workers)
        import ray
        from ray.exceptions import RayTaskError

        env = {k: os.environ[k] for k in _FORWARDED if k in os.environ}
        env.setdefault("PYTHONHASHSEED", "0")
        env["OMP_NUM_THREADS"] = "1"
        task = ray.remote(num_cpus=1, max_retries=0)(_cell).options(
            runtime_env={"env_vars": env})
        cwd = os.getcwd()
        pending = {task.remote(run, point, cwd): i for i, point in enumerate(points)}
        try:
            while pending:
                (done,), _ = ray.wait(list(pending), num_returns=1)
                index = pending.pop(done)
                try:
                    rows = ray.get(done)
                except RayTaskError as exc:  # the cell's own error, not Ray's wrapper
                    raise exc.cause if isinstance(exc.cause, Exception) else exc from None
                yield index, rows
        finally:
            for ref in pending:  # interrupted or failed: the cells still running stop
                ray.cancel(ref, force=True)


def _cell(run: Callable[[Any], list[Row]], point: Any, cwd: str) -> list[Row]:
    import torch

    os.chdir(cwd)
    torch.set_num_threads(1)
    return run(point)
