"""Reading a results directory: through metasparse.results, as `metasparse optimize` reads it
back, and with the scenario as the Scenario model holds it."""

from __future__ import annotations

import csv
import shutil

import pytest
import yaml

from metasparse.analysis import load_results
from metasparse.errors import MetasparseError
from metasparse.optimize import ResultsStore
from metasparse.space import kind_of, resolve_config

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


def _drop_column(path, column: str) -> None:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = [c for c in rows[0] if c != column]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_a_run_made_before_its_space_gained_a_parameter_still_loads(tiny_run, tmp_path):
    # results/reference was written before the meta-space gained `execution` (a constant) and
    # the axes of newer algorithms (searched in the meta-space): every trial had their defaults.
    directory = tmp_path / "run"
    shutil.copytree(tiny_run, directory)
    _drop_column(directory / "trials.csv", "config.execution")
    results = load_results(directory)
    assert set(results.trials["config.execution"]) == {"masked"}
    assert len(results.trials) == 10
    searched = next(p for p in results.params if kind_of(results.space[p]) != "constant"
                    and not results.space.children_of[p])
    _drop_column(directory / "trials.csv", f"config.{searched}")
    results = load_results(directory)
    assert kind_of(results.space[searched]) == "constant"
    assert set(results.trials[f"config.{searched}"]) == {resolve_config({})[searched]}
    assert len(results.trials) == 10


def test_a_recorded_parameter_that_the_space_lacks_is_refused(tiny_run, tmp_path):
    directory = tmp_path / "run"
    shutil.copytree(tiny_run, directory)
    trials = directory / "trials.csv"
    header, rest = trials.read_text().split("\n", 1)
    trials.write_text(header.replace("config.lr", "config.no_such_parameter") + "\n" + rest)
    with pytest.raises(MetasparseError, match="parameter 'no_such_parameter' differs"):
        load_results(directory)
