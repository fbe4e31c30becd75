"""Reading a table of a results directory (trials.csv above all) for a command that works on it:
validated first, so that a damaged file is one line naming it and its damaged line, before any
work, instead of a traceback or a silently dropped row in whichever step meets it.

A table is damaged where it is not UTF-8 text, holds a NUL byte, lacks a column that its writer
always writes, or has a row with another number of fields than its header or a cell that its
column cannot hold (trial ids are integers, seeds too or 'all' for a trial on several; costs,
budgets and metrics are numbers, a metric empty where a trial did not measure it; times are
ISO 8601). A last line without its newline is not damage: a killed run leaves it, and it is no
row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from metasparse.errors import MetasparseError
from metasparse.results._schema import METRIC_COLUMNS, trial_columns

__all__ = ["read_table", "read_trials"]

_REPAIR = "repair or remove the line"
_NUMBERS = ("budget", "elapsed_s", *METRIC_COLUMNS)  # and the cost columns
_TIMES = ("start_time", "end_time")


def read_trials(path: str | Path) -> pd.DataFrame:
    """trials.csv as strings, one row per finished trial; MetasparseError naming the file and
    its damaged line."""
    return read_table(path, trial_columns(1, []))


def read_table(path: str | Path, required: Sequence[str]) -> pd.DataFrame:
    """A table of a results directory as strings (empty when the file is absent), with the
    `required` columns; MetasparseError naming the file and its damaged line."""
    path = Path(path)
    data = path.read_bytes() if path.is_file() else b""
    data = data[:data.rfind(b"\n") + 1]  # a torn last line is no row
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _damaged(path, data.count(b"\n", 0, exc.start) + 1,
                       f"not UTF-8 text; {_REPAIR}") from None
    if "\0" in text:
        raise _damaged(path, text.count("\n", 0, text.index("\0")) + 1, f"a NUL byte; {_REPAIR}")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return pd.DataFrame()
    problem = next((f"no column {c!r}" for c in required if c not in header), None) \
        or next((f"the column {c!r} twice" for c in header if header.count(c) > 1), None)
    if problem:
        raise _damaged(path, 1, f"the header has {problem}: is it a {path.name} of a run?")
    rows, lines = [], []
    try:
        for row in reader:
            if len(row) != len(header):
                raise _damaged(path, reader.line_num,
                               f"{len(row)} fields, expected {len(header)}; {_REPAIR}")
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise _damaged(path, reader.line_num, f"{exc}; {_REPAIR}") from None
    frame = pd.DataFrame(rows, columns=header, index=lines, dtype=str)
    checks = {c: check for c in header if (check := _check(c, frame[c])) is not None}
    bad = pd.DataFrame({c: cells for c, (cells, _) in checks.items()}, index=frame.index)
    if bad.to_numpy().any():
        line = bad.any(axis=1).idxmax()  # the first damaged line, and its first bad cell
        column = bad.loc[line].idxmax()
        raise _damaged(path, line, f"{column} is {frame.at[line, column][:30]!r}, not "
                                   f"{checks[column][1]}; {_REPAIR}")
    return frame.reset_index(drop=True)


def _check(column: str, values: pd.Series) -> tuple[pd.Series, str] | None:
    """The cells of a column that it cannot hold, and what it holds (None: any text)."""
    if column == "trial_id":
        return ~values.str.fullmatch(r"\d+"), "an integer"
    if column == "seed":
        return ~values.str.fullmatch(r"\d+|all"), "an integer or 'all'"
    if column in _NUMBERS or column == "cost" or column.startswith("cost_"):
        bad = pd.to_numeric(values, errors="coerce").isna() \
            & ~values.str.fullmatch(r"[+-]?nan", case=False)
        return (bad & (values != "") if column in METRIC_COLUMNS else bad), "a number"
    if column in _TIMES:
        times = pd.to_datetime(values, format="ISO8601", errors="coerce", utc=True)
        return times.isna(), "an ISO 8601 time"
    return None


def _damaged(path: Path, line: int, problem: str) -> MetasparseError:
    return MetasparseError(f"{str(path)!r} line {line}: {problem}")
