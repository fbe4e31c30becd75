"""A resumable grid of training runs: one CSV row per finished run, keyed by its settings.

Rerunning skips every run whose key is already in the CSV, so an interrupted study continues
where it stopped and a finished one costs nothing to rerun (the report is rebuilt).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

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
    keyed = {_key(p): p for p in points}
    done = set()
    if path.exists() and path.stat().st_size:
        done = set(pd.read_csv(path, usecols=["key"])["key"])
    todo = [(key, p) for key, p in keyed.items() if key not in done]
    bar = tqdm(total=len(keyed), initial=len(keyed) - len(todo), desc=description,
               unit="run", disable=not progress)
    for key, point in todo:
        _append(path, [{"key": key, **point, **row} for row in run(point)])
        bar.update(1)
    bar.close()
    frame = pd.read_csv(path) if path.exists() else pd.DataFrame()
    return frame[frame["key"].isin(keyed)].reset_index(drop=True) if len(frame) else frame


def _append(path: Path, rows: list[Row]) -> None:
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    header = [] if new else list(pd.read_csv(path, nrows=0).columns)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    if not new and set(keys) - set(header):  # a column appears: rewrite once with it
        frame = pd.concat([pd.read_csv(path), pd.DataFrame(rows)], ignore_index=True)
        frame.to_csv(path, index=False)
        return
    header = header or keys
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)  # no extra keys: rewritten above
        if new:
            writer.writeheader()
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())
