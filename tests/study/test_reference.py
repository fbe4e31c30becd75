"""The committed reference of the configuration study (results/reference/configuration/) is
whole on a fresh clone: every run directory its tables name is tracked by git, and rerunning
the study retrains nothing that it holds (every committed row's key is a key the study's grid
makes today)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pandas as pd

from metasparse.study import load_study
from metasparse.study._configuration import (
    EVALUATION_UNKEYED,
    evaluation_points,
    tuning_points,
)
from metasparse.study._grid import grid_key

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "scenarios" / "study-configuration-medium.yaml"


def _tracked() -> set[str]:
    """The files under results/reference that the last commit holds (HEAD)."""
    listed = subprocess.run(["git", "ls-tree", "-r", "--name-only", "HEAD", "--",
                             "results/reference"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout
    return set(listed.splitlines())


def _committed(path: str) -> pd.DataFrame:
    """A table as committed (HEAD), not as a study running in this checkout rewrites it."""
    text = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    return pd.read_csv(io.StringIO(text))


def test_every_run_directory_a_committed_study_names_is_tracked():
    tracked = _tracked()
    tables = sorted(p for p in tracked if p.endswith(".csv") and p.count("/") == 3)
    named = [d for table in tables if "directory" in (frame := _committed(table))
             for d in frame["directory"].dropna()]
    assert len(named) >= 6  # the configuration study's tuning runs, at least
    missing = [d for d in named if f"{d}/trials.csv" not in tracked]
    assert missing == []


def test_rerunning_the_committed_study_retrains_nothing_it_holds():
    study = load_study(STUDY, "configuration")
    assert study.output_dir == Path("results/reference/configuration")
    tuning = _committed("results/reference/configuration/tuning.csv")
    assert len(tuning) >= 6
    keys = {grid_key(p) for p in tuning_points(study)}
    assert set(tuning["key"]) <= keys
    if "results/reference/configuration/evaluation.csv" in _tracked():  # once tuning is done
        evaluation = _committed("results/reference/configuration/evaluation.csv")
        keys = {grid_key(p, EVALUATION_UNKEYED) for p in evaluation_points(study, tuning)}
        assert set(evaluation["key"]) <= keys
