"""The results store is an append-only log: a finished trial's row is appended and fsynced
(instance rows first, then the trial's row), earlier bytes are never rewritten, and the torn
last line that a SIGKILL in the middle of a write leaves behind is dropped when the run resumes,
which then redoes that trial."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from optimize_helpers import BASE, read_csv

from metasparse.errors import ScenarioError
from metasparse.optimize import PairResult, ResultsStore, TrialOutcome, load_scenario, optimize
from metasparse.results import INSTANCE_COLUMNS, csv_text
from metasparse.space import kind_of, load_space


def outcome(k: int) -> TrialOutcome:
    """A finished trial on iris and wine (its row and two instance rows)."""
    now = time.time()
    metrics = {"val_error": 0.5 - 0.01 * k, "val_accuracy": 0.5 + 0.01 * k, "density": 0.1}
    return TrialOutcome(
        config={"density": 0.1, "lr": 0.01 * (k + 1)}, budget=2, instance="all", seed=0,
        status="success", costs=[metrics["val_error"]], metrics=metrics, error="",
        start_time=now, end_time=now,
        pairs=[PairResult(name, 0, "success", metrics, "", now, now) for name in ("iris", "wine")])


def test_trials_are_appended_and_fsynced_never_rewritten(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path, ["density", "lr"], ["val_error"], ["iris", "wine"])
    store.open({"name": "store"})
    tables = [tmp_path / "trial_instances.csv", tmp_path / "trials.csv"]  # the order of writes
    store.record(outcome(0))
    for table in tables:
        # Bytes that no writer of this store produces: the first field quoted. A store that
        # rewrote a table from its rows would write `0` there again; appending keeps `"0"`.
        header, first = table.read_text().split("\n", 1)
        assert first.startswith("0,")
        table.write_text(f'{header}\n"0"{first[1:]}')
    synced: list[tuple[int, int]] = []  # (inode, size) of every file fsynced, in order
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        stat = os.fstat(fd)
        synced.append((stat.st_ino, stat.st_size))

    monkeypatch.setattr(os, "fsync", fsync)
    for k in range(1, 4):
        before = {table: (table.stat().st_ino, table.read_bytes()) for table in tables}
        synced.clear()
        store.record(outcome(k))
        for table, (inode, data) in before.items():
            assert table.stat().st_ino == inode, f"{table.name} was replaced"
            assert table.read_bytes().startswith(data), f"{table.name} was rewritten"
        # Each table fsynced once, holding the new rows: the instance rows, then the commit.
        ends = [(table.stat().st_ino, table.stat().st_size) for table in tables]
        assert [entry for entry in synced if entry[0] in {i for i, _ in ends}] == ends
    assert [r["trial_id"] for r in store.rows()] == ["0", "1", "2", "3"]
    assert len(store.instance_rows()) == 8


def test_a_torn_instance_row_that_reads_as_an_earlier_trial_is_dropped(tmp_path):
    # Killed while appending trial 12's instance rows, after the "1" of "12,iris,...": read as
    # CSV that is a row of trial 1, which is recorded, so only cutting the torn line drops it.
    store = ResultsStore(tmp_path, ["density", "lr"], ["val_error"], ["iris", "wine"])
    store.open({"name": "store"})
    for k in range(12):
        store.record(outcome(k))
    instances = tmp_path / "trial_instances.csv"
    finished = instances.read_bytes()
    instances.write_bytes(finished + b"1")
    ResultsStore(tmp_path, ["density", "lr"], ["val_error"], ["iris", "wine"]).open(
        {"name": "store"})
    assert instances.read_bytes() == finished


def cut_last_line(path: Path, keep: float) -> bytes:
    """Keep only the fraction `keep` of the last line of `path` (0.5: torn, as a kill during
    its write leaves it; 0: never written); returns the complete lines before it."""
    data = path.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: start + int((len(data) - start) * keep)])
    return data[:start]


@pytest.mark.parametrize(("backend", "torn"), [("random", "trials.csv"),
                                               ("random", "trial_instances.csv"),
                                               ("smac", "trials.csv")])
def test_a_torn_last_line_is_dropped_on_resume_and_its_trial_redone(scenario_file, backend,
                                                                     torn):
    path = scenario_file(f"torn-{backend}", backend={"name": backend}, n_trials=3,
                         instances=["iris"], budget={"epochs": 1})
    directory = optimize(load_scenario(path), progress=False)[0].directory
    trials, instances = directory / "trials.csv", directory / "trial_instances.csv"
    lost = read_csv(trials)[-1]
    if torn == "trials.csv":  # killed while appending trial 2's row (its instance row is in)
        kept = cut_last_line(trials, 0.5)
    else:  # killed while appending trial 2's instance row: its row never reached trials.csv
        kept = cut_last_line(trials, 0.0)
        cut_last_line(instances, 0.5)

    summary = optimize(load_scenario(path), progress=False)[0]
    assert summary.n_trials == 3
    data = trials.read_bytes()
    assert data.startswith(kept) and data.endswith(b"\n")  # finished rows kept as they were
    rows = read_csv(trials)
    assert [r["trial_id"] for r in rows] == ["0", "1", "2"]
    assert all(r["status"] == "success" for r in rows), [r["error"] for r in rows]
    if backend == "random":  # trial 2 is the third draw, whoever evaluates it
        assert {k: v for k, v in rows[2].items() if k.startswith("config.")} == \
               {k: v for k, v in lost.items() if k.startswith("config.")}
    pairs = [(r["trial_id"], r["instance"]) for r in read_csv(instances)]
    assert sorted(pairs) == [("0", "iris"), ("1", "iris"), ("2", "iris")]  # trial 2's once
    assert instances.read_bytes().endswith(b"\n")


def test_a_dense_reference_stays_dense_when_the_scenario_fixes_a_density(scenario_file):
    # The scenario's fixed settings apply to the reference (hidden sizes and the like), but
    # the dense baseline keeps its density of 1: a dense reference at density 0.05 is no
    # dense baseline at all.
    path = scenario_file("dense-ref", reference="dense", backend={"name": "random"},
                         n_trials=1, instances=["iris"], budget={"epochs": 1},
                         fixed={**BASE["fixed"], "density": 0.05})
    summary = optimize(load_scenario(path), progress=False)[0]
    reference = yaml.safe_load((summary.directory / "reference.yaml").read_text())
    assert reference["preset"] == "dense"
    assert reference["config"]["density"] == 1.0
    assert reference["config"]["hidden_sizes"] == "128"  # the other fixed settings apply
    assert reference["metrics"]["density"] == pytest.approx(1.0)
    assert summary.incumbent["config"]["density"] == 0.05


def test_instance_rows_record_the_dense_layers_each_pair_trained_with(scenario_file):
    # At density 0.1 a 64-64 MLP pays for a dense first and last layer on iris (4 features) but
    # not on wine (13): the sampled `true` trains sparse there, and its row says so.
    fixed = {"model": "mlp", "hidden_sizes": "64,64", "density": 0.1,
             "dense_first_layer": True, "dense_last_layer": True}
    path = scenario_file("trained", backend={"name": "random"}, n_trials=1,
                         budget={"epochs": 1}, fixed=fixed)
    directory = optimize(load_scenario(path), progress=False)[0].directory
    (trial,) = read_csv(directory / "trials.csv")
    assert (trial["config.dense_first_layer"], trial["config.dense_last_layer"]) == \
           ("True", "True")
    trained = {r["instance"]: (r["trained.dense_first_layer"], r["trained.dense_last_layer"])
               for r in read_csv(directory / "trial_instances.csv")}
    assert trained["iris"] == ("True", "True") and trained["wine"] != ("True", "True")


def test_a_run_recorded_before_the_trained_columns_resumes_without_them(scenario_file):
    path = scenario_file("old", backend={"name": "random"}, n_trials=1, instances=["iris"],
                         budget={"epochs": 1})
    directory = optimize(load_scenario(path), progress=False)[0].directory
    instances = directory / "trial_instances.csv"
    rows = read_csv(instances)
    assert rows[0]["trained.dense_first_layer"] == "False"
    old = [{k: v for k, v in r.items() if k in INSTANCE_COLUMNS} for r in rows]
    instances.write_text(csv_text(INSTANCE_COLUMNS, old))
    optimize(load_scenario(path, n_trials=2), progress=False)
    assert instances.read_text().splitlines()[0] == ",".join(INSTANCE_COLUMNS)
    assert [r["trial_id"] for r in read_csv(instances)] == ["0", "1"]


@pytest.mark.parametrize(("dropped", "resumes"), [("active_weights", True), ("lr", False)])
def test_a_run_recorded_before_a_constant_existed_resumes(scenario_file, dropped, resumes):
    # A parameter added to the meta-space later, which the space holds at its default (what
    # the run trained with), has no column in an older run's trials.csv, whose columns may also
    # come in another order; a searched parameter's missing column is another scenario.
    path = scenario_file(f"older-{dropped}", backend={"name": "random"}, n_trials=1,
                         instances=["iris"], budget={"epochs": 1})
    directory = optimize(load_scenario(path), progress=False)[0].directory
    trials = directory / "trials.csv"
    rows = read_csv(trials)
    header = [c for c in rows[0] if c != f"config.{dropped}"]
    header = [*header[:-2], header[-1], header[-2]]  # the last two config columns swapped
    trials.write_text(csv_text(header, [{c: r[c] for c in header} for r in rows]))
    if not resumes:
        with pytest.raises(ScenarioError, match="has other columns than this scenario writes"):
            optimize(load_scenario(path, n_trials=2), progress=False)
        return
    summary = optimize(load_scenario(path, n_trials=2), progress=False)[0]
    assert summary.n_trials == 2
    assert trials.read_text().splitlines()[0] == ",".join(header)
    assert [r["status"] for r in read_csv(trials)] == ["success", "success"]
    incumbent = yaml.safe_load((directory / "incumbent.yaml").read_text())
    assert incumbent["config"][dropped] == 0


def test_an_older_run_lacking_a_conditional_constant_resumes_with_smac(scenario_file):
    # set-rigl holds grow_candidates and grow_selection, active with grow_score gradient only:
    # a run recorded before they existed resumes, and they join a configuration only where
    # they are active (SMAC refuses an inactive value).
    path = scenario_file("older-conditional", space="set-rigl", n_trials=8,
                         backend={"name": "smac", "seed": 0}, instances=["iris"],
                         budget={"epochs": 1})
    directory = optimize(load_scenario(path), progress=False)[0].directory
    trials = directory / "trials.csv"
    rows = read_csv(trials)
    assert {r["config.grow_score"] for r in rows} == {"random", "gradient"}
    dropped = ("config.grow_candidates", "config.grow_selection")
    header = [c for c in rows[0] if c not in dropped]
    trials.write_text(csv_text(header, [{c: r[c] for c in header} for r in rows]))
    summary = optimize(load_scenario(path, n_trials=10), progress=False)[0]
    assert summary.n_trials == 10
    scenario = load_scenario(path)
    space = load_space(scenario.space[0], fixed=scenario.fixed)
    store = ResultsStore(directory, list(space.keys()), ["val_error"], ["iris"], constants={
        name: hp.value for name, hp in space.items() if kind_of(hp) == "constant"})
    store.open(yaml.safe_load((directory / "scenario.yaml").read_text()))
    for row in read_csv(trials):
        config = store.config_of(row)
        assert ("grow_candidates" in config) == (config["grow_score"] == "gradient"), config
    incumbent = yaml.safe_load((directory / "incumbent.yaml").read_text())
    assert set(incumbent["active_config"]) == set(store.config_of(
        next(r for r in read_csv(trials) if int(r["trial_id"]) == incumbent["trial_id"])))
