"""Before a run resumes a results directory: are its files what a run writes?

A file that is damaged (garbage bytes, YAML that does not parse, a table whose rows do not fit
its header) is one `OutputError` line naming it, before anything is changed or trained, instead
of a traceback from whichever reader meets it first. A last line without its newline is not
damage: it is what a killed run leaves, and the store drops it when it opens the directory.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml

from metasparse.errors import OutputError
from metasparse.results._schema import (
    INCUMBENT,
    INSTANCES,
    REFERENCE,
    SCENARIO,
    TRAJECTORY,
    TRIALS,
)

__all__ = ["check_resumable"]

_YAML_FILES = (SCENARIO, INCUMBENT, REFERENCE)
_TABLES = (TRIALS, INSTANCES, TRAJECTORY)


def check_resumable(directory: str | Path) -> None:
    """Raise OutputError when a file of the results directory `directory` is damaged."""
    directory = Path(directory)
    for name in _YAML_FILES:
        path = directory / name
        if path.is_file():
            _check(path, _yaml_problem(_text(path)))
    for name in _TABLES:
        path = directory / name
        if path.is_file():
            _check(path, _table_problem(_text(path)))


def _text(path: Path) -> str | None:
    """The complete lines of a file, or None when they are not UTF-8 text."""
    data = path.read_bytes()
    if path.suffix == ".csv":
        data = data[:data.rfind(b"\n") + 1]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _check(path: Path, problem: str | None) -> None:
    if problem is not None:
        raise OutputError(
            f"{str(path)!r} is damaged ({problem}), so the run in {str(path.parent)!r} cannot be "
            "resumed: restore or remove that file, or pick another --output")


def _yaml_problem(text: str | None) -> str | None:
    if text is None:
        return "not UTF-8 text"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return "not valid YAML" + (f" at line {mark.line + 1}" if mark else "")
    return None if isinstance(data, dict) else f"a {type(data).__name__}, not a mapping"


def _table_problem(text: str | None) -> str | None:
    if text is None:
        return "not UTF-8 text"
    if not text:
        return None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return f"not a CSV table: {exc}"
    header = rows[0]
    if not header or header[0] != "trial_id":
        return f"its header starts with {header[:1]}, not ['trial_id']"
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            return f"row {number} has {len(row)} fields, the header {len(header)}"
        if not row[0].isdigit():
            return f"row {number} has the trial id {row[0][:20]!r}"
    return None
