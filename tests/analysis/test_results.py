"""Reading a results directory: through metasparse.results, as `metasparse optimize` reads it
back, and with the scenario as the Scenario model holds it."""

from __future__ import annotations

import shutil

import pytest
import yaml

from metasparse.analysis import load_results
from metasparse.errors import MetasparseError
from metasparse.optimize import ResultsStore

STATUSES = {"success", "crashed", "timeout", "diverged", "pruned"}


def test_a_torn_last_line_is_no_trial_for_the_reader_as_for_the_writer(tiny_run, tmp_path):
    directory = tmp_path / "run"
    shutil.copytree(tiny_run, directory)
    trials = directory / "trials.csv"
    # Killed while appending trial 10's row: "10,succ" without its newline.
    trials.write_bytes(trials.read_bytes() + b"10,succ")
    results = load_results(directory)
    store = ResultsStore(directory, results.params, results.objectives,
                         results.tuning_instances)
    assert sorted(results.trials["trial_id"]) == sorted(int(r["trial_id"])
                                                        for r in store.rows()) == list(range(10))
    assert set(results.trials["status"]) <= STATUSES
    assert store.count() == len(results.trials) == 10


def test_the_scenario_is_read_with_the_model_that_wrote_it(tiny_run, tmp_path):
    directory = tmp_path / "run"
    shutil.copytree(tiny_run, directory)
    path = directory / "scenario.yaml"
    scenario = yaml.safe_load(path.read_text())
    results = load_results(directory)
    assert results.epochs == scenario["budget"]["epochs"] == 2
    assert results.settings.budget.min_epochs == scenario["budget"]["min_epochs"]
    assert (results.seeds, results.crash_cost) == ([0], 1.0)
    del scenario["budget"]  # the model's defaults, not the analysis' own
    path.write_text(yaml.safe_dump({**scenario, "crash_cost": [0.5]}))
    results = load_results(directory)
    assert (results.epochs, results.settings.budget.min_epochs) == (10, 1)
    assert results.crash_cost == 0.5
    path.write_text(yaml.safe_dump({**scenario, "objectives": ["val_error", "speed"]}))
    with pytest.raises(MetasparseError, match=r"scenario.yaml.*objectives"):
        load_results(directory)
