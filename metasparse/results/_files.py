"""Writing a results directory safely: atomic replacement of derived files, and the append-only
job tables (trials.csv, a study's runs.csv) that a killed process may leave with a torn last line.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from metasparse.errors import MetasparseError

__all__ = ["JobTable", "csv_text", "read_rows", "read_yaml", "write_atomic"]


def write_atomic(path: str | Path, text: str) -> None:
    """Replace `path` by `text` in one step: a reader sees the old file or the new one (and a
    write that fails, the disk full say, leaves the old one and no temporary file)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def read_yaml(path: str | Path, required: bool = False) -> dict[str, Any]:
    """A YAML mapping ({} when the file is absent, unless `required`); one-line errors."""
    path = Path(path)
    if not path.is_file():
        if required:
            raise MetasparseError(f"{str(path)!r} is missing: is {str(path.parent)!r} a "
                                  "results directory of `metasparse optimize`?")
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise MetasparseError(f"{str(path)!r} is not valid YAML: "
                              f"{' '.join(str(exc).split())}") from None
    return data if isinstance(data, dict) else {}


def csv_text(columns: Sequence[str], rows: Sequence[Mapping[str, Any]],
             line_end: str = "\n") -> str:
    """A header and rows as CSV text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator=line_end)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _intact(path: Path) -> str:
    """The text of the file up to its last newline: a last line without one is a write that a
    killed process left unfinished, not a row."""
    if not path.is_file():
        return ""
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].decode()


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV table as strings, without a torn last line."""
    return list(csv.DictReader(io.StringIO(_intact(Path(path)), newline="")))


class JobTable:
    """An append-only CSV of keyed rows: one row (or block of rows) per finished job.

    Rows are appended in one write, flushed and fsynced, so a job is finished when its rows
    are there. A last line without its newline (a process killed in the middle of a write) is
    no row: readers skip it and the next append drops it. Resuming is skipping the jobs whose
    key (the `key` column) is already present. A table with fixed `columns` refuses other
    headers; otherwise a new column rewrites the table once with it (atomically).
    """

    def __init__(self, path: str | Path, key: str = "key",
                 columns: Sequence[str] | None = None, line_end: str = "\n") -> None:
        self.path = Path(path)
        self.key = key
        self.columns = list(columns) if columns is not None else None
        self.line_end = line_end

    def header(self) -> list[str]:
        """The columns of the table as written ([] before the first row)."""
        return next(csv.reader(io.StringIO(_intact(self.path), newline="")), [])

    def rows(self) -> list[dict[str, str]]:
        return read_rows(self.path)

    def keys(self) -> set[str]:
        """The keys of the finished jobs."""
        return {row[self.key] for row in self.rows()}

    def frame(self, **read_csv: Any) -> Any:
        """The rows as a pandas DataFrame (`read_csv` options passed on; empty before the first
        row)."""
        import pandas as pd

        text = _intact(self.path)
        return pd.read_csv(io.StringIO(text), **read_csv) if text else pd.DataFrame()

    def repair(self) -> None:
        """Drop a torn last line from the file."""
        if self.path.is_file():
            size = len(_intact(self.path).encode())
            if size != self.path.stat().st_size:
                with self.path.open("r+b") as handle:
                    handle.truncate(size)

    def append(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append rows (after the header, in a new table) in one write, flushed to disk."""
        if not rows:
            return
        self.repair()
        header = self.header()
        columns = header or self.columns or list(dict.fromkeys(k for r in rows for k in r))
        new = list(dict.fromkeys(k for r in rows for k in r if k not in columns))
        if new:
            if self.columns is not None:
                raise ValueError(f"{self.path}: rows with columns {new} that the table lacks")
            write_atomic(self.path, csv_text([*columns, *new], [*self.rows(), *rows],
                                             self.line_end))
            return
        text = csv_text(columns, rows, self.line_end)
        if header:
            text = text.split(self.line_end, 1)[1]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
