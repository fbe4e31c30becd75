"""The committed reference of the configuration study (results/reference/configuration/) is
whole on a fresh clone: every run directory its tables name is tracked by git, and rerunning
the study retrains nothing that it holds (every committed row's key is a key the study's grid
makes today)."""

from __future__ import annotations

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
REFERENCE = ROOT / "results" / "reference"
STUDY = ROOT / "scenarios" / "study-configuration-medium.yaml"


def _tracked(*patterns: str) -> set[str]:
    """The paths (relative to the repository) that git tracks among `patterns`."""
    listed = subprocess.run(["git", "ls-files", "--", *patterns], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    return set(listed.splitlines())


def test_every_run_directory_a_committed_study_names_is_tracked():
    tables = sorted(_tracked("results/reference/*/*.csv"))
    named = [d for table in tables if "directory" in (frame := pd.read_csv(ROOT / table))
             for d in frame["directory"].dropna()]
    assert len(named) >= 6  # the configuration study's tuning runs, at least
    tracked = _tracked(*(f"{d}/trials.csv" for d in named))
    missing = [d for d in named if f"{d}/trials.csv" not in tracked]
    assert missing == []


def test_rerunning_the_committed_study_retrains_nothing_it_holds():
    study = load_study(STUDY, "configuration")
    assert study.output_dir == Path("results/reference/configuration")
    tuning = pd.read_csv(REFERENCE / "configuration" / "tuning.csv")
    assert len(tuning) >= 6
    keys = {grid_key(p) for p in tuning_points(study)}
    assert set(tuning["key"]) <= keys
    evaluation_csv = REFERENCE / "configuration" / "evaluation.csv"
    if evaluation_csv.exists():  # written once every tuning run has finished
        evaluation = pd.read_csv(evaluation_csv)
        keys = {grid_key(p, EVALUATION_UNKEYED) for p in evaluation_points(study, tuning)}
        assert set(evaluation["key"]) <= keys
