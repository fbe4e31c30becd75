"""`metasparse optimize` run twice with one seed chooses the same configurations (SMAC's order
of sets follows string hashing; the CLI fixes the hash seed for its own process)."""

from __future__ import annotations

import subprocess
import sys

from optimize_helpers import cli_env, config_key, read_csv


def test_two_smac_runs_of_one_scenario_choose_the_same_configurations(scenario_file, tmp_path):
    env = cli_env()
    env.pop("PYTHONHASHSEED", None)  # as a user's shell has it
    keys = []
    for run in ("a", "b"):
        path = scenario_file(run, backend={"name": "smac", "seed": 3}, n_trials=10,
                             instances=["wine"], budget={"epochs": 1})
        done = subprocess.run([sys.executable, "-m", "metasparse.cli", "optimize", str(path),
                               "--no-progress"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        keys.append([config_key(row) for row in read_csv(tmp_path / "results" / run /
                                                         "trials.csv")])
    assert len(keys[0]) == 10
    assert keys[0] == keys[1]
