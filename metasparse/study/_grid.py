"""A resumable grid of training runs: one CSV row per finished run, keyed by its settings.

Rerunning skips every run whose key is already in the CSV (a metasparse.results.JobTable), so an
interrupted study continues where it stopped and a finished one costs nothing to rerun (the
report is rebuilt).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from metasparse.results import JobTable

Row = dict[str, Any]


def _key(settings: Mapping[str, Any]) -> str:
    return json.dumps(settings, sort_keys=True, default=str)


def run_grid(
    path: Path,
    points: Iterable[Mapping[str, Any]],
    run: Callable[[Mapping[str, Any]], list[Row]],
    *,
    description: str,
    progress: bool = True,
) -> pd.DataFrame:
    """Run `run(point)` for every point not yet in `path`; append its rows; return all rows."""
    table = JobTable(path, key="key", line_end="\r\n")
    keyed = {_key(p): p for p in points}
    done = table.keys()
    todo = [(key, p) for key, p in keyed.items() if key not in done]
    bar = tqdm(total=len(keyed), initial=len(keyed) - len(todo), desc=description,
               unit="run", disable=not progress)
    for key, point in todo:
        table.append([{"key": key, **point, **row} for row in run(point)])
        bar.update(1)
    bar.close()
    frame = table.frame()
    return frame[frame["key"].isin(keyed)].reset_index(drop=True) if len(frame) else frame
