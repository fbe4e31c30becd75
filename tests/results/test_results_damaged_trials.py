"""A damaged trials.csv (a row with a field too many or too few, a cost that is no number, a NUL
byte) is one line naming the file and the line, exit code 2, in every command that reads it, and
before it does any work: `analyze` and `export` write nothing, a resume changes nothing (neither
scenario.yaml nor SMAC's state in smac/), and no temporary file is left."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from metasparse.cli import main
from metasparse.errors import MetasparseError
from metasparse.results import LOCK_FILE, csv_text, read_trials

DAMAGE = ["extra field", "short row", "cost not a number", "NUL byte"]


def _damage(trials: Path, kind: str) -> str:
    """Damage line 3 of trials.csv (its second trial) as `kind` says; what is wrong with it."""
    lines = trials.read_text().splitlines(keepends=True)
    row = next(csv.reader([lines[2]]))
    n = len(row)
    row, problem = {
        "extra field": ([*row, "x"], f"{n + 1} fields, expected {n}"),
        "short row": (row[:5], f"5 fields, expected {n}"),
        "cost not a number": ([*row[:2], "abc", *row[3:]], "cost is 'abc', not a number"),
        "NUL byte": ([*row[:2], row[2] + "\0", *row[3:]], "a NUL byte"),
    }[kind]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row)
    lines[2] = buffer.getvalue()
    trials.write_text("".join(lines))
    return problem


def _files(directory: Path) -> dict[Path, tuple[bytes, int]]:
    """Every file below `directory` (but the run lock, which a run rewrites), with its bytes and
    its modification time."""
    return {p.relative_to(directory): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != LOCK_FILE}


@pytest.mark.parametrize("command", ["analyze", "export", "optimize"])
@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_trials_csv_is_one_line_naming_its_line_before_any_work(
        tiny_smac_run, tmp_path, capsys, command, kind):
    # once: analyze and export ended in pandas tracebacks (extra field, short row) or fitted one
    # trial fewer than they reported (cost, NUL); a resume raised a ValueError after rewriting
    # scenario.yaml and smac/
    directory = tmp_path / "run"
    shutil.copytree(tiny_smac_run, directory)
    trials = directory / "trials.csv"
    problem = _damage(trials, kind)
    before = _files(directory)
    assert (directory / "smac").is_dir()
    argv = {
        "analyze": ["analyze", str(directory), "--no-progress"],
        "export": ["export", str(directory), "--to", "optuna"],
        "optimize": ["optimize", str(tiny_smac_run.parent.parent / "tiny-smac.yaml"),
                     "--output", str(directory), "--n-trials", "4", "--no-progress"],
    }[command]
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"metasparse {command}: error: '{trials}' line 3: {problem}; repair or remove the line"]
    assert _files(directory) == before  # nothing written, changed or left behind
    assert not list(directory.rglob("*.tmp"))


def test_the_reader_names_the_first_damaged_line_and_no_torn_last_line(tiny_smac_run, tmp_path):
    rows = list(csv.DictReader(io.StringIO((tiny_smac_run / "trials.csv").read_text())))
    trials = tmp_path / "trials.csv"

    def problem(*changes: tuple[int, str, str]) -> str | None:
        """What the reader says of trials.csv with `changes` (row, column, value) made."""
        damaged = [dict(r) for r in rows]
        for index, column, value in changes:
            damaged[index][column] = value
        trials.write_text(csv_text(list(rows[0]), damaged) + "3,succ")  # as a killed run left it
        try:
            read_trials(trials)
        except MetasparseError as exc:
            return str(exc).removeprefix(f"'{trials}' ").removesuffix("; repair or remove the line")
        return None

    assert problem() is None
    assert len(read_trials(trials)) == len(rows)  # the torn last line is no row
    # the first damaged line, whichever of its columns comes first
    assert problem((2, "seed", "1.5"), (1, "end_time", "noon")) == \
        "line 3: end_time is 'noon', not an ISO 8601 time"
    assert problem((2, "seed", "1.5")) == "line 4: seed is '1.5', not an integer or 'all'"
    assert problem((0, "trial_id", "")) == "line 2: trial_id is '', not an integer"
    assert problem((0, "val_accuracy", "")) is None  # a metric the trial did not measure
    assert problem((0, "cost", "nan"), (1, "density", "inf")) is None
    assert problem((0, "seed", "all")) is None  # a trial on several seeds
