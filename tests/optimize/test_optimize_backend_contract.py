"""What every backend must do, run for every backend in the registry (metasparse.optimize.BACKENDS)
and for a toy backend that these tests register themselves (toy_backend.py): a new backend is
tested here as soon as it is registered, with no test written for it. Each backend's own
features are tested in its own files (test_optimize_backends.py, test_optimize_ray.py).

The contract: its settings load from a scenario, belong to it alone and are written as run; the
command line and the errors list it; a run writes the results directory (docs/CONTRACTS.md);
two workers record exactly n_trials; a trial that raises is recorded and the run completes; a
SIGKILLed run resumes without losing or repeating a trial; a larger n_trials extends a finished
run; a warm start's configurations are its first trials.
"""

from __future__ import annotations

import argparse
import importlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
import toy_backend
import yaml
from optimize_helpers import (
    CLI,
    check_results,
    cli,
    config_key,
    popen,
    read_csv,
    run,
    wait_for_rows,
    write_scenario,
)

from metasparse.errors import ScenarioError
from metasparse.optimize import (
    BACKENDS,
    Backend,
    OptimizationInterrupted,
    RunSummary,
    backend_names,
    load_scenario,
    optimize,
    register_backend,
)
from metasparse.optimize._backends import DEFAULT_BACKEND
from metasparse.optimize._command import add_arguments
from metasparse.results import CONFIG_PREFIX, parse_value
from metasparse.space import resolve_config

OPTIMIZE = Path(__file__).resolve().parents[2] / "metasparse" / "optimize"
# Backends whose runs are too slow for `make test` run here with `make test-all` (-m slow).
SLOW = {"ray": "starts a local Ray instance for every run; test_optimize_ray.py runs it on a "
               "cluster in every `make test`"}
# What a backend does not do yet: (backend, test) -> why. Strict: a fix makes the test fail
# until its entry goes.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}
# Trials slow enough (a few tenths of a second) that a kill lands in the middle of a run.
SLOWER = {"instances": ["digits", "wine"], "budget": {"epochs": 3},
          "fixed": {"model": "mlp", "hidden_sizes": "256,256", "dense_first_layer": False,
                    "dense_last_layer": False}}


def _backends(runs: bool) -> list[object]:
    """Every registered backend and the toy; runs of the SLOW ones are marked slow."""
    return [*(pytest.param(name, id=name,
                           marks=[pytest.mark.slow] if runs and name in SLOW else [])
              for name in backend_names()),
            pytest.param(toy_backend.NAME, id="toy-registered-by-the-test")]


def _registered(name: str) -> Iterator[str]:
    if name == toy_backend.NAME:
        with toy_backend.registered():
            yield name
    else:
        yield name


