"""What the dashboard knows of its results directories, read through metasparse.results and
metasparse.analysis, and cached by trial count, so that a new trial (a new row of trials.csv)
invalidates exactly the analyses of its run. The dashboard writes nothing.

trials.csv and trial_instances.csv grow by appended rows while a run goes on, to gigabytes in a
long one: each request parses only the lines appended since the last (TableFile), and a run
holds a bounded number of trials (TrialsFile: the best, the latest and an evenly spaced sample),
so that memory stays bounded whatever the size of the files."""

from __future__ import annotations

import csv
import io
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from metasparse.analysis import Results, results_from_tables
from metasparse.errors import MetasparseError
from metasparse.results import (
    INCUMBENT,
    INSTANCES,
    TRAJECTORY,
    TRIALS,
    JobTable,
    read_yaml,
)

__all__ = ["RunStore", "Unreadable", "discover_runs"]

log = logging.getLogger("metasparse.dashboard")

MAX_TRIALS = 20_000  # the trials of a run held in memory (and drawn) at most
BLOCK_BYTES = 8 << 20  # parsed at a time


def discover_runs(paths: Sequence[str | Path]) -> list[Path]:
    """The results directories (those holding trials.csv) at or under each path, resolved."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise MetasparseError(f"results directory {str(path)!r} does not exist")
        if not path.is_dir():
            raise MetasparseError(f"{str(path)!r} is not a directory; give results "
                                  "directories of `metasparse optimize` (or folders holding them)")
        runs = [path] if (path / TRIALS).is_file() else \
            sorted(p.parent for p in path.rglob(TRIALS))
        found += [run.resolve() for run in runs]
    if not found:
        raise MetasparseError(f"no results directory (a folder with {TRIALS}) under "
                              + ", ".join(repr(str(p)) for p in paths))
    return list(dict.fromkeys(found))


class Unreadable(str):
    """Why a run or an analysis of it cannot be shown (a one-line message)."""


class TableFile:
    """An append-only table of a results directory (a JobTable) read incrementally.

    `read` parses only the complete lines appended since the last read (a torn last line, a row
    being written, waits for the next one), BLOCK_BYTES at a time; a table that shrank, was
    replaced or whose header changed is read again from the start. The rows are strings, indexed
    by their position in the table; `add` chooses the ones held, `columns` the columns (all by
    default). A row that cannot be parsed stops the reading there, with `error` saying why.
    """

    def __init__(self, path: Path, columns: Sequence[str] | None = None) -> None:
        self.path = path
        self.columns = None if columns is None else set(columns)
        self._lock = threading.Lock()
        self._reset(b"")

    def _reset(self, header_line: bytes) -> None:
        self.header = next(csv.reader([header_line.decode()]), [])
        self._header_line = header_line
        self.offset = len(header_line)  # where the next row starts
        self.total = 0  # the rows parsed so far
        self.rows = pd.DataFrame(columns=[c for c in self.header if self._wanted(c)], dtype=str)
        self.error: str | None = None
        self._seen: tuple[int, int, int] | None = None  # inode, size and mtime when last read

    def _wanted(self, column: str) -> bool:
        return self.columns is None or column in self.columns

    def read(self) -> int:
        """Parse the rows appended since the last read; returns the bytes parsed."""
        with self._lock:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                self._reset(b"")
                return 0
            seen = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if seen == self._seen:
                return 0
            with self.path.open("rb") as handle:
                header_line = handle.readline()
                if not header_line.endswith(b"\n"):
                    header_line = b""  # no header yet, or one being written
                if header_line != self._header_line or stat.st_size < self.offset or \
                        (self._seen is not None and self._seen[0] != stat.st_ino):
                    self._reset(header_line)
                parsed = self._parse(handle) if header_line and self.error is None else 0
            if parsed:
                self.rows = self.held()
            self._seen = seen
            return parsed

    def _parse(self, handle: io.BufferedReader) -> int:
        parsed = 0
        while True:
            handle.seek(self.offset)
            block = handle.read(BLOCK_BYTES)
            end = block.rfind(b"\n") + 1
            if end == 0:
                return parsed
            try:
                frame = pd.read_csv(io.BytesIO(block[:end]), header=None, names=self.header,
                                    usecols=self._wanted, index_col=False, dtype=str,
                                    keep_default_na=False)
            except ValueError as exc:  # a malformed row, or bytes that are not UTF-8
                self.error = (f"{str(self.path)!r}: the rows after the first {self.total} "
                              f"cannot be read: {exc}")
                return parsed
            frame.index = pd.RangeIndex(self.total, self.total + len(frame))
            self.total += len(frame)
            self.add(frame)
            self.offset += end
            parsed += end

    def add(self, new: pd.DataFrame) -> None:
        """Take in the rows just parsed (holding some of them)."""
        raise NotImplementedError

    def held(self) -> pd.DataFrame:
        """The rows held, in the order of the table."""
        raise NotImplementedError


class TrialsFile(TableFile):
    """trials.csv holding at most `limit` trials: the best half by each cost (the objectives
    share it), the latest quarter and an evenly spaced sample of the rest (every `stride`-th
    row; the stride doubles whenever the sample outgrows its quarter)."""

    def __init__(self, path: Path, limit: int = MAX_TRIALS) -> None:
        self.limit = limit
        super().__init__(path)

    def _reset(self, header_line: bytes) -> None:
        super()._reset(header_line)
        self.stride = 1
        self._best = self._latest = self._sample = self.rows

    def add(self, new: pd.DataFrame) -> None:
        costs = [c for c in new.columns if c == "cost" or c.startswith("cost_")]
        pool = pd.concat([self._best, new])
        best = set()
        for cost in costs:
            values = pd.to_numeric(pool[cost], errors="coerce")
            best |= set(values.nsmallest(self.limit // 2 // len(costs)).index)
        self._best = pool.loc[sorted(best)]
        self._latest = pd.concat([self._latest, new]).tail(self.limit // 4)
        self._sample = pd.concat([self._sample, new[new.index % self.stride == 0]])
        while len(self._sample) > self.limit - self.limit // 2 - self.limit // 4:
            self.stride *= 2
            self._sample = self._sample[self._sample.index % self.stride == 0]

    def held(self) -> pd.DataFrame:
        rows = pd.concat([self._best, self._latest, self._sample])
        return rows[~rows.index.duplicated()].sort_index()

    def summary(self) -> str:
        """How many trials are shown, and which (when not all)."""
        if len(self.rows) == self.total:
            return f"{self.total} trials"
        return (f"showing {len(self.rows):,} of {self.total:,} trials (the dashboard holds "
                f"{self.limit:,} of a run at most): the best {len(self._best):,} by cost, the "
                f"latest {len(self._latest):,} and an evenly spaced sample (one trial in "
                f"{self.stride:,})")


class InstancesFile(TableFile):
    """trial_instances.csv holding the rows of the trials in `trial_ids` (the incumbent's, which
    the per-instance page shows); other ids read it again from the start."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, columns=["trial_id", "instance", "status", "cost"])
        self.trial_ids: set[str] = set()

    def read_for(self, trial_ids: set[str]) -> pd.DataFrame:
        with self._lock:
            if trial_ids != self.trial_ids:
                self.trial_ids = trial_ids
                self._reset(b"")
        self.read()
        return self.rows

    def add(self, new: pd.DataFrame) -> None:
        self.rows = pd.concat([self.rows, new[new["trial_id"].isin(self.trial_ids)]])

    def held(self) -> pd.DataFrame:
        return self.rows


