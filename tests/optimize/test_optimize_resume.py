"""Interrupted runs resume: a Ctrl-C'd `metasparse optimize` keeps its finished trials and says
how to resume; a changed scenario is refused; the store repairs half-written lines. That every
backend survives a SIGKILL and extends a finished run is test_optimize_backend_contract.py."""

from __future__ import annotations

import signal

import pandas as pd
import pytest
import waiting
from optimize_helpers import popen, read_csv, wait_for_rows

from metasparse.errors import ScenarioError
from metasparse.optimize import ResultsStore, load_scenario, optimize
from metasparse.results import config_column

# Trials slow enough (a few tenths of a second) that a signal lands in the middle of a run.
SLOWER = {"instances": ["digits", "wine"], "budget": {"epochs": 3},
          "fixed": {"model": "mlp", "hidden_sizes": "256,256", "dense_first_layer": False,
                    "dense_last_layer": False}}


def test_ctrl_c_keeps_the_finished_trials_and_says_how_to_resume(tmp_path, scenario_file):
    # A budget that no run can reach before the signal, however fast its trials end or fail
    # (with 40 trials, a run on a loaded machine once exited 0 instead of 130). A signal that
    # the run never acts on is a failure of its own, below.
    n_trials = 100_000
    path = scenario_file("interrupt", backend={"name": "smac"}, n_trials=n_trials, **SLOWER)
    trials = tmp_path / "results" / "interrupt" / "trials.csv"
    process = popen("optimize", str(path), "--no-progress", cwd=tmp_path)
    wait_for_rows(trials, 2, process)  # fails if the run ended first
    process.send_signal(signal.SIGINT)
    # a run that goes on training after the signal spends CPU: 120 CPU-seconds fail it
    _, stderr = waiting.communicate(process, 120, "the run after SIGINT")
    assert process.returncode == 130, stderr[-3000:]
    kept = len(read_csv(trials))
    assert stderr.strip().splitlines()[-1] == (
        f"interrupted: {kept} trials kept in {trials.parent}; "
        "rerun the same command to resume")
    assert 2 <= kept < n_trials
    assert trials.read_bytes().endswith(b"\n")  # no trial cut off halfway through its row


def test_resuming_with_a_different_scenario_is_refused(scenario_file):
    path = scenario_file("changed", backend={"name": "random"}, n_trials=2)
    optimize(load_scenario(path), progress=False)
    path = scenario_file("changed", backend={"name": "random"}, n_trials=2,
                         instances=["iris", "breast_cancer"])
    with pytest.raises(ScenarioError, match=r"holds results of a different scenario "
                                            r"\(instances: \['iris', 'wine'\] there"):
        optimize(load_scenario(path), progress=False)


def test_store_repairs_what_a_kill_left_half_written(scenario_file):
    path = scenario_file("repair", backend={"name": "random"}, n_trials=2)
    scenario = load_scenario(path)
    directory = optimize(scenario, progress=False)[0].directory
    trials, instances = directory / "trials.csv", directory / "trial_instances.csv"
    good_trials, good_instances = trials.read_text(), instances.read_text()
    trials.write_text(good_trials + "2,success,0.5,2,0,al")
    instances.write_text(good_instances + "7,iris,0,2,success,0.1,,,,,,,,,,\n")
    store = ResultsStore(directory, [c[7:] for c in read_csv(trials)[0] if
                                     c.startswith("config.")], ["val_error"], ["iris", "wine"])
    store.open(scenario.as_dict())
    assert trials.read_text() == good_trials
    assert instances.read_text() == good_instances


def test_walltime_stops_starting_trials(scenario_file):
    path = scenario_file("clock", backend={"name": "random"}, n_trials=None, walltime=2,
                         instances=["digits"], budget={"epochs": 3})
    summary = optimize(load_scenario(path), progress=False)[0]
    rows = read_csv(summary.directory / "trials.csv")
    assert 1 <= len(rows) == summary.n_trials
    assert summary.wall_time_s < 30


def test_a_run_from_before_a_parameter_existed_resumes_with_its_default(scenario_file):
    """A scenario.yaml written before `active_weights` existed fixes nothing for it: the run
    trained with its default, so fixing the default now is the same scenario; another value
    is not. Such a run's trials.csv has no column for it either."""
    old = {"model": "mlp", "hidden_sizes": "16"}
    for name in ("default", "other"):
        directory = optimize(load_scenario(scenario_file(
            name, backend={"name": "random"}, n_trials=2, fixed=old)), progress=False)[0].directory
        trials = pd.read_csv(directory / "trials.csv")
        trials.drop(columns=config_column("active_weights")).to_csv(directory / "trials.csv",
                                                                     index=False)
    path = scenario_file("default", backend={"name": "random"}, n_trials=3,
                         fixed={**old, "active_weights": 0})
    directory = optimize(load_scenario(path), progress=False)[0].directory
    assert len(read_csv(directory / "trials.csv")) == 3  # resumed, not refused
    path = scenario_file("other", backend={"name": "random"}, n_trials=3,
                         fixed={**old, "active_weights": 900})
    with pytest.raises(ScenarioError, match=r"fixed.active_weights: None there, 900 now"):
        optimize(load_scenario(path), progress=False)
