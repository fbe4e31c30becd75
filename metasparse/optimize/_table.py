"""The tables of a results directory: their columns, time stamps, and safe appends."""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

METRIC_COLUMNS = ("val_error", "val_accuracy", "density", "train_flops", "inference_flops",
                  "topology_updates", "wall_time_s")
INSTANCE_COLUMNS = ("trial_id", "instance", "seed", "budget", "status", "cost", *METRIC_COLUMNS,
                    "start_time", "end_time", "error")
TRIALS = "trials.csv"
INSTANCES = "trial_instances.csv"


def cost_columns(n_objectives: int) -> list[str]:
    return ["cost", *(f"cost_{k}" for k in range(2, n_objectives + 1))]


def trial_columns(n_objectives: int, params: Sequence[str]) -> list[str]:
    return ["trial_id", "status", *cost_columns(n_objectives), "budget", "seed", "instance",
            *METRIC_COLUMNS, "start_time", "end_time", "error", *(f"config.{p}" for p in params)]


def iso_time(seconds: float) -> str:
    """Seconds since the epoch as ISO 8601 with the local offset."""
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="milliseconds")


def timestamp(text: str) -> float:
    """ISO 8601 back to seconds since the epoch."""
    return datetime.fromisoformat(text).timestamp()


def number(value: Any) -> str:
    if value is None:
        return ""
    value = float(value)
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def csv_text(columns: Sequence[str], rows: Sequence[Mapping[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def append(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, str]]) -> None:
    """Append rows (with the header first in a new file) in one write, flushed to disk."""
    text = csv_text(columns, rows)
    if path.is_file() and path.stat().st_size > 0:
        text = text.split("\n", 1)[1]
    if not text:
        return
    with path.open("a", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def truncate_partial_line(path: Path) -> None:
    """Drop a last line without its newline (a process killed in the middle of a write)."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