class RunStore:
    """The results directories of one dashboard, their trials and cached analyses."""

    def __init__(self, directories: Sequence[Path], paths: Sequence[str | Path] = (),
                 max_trials: int = MAX_TRIALS) -> None:
        self.directories = list(directories)
        self.paths = list(paths)
        self.max_trials = max_trials
        self._trials: dict[Path, TrialsFile] = {}
        self._instances: dict[Path, InstancesFile] = {}
        self._cache: dict[tuple[int, str], tuple[Any, Any]] = {}  # (run, name): (state, value)
        self._lock = threading.Lock()

    @classmethod
    def discover(cls, paths: Sequence[str | Path]) -> RunStore:
        """The runs at or under `paths`; `refresh` finds the ones that start later."""
        return cls(discover_runs(paths), paths)

    def refresh(self) -> bool:
        """Add the runs that appeared under the store's paths since (at the end, so that the
        index of a run never changes); True when there are new ones."""
        try:
            found = discover_runs(self.paths) if self.paths else []
        except MetasparseError:  # a path removed meanwhile: keep what was there
            return False
        new = [d for d in found if d not in self.directories]
        with self._lock:
            self.directories += new
        return bool(new)

    def trials(self, index: int) -> TrialsFile:
        """The trials.csv of run `index`, read up to its last complete line."""
        directory = self.directories[index]
        with self._lock:
            if directory not in self._trials:
                self._trials[directory] = TrialsFile(directory / TRIALS, self.max_trials)
            table = self._trials[directory]
        table.read()
        return table

    def counts(self) -> list[int]:
        """The number of finished trials of each run (rows of trials.csv; a torn last line
        that a run is writing is no trial yet)."""
        return [self.trials(k).total for k in range(len(self.directories))]

    def results(self, index: int) -> Results | Unreadable:
        return self.cached(index, "results", lambda: self._load(index))

    def _load(self, index: int) -> Results:
        """The run as metasparse.analysis.load_results reads it, from the trials held."""
        directory = self.directories[index]
        table = self.trials(index)
        if table.error:
            raise MetasparseError(table.error)
        incumbent = read_yaml(directory / INCUMBENT) or None
        ids = {str(t) for t in incumbent.get("trial_ids", [incumbent.get("trial_id")])} \
            if incumbent else set()
        with self._lock:
            if directory not in self._instances:
                self._instances[directory] = InstancesFile(directory / INSTANCES)
            instances = self._instances[directory]
        trajectory = JobTable(directory / TRAJECTORY).frame(dtype=str, keep_default_na=False)
        return results_from_tables(directory, table.rows.reset_index(drop=True),
                                   instances.read_for(ids), trajectory)

    def cached(self, index: int, name: str, compute: Callable[[], Any]) -> Any:
        """`compute()` once per run, analysis and trial count (or error reading trials.csv); a
        MetasparseError (or another failure, logged with its traceback) becomes an Unreadable
        message."""
        table = self.trials(index)
        state = (table.total, table.error)
        with self._lock:
            if self._cache.get((index, name), (None, None))[0] == state:
                return self._cache[index, name][1]
        try:
            value = compute()
        except MetasparseError as exc:
            value = Unreadable(str(exc))
        except Exception as exc:  # shown as one line; the traceback goes to the server's log
            log.exception("%s of %s failed", name, self.directories[index])
            value = Unreadable(f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._cache[index, name] = (state, value)
        return value
