"""The configuration study's grid as Ray tasks on a local instance (127.0.0.1): the rows of a
serial run, with SMAC's multi-fidelity tuning (min_epochs) in both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from metasparse.cli import main

TINY = {
    "name": "tiny-parallel", "datasets": ["iris", "wine"], "spaces": ["rigl", "set-rigl"],
    "combined": "set-rigl", "presets": ["rigl"], "backends": ["smac"],
    "fixed": {"model": "mlp", "hidden_sizes": "16", "batch_size": 32},
    "n_trials": 4, "optimizer_seeds": [0], "seeds": [0, 1], "epochs": 3, "min_epochs": 1,
    "warm_start": False,
}


def _study(tmp_path, **changes):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({**TINY, **changes}))
    return path


def _run(path, tmp_path, output, *options):
    # the CLI fixes PYTHONHASHSEED (SMAC follows set order); the workers inherit it from Ray
    return subprocess.run([sys.executable, "-m", "metasparse.cli", "study", "configuration",
                           str(path), "--no-progress", "--output", str(output), *options],
                          capture_output=True, text=True, cwd=tmp_path)


def _rows(directory, name):
    frame = pd.read_csv(directory / name).drop(columns=["directory"], errors="ignore")
    return frame.sort_values("key").reset_index(drop=True)


@pytest.mark.xdist_group("ray")  # one local Ray instance at a time (tests/conftest.py)
def test_a_parallel_study_gives_the_rows_of_a_serial_one(tmp_path):
    path = _study(tmp_path)
    serial = _run(path, tmp_path, tmp_path / "serial")
    assert serial.returncode == 0, serial.stderr
    parallel = _run(path, tmp_path, tmp_path / "parallel", "--workers", "2")
    assert parallel.returncode == 0, parallel.stderr
    for name in ("tuning.csv", "evaluation.csv"):
        pd.testing.assert_frame_equal(_rows(tmp_path / "serial", name),
                                      _rows(tmp_path / "parallel", name))
    # and the same report, byte for byte (tables, statistics and plots)
    report = sorted(p.name for p in (tmp_path / "serial" / "report").iterdir())
    assert "report.md" in report and "importance.png" in report
    assert sorted(p.name for p in (tmp_path / "parallel" / "report").iterdir()) == report
    for name in report:
        assert (tmp_path / "serial" / "report" / name).read_bytes() == \
            (tmp_path / "parallel" / "report" / name).read_bytes(), name
    tuning = pd.read_csv(tmp_path / "parallel" / "tuning.csv")
    assert len(tuning) == 2 * 2 and tuning["incumbent"].notna().all()
    for directory in map(Path, tuning["directory"]):  # SMAC's Hyperband over 1..3 epochs
        scenario = yaml.safe_load((directory / "scenario.yaml").read_text())
        assert scenario["backend"]["facade"] == "mf"
        budgets = set(pd.read_csv(directory / "trials.csv")["budget"])
        assert min(budgets) == 1 and max(budgets) <= 3


def test_only_the_configuration_study_runs_on_ray(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"name": "r", "datasets": ["iris"]}))
    assert main(["study", "randomness", str(path), "--workers", "2"]) == 2
    assert "--workers and --address run the configuration study's grid on Ray; the " \
           "randomness study runs in this process only" in capsys.readouterr().err


def test_min_epochs_must_be_below_epochs(tmp_path):
    from metasparse.errors import ScenarioError
    from metasparse.study import load_study

    with pytest.raises(ScenarioError, match="min_epochs: Value error, must be less than "
                                            r"epochs \(3\); got 3"):
        load_study(_study(tmp_path, min_epochs=3), "configuration")
