"""A resumable grid of training runs: one CSV row per finished run, keyed by its settings.

Rerunning skips every run whose key is already in the CSV (a metasparse.results.JobTable), so an
interrupted study continues where it stopped and a finished one costs nothing to rerun (the
report is rebuilt). A point's `unkeyed` fields are recorded but are not part of its key: what a
run is made of (a preset's full configuration, which grows when the space gains a parameter),
not which run it is. With a `parallel` grid (study._parallel.RayGrid) the runs are tasks on a
Ray cluster and their rows are appended as they finish; the frame returned is in the points'
order either way, so what is computed from it does not depend on which run finished first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from metasparse.results import JobTable

Row = dict[str, Any]


def grid_key(point: Mapping[str, Any], unkeyed: Sequence[str] = ()) -> str:
    return json.dumps({k: v for k, v in point.items() if k not in unkeyed}, sort_keys=True,
                      default=str)


def run_grid(
    path: Path,
    points: Iterable[Mapping[str, Any]],
    run: Callable[[Mapping[str, Any]], list[Row]],
    *,
    description: str,
    progress: bool = True,
    unkeyed: Sequence[str] = (),
    parallel: Any = None,
) -> pd.DataFrame:
    """Run `run(point)` for every point not yet in `path`; append its rows; return the rows of
    `points`, in their order (whatever order the runs finished in)."""
    table = JobTable(path, key="key", line_end="\r\n")
    keyed = {grid_key(p, unkeyed): p for p in points}
    done = table.keys()
    todo = [(key, p) for key, p in keyed.items() if key not in done]
    bar = tqdm(total=len(keyed), initial=len(keyed) - len(todo), desc=description,
               unit="run", disable=not progress)
    finished = parallel.map(run, [p for _, p in todo]) if parallel is not None and todo else \
        ((i, run(p)) for i, (_, p) in enumerate(todo))
    try:
        for i, rows in finished:
            key, point = todo[i]
            table.append([{"key": key, **point, **row} for row in rows])
            bar.update(1)
    finally:
        finished.close()  # a parallel grid cancels what still runs
        bar.close()
    frame = table.frame()
    if not len(frame):
        return frame
    order = {key: i for i, key in enumerate(keyed)}
    frame = frame[frame["key"].isin(keyed)]
    return frame.sort_values("key", key=lambda keys: keys.map(order), kind="stable") \
        .reset_index(drop=True)