@pytest.fixture(params=_backends(runs=False))
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The name of a backend under test, registered for the test."""
    yield from _registered(request.param)


@pytest.fixture(params=_backends(runs=True))
def running(request: pytest.FixtureRequest) -> Iterator[str]:
    """The name of a backend under test that a test runs, registered for the test."""
    known = KNOWN_FAILURES.get((request.param, request.node.originalname))
    if known is not None:
        request.applymarker(pytest.mark.xfail(reason=known, strict=True))
    yield from _registered(request.param)


def _optimize(path: Path, **overrides: object) -> RunSummary:
    """The run of one scenario; a run that stops short fails the test (not the session, as
    the KeyboardInterrupt that OptimizationInterrupted is would)."""
    try:
        (summary,) = optimize(load_scenario(path, **overrides), progress=False)
    except OptimizationInterrupted as stop:
        pytest.fail(f"the run stopped short: {stop}")
    return summary


def _entry(backend: str) -> tuple[str, ...]:
    """How a subprocess starts `metasparse` with the backend registered."""
    return toy_backend.CLI if backend == toy_backend.NAME else CLI


def _own_settings(backend: str) -> list[str]:
    return [key for key in BACKENDS[backend].model_fields if key not in Backend.model_fields]


def test_every_settings_module_registers_its_backend():
    # a settings module beside an adapter that _backends.py does not import registers nothing
    modules = sorted(p.stem.removeprefix("_").removesuffix("_settings")
                     for p in OPTIMIZE.glob("_*_settings.py"))
    assert modules and set(modules) <= set(backend_names())


def test_settings_load_belong_to_the_backend_and_are_written_as_run(tmp_path, scenario_file,
                                                                   backend):
    scenario = load_scenario(scenario_file("own", backend={"name": backend}))
    model = BACKENDS[backend]
    assert type(scenario.backend) is model and scenario.backend.name == backend
    assert callable(importlib.import_module(model.adapter).run)
    written = scenario.as_dict()
    assert written["backend"]["name"] == backend
    again = load_scenario(scenario_file("own", **{k: v for k, v in written.items()
                                                  if k not in ("name", "space")}))
    assert again.as_dict()["backend"] == written["backend"]  # the scenario as run resumes

    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario_file("unknown", backend={"name": backend, "nope": 1}))
    assert f"unknown key 'backend.nope'; allowed keys: {sorted(model.model_fields)}" \
        in str(caught.value)
    nulls = {key: None for key in _own_settings(backend)}  # null stands for the default
    assert load_scenario(scenario_file("nulls", backend={"name": backend, **nulls})).as_dict() \
        == load_scenario(scenario_file("nulls", backend={"name": backend})).as_dict()
    other = next(name for name in backend_names() if name != backend)
    for key in _own_settings(backend):
        if key in BACKENDS[other].model_fields:
            continue
        value = written["backend"].get(key, 1)
        with pytest.raises(ScenarioError) as caught:
            load_scenario(scenario_file("foreign", backend={"name": other, key: value}))
        assert f"backend.{key} applies to backend.name " in str(caught.value)
        assert f"{backend!r}" in str(caught.value).split(" only;")[0]
        assert str(caught.value).endswith(f"got it with {other!r}")


def test_a_backend_section_without_a_name_is_the_default_backend(scenario_file):
    scenario = load_scenario(scenario_file("unnamed", backend={"seed": 3}))
    assert scenario.backend.name == DEFAULT_BACKEND == "smac" and scenario.backend.seed == 3
    assert load_scenario(scenario_file("absent")).backend.name == DEFAULT_BACKEND


def test_the_command_line_and_the_errors_list_the_backend(scenario_file, backend):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert backend in " ".join(parser.format_help().split())
    assert parser.parse_args(["s.yaml", "--backend", backend]).backend == backend
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario_file("unknown", backend={"name": "no-such-backend"}))
    assert f"backend.name must be one of {sorted(backend_names())}; got 'no-such-backend'" \
        in str(caught.value)
    assert repr(backend) in str(caught.value)


def test_a_run_writes_the_results_directory(scenario_file, running):
    directory = run(scenario_file(f"run-{running}", backend={"name": running}))
    rows = check_results(directory, 4)
    assert len({config_key(r) for r in rows}) == 4
    written = yaml.safe_load((directory / "scenario.yaml").read_text())
    assert written["backend"]["name"] == running


def test_two_workers_record_exactly_n_trials(scenario_file, running):
    path = scenario_file(f"par-{running}", backend={"name": running}, n_trials=8, n_workers=2)
    summary = _optimize(path)
    rows = read_csv(summary.directory / "trials.csv")
    assert len(rows) == 8
    assert len({r["trial_id"] for r in rows}) == 8
    assert len({config_key(r) for r in rows}) == 8
    starts = sorted(r["start_time"] for r in rows)
    ends = sorted(r["end_time"] for r in rows)
    assert any(s < e for s, e in zip(starts[1:], ends[:-1], strict=True))  # trials overlapped


def test_a_trial_that_raises_is_recorded_and_the_run_completes(scenario_file, running):
    path = scenario_file(f"cnn-{running}", backend={"name": running}, n_trials=3,
                         fixed={"model": "cnn"}, instances=["wine"], crash_cost=0.9)
    summary = _optimize(path)
    rows = read_csv(summary.directory / "trials.csv")
    assert len(rows) == 3
    for row in rows:
        assert row["status"] == "crashed"
        assert row["cost"] == "0.9"
        assert "needs image-shaped data" in row["error"] and "\n" not in row["error"]
        assert row["val_error"] == ""
    assert summary.incumbent is None
    assert "no successful trial yet" in summary.table()


def _complete_lines(path: Path) -> list[str]:
    text = path.read_text()
    return text.splitlines()[: text.count("\n")]


def test_sigkill_then_rerun_keeps_every_trial_and_repeats_none(tmp_path, scenario_file,
                                                               running):
    path = scenario_file(f"kill-{running}", backend={"name": running}, n_trials=10, **SLOWER)
    trials = tmp_path / "results" / f"kill-{running}" / "trials.csv"
    process = popen("optimize", str(path), "--no-progress", cwd=tmp_path, entry=_entry(running))
    wait_for_rows(trials, 3, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    first = _complete_lines(trials)
    assert 4 <= len(first) <= 11

    result = cli("optimize", str(path), "--no-progress", cwd=tmp_path, entry=_entry(running))
    assert result.returncode == 0, result.stderr
    lines = trials.read_text().splitlines()
    assert lines[: len(first)] == first
    rows = read_csv(trials)
    assert len(rows) == 10
    assert len({r["trial_id"] for r in rows}) == 10
    assert len({config_key(r) for r in rows}) == 10  # no configuration evaluated twice
    instance_ids = {r["trial_id"] for r in read_csv(trials.parent / "trial_instances.csv")}
    assert instance_ids <= {r["trial_id"] for r in rows}


def test_a_killed_run_resumed_proposes_what_an_uninterrupted_run_proposes(tmp_path, running):
    # same seed, same run: the resumed optimizer replays the recorded trials, so it goes on
    # with the trial the kill lost and then what an uninterrupted run would have proposed
    paths = {}
    for where in ("whole", "killed"):
        (tmp_path / where).mkdir()
        paths[where] = write_scenario(tmp_path / where, f"replay-{running}",
                                      backend={"name": running}, n_trials=8, **SLOWER)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    trials = killed / "results" / f"replay-{running}" / "trials.csv"
    process = popen("optimize", str(paths["killed"]), "--no-progress", cwd=killed,
                    entry=_entry(running))
    wait_for_rows(trials, 3, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    for where, path in paths.items():
        result = cli("optimize", str(path), "--no-progress", cwd=tmp_path / where,
                     entry=_entry(running))
        assert result.returncode == 0, result.stderr

    def sequence(cwd: Path) -> list[tuple[str, ...]]:
        rows = read_csv(cwd / "results" / f"replay-{running}" / "trials.csv")
        return [config_key(r) for r in sorted(rows, key=lambda r: int(r["trial_id"]))]

    assert len(sequence(whole)) == 8
    assert sequence(killed) == sequence(whole)


def test_more_trials_extend_a_finished_run(scenario_file, running):
    path = scenario_file(f"extend-{running}", backend={"name": running}, n_trials=3)
    first = _optimize(path)
    before = (first.directory / "trials.csv").read_text()
    again = _optimize(path)  # finished: nothing to do
    assert (again.directory / "trials.csv").read_text() == before
    extended = _optimize(path, n_trials=6)
    rows = read_csv(extended.directory / "trials.csv")
    assert (extended.directory / "trials.csv").read_text().startswith(before)
    assert len(rows) == 6 and len({config_key(r) for r in rows}) == 6


def test_a_warm_start_s_presets_are_the_first_trials(scenario_file, running):
    path = scenario_file(f"warm-{running}", backend={"name": running}, space="set-rigl",
                         warm_start="presets", n_trials=4)
    summary = _optimize(path)
    warm = yaml.safe_load((summary.directory / "warm_start.yaml").read_text())
    # set-rigl mixes SET's and RigL's axes: their presets are points of it, the others not
    assert [c["label"] for c in warm["configs"]] == ["set", "rigl"]
    assert "'prune_score' parameter must be one of ['set', 'magnitude']" \
        in {d["label"]: d["reason"] for d in warm["dropped"]}["mest"]
    rows = sorted(read_csv(summary.directory / "trials.csv"), key=lambda r: int(r["trial_id"]))
    assert len(rows) == 4
    assert [_config(r) for r in rows[:2]] == [resolve_config(c["config"])
                                              for c in warm["configs"]]
    assert len({config_key(r) for r in rows}) == 4  # then the backend searches
    assert summary.incumbent["cost"] <= min(float(r["cost"]) for r in rows[:2])


def _config(row: dict[str, str]) -> dict[str, object]:
    return resolve_config({k.removeprefix(CONFIG_PREFIX): parse_value(v) for k, v in row.items()
                           if k.startswith(CONFIG_PREFIX) and v != ""})


def test_a_backend_registered_by_a_test_joins_the_scenario_union_and_leaves_it(tmp_path,
                                                                               scenario_file):
    # The toy backend (toy_backend.py) is registered here, touching no file of metasparse: the
    # scenario, the errors and the command line know it exactly while it is registered.
    toy = {"name": toy_backend.NAME, "stride": 3}
    with pytest.raises(ScenarioError, match=r"backend\.name must be one of \[.*\]; got 'toy'"):
        load_scenario(scenario_file("toy", backend=toy))
    with toy_backend.registered() as model:
        scenario = load_scenario(scenario_file("toy", backend=toy))
        assert type(scenario.backend) is model and scenario.backend.stride == 3
        assert scenario.as_dict()["backend"] == {"name": "toy", "seed": 0, "stride": 3}
        for backend, message in [
            ({"name": "toy", "stride": 0}, "backend.stride must be >= 1; got 0"),
            ({"name": "toy", "facade": "hpo"},
             "backend.facade applies to backend.name 'smac' only; got it with 'toy'"),
            ({"name": "smac", "stride": 2},
             "backend.stride applies to backend.name 'toy' only; got it with 'smac'"),
            ({"name": "toy", "strides": 2},
             "unknown key 'backend.strides'; allowed keys: ['name', 'seed', 'stride']"),
            ({"name": "tiy"}, "got 'tiy'"),
        ]:
            with pytest.raises(ScenarioError) as caught:
                load_scenario(scenario_file("bad-toy", backend=backend))
            assert str(caught.value).endswith(message), str(caught.value)
        assert "'toy'" in str(caught.value)  # the unknown name's error lists the toy
    with pytest.raises(ScenarioError, match=r"got 'toy'"):
        load_scenario(scenario_file("toy", backend=toy))
    # in a process of its own (toy_backend.CLI registers it first), --help lists it
    result = cli("optimize", "--help", cwd=tmp_path, entry=toy_backend.CLI, cpu_budget=60)
    assert result.returncode == 0, result.stderr
    assert "toy" in " ".join(result.stdout.split()).rsplit("--backend NAME", 1)[1]
    plain = cli("optimize", "--help", cwd=tmp_path, cpu_budget=60)
    assert "toy" not in plain.stdout


def test_a_setting_of_several_other_backends_names_them_all(scenario_file):
    class Twin(Backend):  # a second backend with the toy's setting
        adapter = toy_backend.__name__
        name: Literal["twin"] = "twin"
        stride: int = 1

    with toy_backend.registered():
        register_backend(Twin)
        try:
            with pytest.raises(ScenarioError) as caught:
                load_scenario(scenario_file("twins", backend={"name": "smac", "stride": 2}))
        finally:
            BACKENDS.unregister("twin")
    assert str(caught.value).endswith(
        "backend.stride applies to backend.name 'toy' or 'twin' only; got it with 'smac'")


def _optuna_study(directory: Path):
    import optuna

    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(directory / "optuna.journal")))
    return optuna.load_study(study_name=directory.name, storage=storage)


def _half_suggested(tmp_path: Path, name: str):
    """Two runs of one scenario, 5 trials and 3, and a fourth trial asked in the second that
    holds the first 4 values that the whole run's fourth trial was suggested (what a worker
    holds between two of its suggestions): (its scenario, the whole run, the trial)."""
    paths = {where: write_scenario(tmp_path, f"{name}-{where}", backend={"name": "optuna"},
                                   n_trials=5, budget={"epochs": 1}, instances=["iris"])
             for where in ("whole", "part")}
    whole = _optimize(paths["whole"]).directory
    part = _optimize(paths["part"], n_trials=3).directory
    (fourth,) = [t for t in _optuna_study(whole).trials if t.number == 3]
    trial = _optuna_study(part).ask()
    assert trial.number == 3
    for name in list(fourth.params)[:4]:
        distribution = fourth.distributions[name]
        trial.storage.set_trial_param(trial._trial_id, name,
                                      distribution.to_internal_repr(fourth.params[name]),
                                      distribution)
    return paths["part"], whole, trial


def test_an_optuna_trial_killed_while_suggested_resumes_as_it_would_have_run(tmp_path):
    # A kill between two of a trial's suggestions leaves it RUNNING with its first values
    # only: the resumed run completes it with what the replayed sampler suggests, not anew.
    path, whole, _ = _half_suggested(tmp_path, "suggested")
    killed = _optimize(path).directory

    def sequence(directory: Path) -> list[tuple[str, ...]]:
        rows = read_csv(directory / "trials.csv")
        return [config_key(r) for r in sorted(rows, key=lambda r: int(r["trial_id"]))]

    assert len(sequence(whole)) == 5
    assert sequence(killed) == sequence(whole)


def test_an_optuna_trial_another_worker_is_suggesting_is_left_to_it(tmp_path):
    # A RUNNING trial whose worker lives (here: this process) is not lost: a resumed run
    # neither completes its values nor runs it, even where they are those its replay suggests.
    import os
    import socket

    import optuna

    path, _, running = _half_suggested(tmp_path, "shared")
    running.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    given = running.storage.get_trial_params(running._trial_id)
    directory = _optimize(path).directory
    (frozen,) = [t for t in _optuna_study(directory).trials if t.number == 3]
    assert frozen.state == optuna.trial.TrialState.RUNNING
    assert len(given) == 4 and frozen.params == given
    recorded = sorted(int(r["trial_id"]) for r in read_csv(directory / "trials.csv"))
    assert recorded == [0, 1, 2, 4]  # the fifth trial counts the running one
