"""What the dashboard knows of its results directories: read through metasparse.analysis and
metasparse.results on every poll, and cached by trial count, so that a new trial (a new row of
trials.csv) invalidates exactly the analyses of its run. The dashboard writes nothing."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from metasparse.analysis import Results, load_results
from metasparse.errors import MetasparseError
from metasparse.results import TRIALS, read_rows

__all__ = ["RunStore", "Unreadable", "discover_runs"]

log = logging.getLogger("metasparse.dashboard")


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


class RunStore:
    """The results directories of one dashboard, their trial counts and cached analyses."""

    def __init__(self, directories: Sequence[Path],
                 paths: Sequence[str | Path] = ()) -> None:
        self.directories = list(directories)
        self.paths = list(paths)
        self._cache: dict[tuple[int, int, str], Any] = {}
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

    def counts(self) -> list[int]:
        """The number of finished trials of each run (rows of trials.csv; a torn last line
        that a run is writing is no trial yet)."""
        return [len(read_rows(d / TRIALS)) for d in self.directories]

    def rows(self, index: int) -> list[dict[str, str]]:
        return read_rows(self.directories[index] / TRIALS)

    def results(self, index: int) -> Results | Unreadable:
        return self.cached(index, "results", lambda: load_results(self.directories[index]))

    def cached(self, index: int, name: str, compute: Callable[[], Any]) -> Any:
        """`compute()` once per run, analysis and trial count; a MetasparseError (or another
        failure, logged with its traceback) becomes an Unreadable message."""
        key = (index, len(self.rows(index)), name)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        try:
            value = compute()
        except MetasparseError as exc:
            value = Unreadable(str(exc))
        except Exception as exc:  # shown as one line; the traceback goes to the server's log
            log.exception("%s of %s failed", name, self.directories[index])
            value = Unreadable(f"{type(exc).__name__}: {exc}")
        with self._lock:
            stale = [k for k in self._cache if k[0] == index and k[2] == name and k != key]
            for k in stale:
                del self._cache[k]
            self._cache[key] = value
        return value
