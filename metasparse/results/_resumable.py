"""Before a run resumes a results directory: are its files what a run writes?

A file that is damaged (garbage bytes, YAML that does not parse, a table that `read_table`
refuses) is one error line naming it, before anything is changed or trained, instead of a
traceback from whichever reader meets it first. A last line without its newline is not damage: it
is what a killed run leaves, and the store drops it when it opens the directory.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from metasparse.errors import OutputError
from metasparse.results._schema import (
    INCUMBENT,
    INSTANCE_COLUMNS,
    INSTANCES,
    REFERENCE,
    SCENARIO,
    TRAJECTORY,
    TRAJECTORY_COLUMNS,
    TRIALS,
)
from metasparse.results._tables import read_table, read_trials

__all__ = ["check_resumable"]

_YAML_FILES = (SCENARIO, INCUMBENT, REFERENCE)


def check_resumable(directory: str | Path) -> None:
    """Raise a MetasparseError (OutputError for YAML) when a file of the results directory
    `directory` is damaged."""
    directory = Path(directory)
    for name in _YAML_FILES:
        path = directory / name
        if path.is_file():
            _check(path, _yaml_problem(_text(path)))
    read_trials(directory / TRIALS)
    read_table(directory / INSTANCES, INSTANCE_COLUMNS)
    read_table(directory / TRAJECTORY, TRAJECTORY_COLUMNS)


def _text(path: Path) -> str | None:
    """The text of a file, or None when it is not UTF-8 text."""
    try:
        return path.read_bytes().decode("utf-8")
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
