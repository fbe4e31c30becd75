"""Ray Tune: many trials at once on a Ray cluster (or a local Ray instance), over the shared
trial runner and results store.

- Cluster: `backend.address` (`auto`, `host:port`, `ray://host:port`); when the scenario names
  none, $RAY_ADDRESS as Ray's own tools read it; else a local instance bound to 127.0.0.1. An
  address that cannot be reached is one `RayClusterError` line naming it (exit code 2).
- A Ray trial is one metasparse trial: the trainable evaluates the configuration on every tuning
  (instance, seed) pair through `TrialRunner.evaluate` (Ray Tune has no instances) and reports
  after every epoch the runner's running mean validation error, at step = epochs done over all
  pairs (the same signal as Optuna's Hyperband pruner). ASHA stops trials on it; OptunaSearch
  walks the ConfigSpace define-by-run with `_optuna.suggest`; random search evaluates the
  configurations of the random backend (trial k: the k-th draw). The warm start's
  configurations come first (OptunaSearch's points_to_evaluate, random search's first trials).
- The driver writes trials.csv / incumbent.yaml / trajectory.csv as trials end (a Tune callback),
  so `metasparse analyze` reads a Ray run like any other. A trial whose worker dies is retried
  (`backend.max_failures`); one that fails every retry is recorded as crashed.
- Ray's experiment directory is results/<name>/ray. Rerunning the command restores it
  (Tuner.restore, unfinished and errored trials resumed); a finished one that a larger
  n_trials extends is kept as ray-finished-<k> beside a new experiment for the rest;
  ray/recorded.json maps Ray trial ids to their rows, written just before each row, so no
  trial is recorded twice, also when a run is killed between the two writes.
"""

# ruff: noqa: E402  (Ray is imported after RAY_AUTH_MODE is settled: _token_auth_from_token)
from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import socket
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import optuna


def _token_auth_from_token() -> None:
    """Send the cluster's token when one is at hand ($RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH or
    ~/.ray/auth_token, which `ray start` writes) and RAY_AUTH_MODE is unset: a driver that
    connects to a token-auth cluster needs RAY_AUTH_MODE=token before Ray is imported."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or path.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


_token_auth_from_token()

import ray
from ConfigSpace import Configuration, ConfigurationSpace
from ConfigSpace.exceptions import ForbiddenValueError
from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search import BasicVariantGenerator, Searcher
from ray.tune.search.optuna import OptunaSearch

from metasparse.errors import MetasparseError, one_line
from metasparse.optimize._configs import config_values
from metasparse.optimize._optuna import searched, suggest
from metasparse.optimize._random import sample
from metasparse.optimize._runner import TrialOutcome, TrialRunner
from metasparse.optimize._session import Session
from metasparse.results import write_atomic

__all__ = ["RayClusterError", "run"]

EXPERIMENT = "ray"
# Set in the environment of Ray's workers, a directory where each trial writes its worker's pid
# (<ray trial id>.pid): how the tests find a worker to kill.
PID_DIR_ENV = "METASPARSE_RAY_PID_DIR"
_RECORDED = "recorded.json"
_RANDOM_DRAWS = 1000  # random search without n_trials: draws prepared for the walltime


class RayClusterError(MetasparseError):
    """The Ray cluster cannot be reached or used."""


@dataclass(frozen=True)
class Job:
    """What every Ray trial needs (shipped to the workers once, with tune.with_parameters)."""

    runner: TrialRunner
    pairs: tuple[tuple[str, int], ...]
    epochs: int
    space: ConfigurationSpace
    configs: dict[int, dict[str, Any]] = field(default_factory=dict)  # random search


def config_of(params: Mapping[str, Any], job: Job) -> dict[str, Any]:
    """The configuration of a Ray trial: the k-th random draw, or OptunaSearch's values."""
    if "index" in params:
        return job.configs[int(params["index"])]
    return config_values(params)


def trainable(params: dict[str, Any], job: Job) -> None:
    """A Ray trial: the configuration on every pair through the shared runner."""
    pid_dir = os.environ.get(PID_DIR_ENV)
    if pid_dir:
        path = Path(pid_dir) / f"{tune.get_context().get_trial_id()}.pid"
        path.write_text(str(os.getpid()))
    config = config_of(params, job)
    start = time.time()
    total = job.epochs * len(job.pairs)
    try:
        Configuration(job.space, values=config)
    except ForbiddenValueError as exc:
        outcome = _failed(config, job, "crashed", f"forbidden configuration: {one_line(exc)}",
                          start)
    else:
        def report(step: int, value: float) -> bool:
            if step < total:  # the last epoch is reported with the whole outcome below
                tune.report(_metrics(step, _failed(config, job, "pruned", "", start, value)))
            return False  # ASHA stops the trial itself

        outcome = job.runner.evaluate(config, job.epochs, job.pairs, report)
    tune.report(_metrics(total, outcome))


def _metrics(step: int, outcome: TrialOutcome) -> dict[str, Any]:
    metrics: dict[str, Any] = {"step": step, "outcome": json.dumps(outcome.to_json())}
    for k, cost in enumerate(outcome.costs):
        metrics["cost" if k == 0 else f"cost_{k + 1}"] = cost
    return metrics


def _failed(config: dict[str, Any], job: Job, status: str, error: str, start: float,
            value: float = math.nan) -> TrialOutcome:
    """A trial that did not finish every pair (no per-pair rows: Ray stopped or lost it), as the
    runner builds it: pruned at validation error `value`, or crashed at the crash costs."""
    return job.runner.outcome(config, job.epochs, job.pairs, [], status, error, value, start)


class _Recorder(tune.Callback):
    """Writes each finished Ray trial to the results store, once."""

    def __init__(self, session: Session, job: Job, directory: Path) -> None:
        self.session = session
        self.job = job
        self.path = directory / _RECORDED
        recorded = json.loads(self.path.read_text()) if self.path.is_file() else {}
        # an entry is written just before its row: one without a row is a trial whose run was
        # killed in between, which records again (a row without an entry would record twice)
        finished = session.store.finished_ids()
        self.recorded: dict[str, int] = {k: v for k, v in recorded.items() if v in finished}

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # Ray pickles its callbacks with the experiment; a restored experiment gets the
        # recorder of the run that restores it.
        return _active_recorder, ()

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial,
                          **info: Any) -> None:
        result = trial.last_result or {}
        if "outcome" in result:
            outcome = TrialOutcome.from_json(json.loads(result["outcome"]))
            if outcome.status == "pruned" and not outcome.error:
                outcome.error = f"stopped by ASHA after {result['step']} epochs over all pairs"
            outcome.end_time = time.time()
        else:
            outcome = self._crashed(trial, "trial ended without reporting a result")
        self._record(trial, outcome)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial,
                       **info: Any) -> None:
        error = trial.get_error()
        text = str(error).strip().splitlines()[-1] if error is not None else "unknown error"
        self._record(trial, self._crashed(
            trial, f"Ray trial failed {trial.num_failures} time(s): {' '.join(text.split())}"))

    def _crashed(self, trial: Trial, error: str) -> TrialOutcome:
        config = config_of(trial.config, self.job)
        start = time.time() - float((trial.last_result or {}).get("time_total_s", 0.0))
        return _failed(config, self.job, "crashed", error, start)

    def _record(self, trial: Trial, outcome: TrialOutcome) -> None:
        if trial.trial_id in self.recorded:
            return
        index = trial.config.get("index")  # random search: trial k is the k-th draw
        trial_id = int(index) if index is not None else 1 + max(
            [*self.session.store.finished_ids(), *self.recorded.values()], default=-1)
        self.recorded[trial.trial_id] = trial_id
        write_atomic(self.path, json.dumps(self.recorded, indent=0, sort_keys=True))
        self.session.record(outcome, trial_id)


_ACTIVE: list[_Recorder] = []


def _active_recorder() -> _Recorder:
    if not _ACTIVE:
        raise RuntimeError("a metasparse Ray experiment is restored outside metasparse.optimize")
    return _ACTIVE[-1]


# ------------------------------------------------------------------------------- cluster
def connect(address: str | None, num_cpus: int | None = None, **init: Any) -> bool:
    """Connect to the cluster (or start a local instance with `num_cpus`, all the machine's by
    default); `init`: more ray.init arguments (runtime_env). True when this call started Ray."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "configure_logging": False, **init}
    where = address or "a local Ray instance on 127.0.0.1"
    try:
        if address is None:
            _loopback_only()
            ray.init(address="local", num_cpus=num_cpus, **kwargs)
        else:
            _check_reachable(address)
            ray.init(address=address, **kwargs)
    except Exception as exc:  # Ray raises a bare Exception when a start times out (30 s)
        if ray.is_initialized():
            ray.shutdown()  # what this failed start left running
        verb = "start" if address is None else "reach the Ray cluster at"
        raise RayClusterError(f"cannot {verb} {where}: {one_line(exc)}") from None
    return True


def _loopback_only() -> None:
    """Keep a local instance's servers on 127.0.0.1. Ray 2.60 turns `_node_ip_address="127.0.0.1"`
    into the machine's network address and binds its servers to every interface; only its
    single-machine mode (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0) stays on loopback. The processes
    Ray starts read that from the environment; this driver read it when Ray was imported, so the
    imported flag is set too. Process-wide: a process that started a local instance does not
    join a remote cluster afterwards (connect returns early while Ray is initialized)."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray._private.ray_constants.ENABLE_RAY_CLUSTER = False


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not minutes, when nothing listens at host:port (Ray itself retries for
    minutes); `auto` is left to Ray, which fails at once where no cluster runs."""
    if address in ("auto", "local"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected auto, host:port or ray://host:port; got {address!r}")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
        pass


# ------------------------------------------------------------------------------- search
def _define_by_run(trial: optuna.Trial, space: ConfigurationSpace) -> dict[str, Any]:
    """OptunaSearch's define-by-run space: the active values (constants included, which
    OptunaSearch adds to the trial's config as they are returned). Ray pickles the searcher
    with its experiment (tuner.pkl), by this name: keep it, or restoring one breaks."""
    return suggest(trial, space)


def _searcher(session: Session, metric: str | list[str], mode: str | list[str],
              extension: int = 0) -> tuple[Searcher, dict[str, Any], dict[int, dict[str, Any]]]:
    """The search algorithm, Ray's param_space and (random search) the configurations.

    The `extension`-th experiment that extends a finished run samples from seed + extension:
    it starts without the earlier trials' results, and must not propose their configurations
    again."""
    backend = session.scenario.backend
    seed = None if backend.seed is None else backend.seed + extension
    if backend.search == "random":
        n = session.n_trials if session.n_trials is not None else _RANDOM_DRAWS
        configs = {k: session.warm_config(k) or sample(session, k) for k in range(n)}
        return BasicVariantGenerator(), {"index": tune.grid_search(list(configs))}, configs
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                             constant_liar=True) \
            if isinstance(metric, str) else optuna.samplers.NSGAIISampler(seed=seed)
    # the warm start's configurations are Optuna's first trials (not again when extending)
    warm = [searched(c, session.space) for c in session.warm] if not extension else None
    searcher = OptunaSearch(space=partial(_define_by_run, space=session.space), metric=metric,
                            mode=mode, sampler=sampler, seed=seed, points_to_evaluate=warm)
    return searcher, {}, {}


def _scheduler(session: Session) -> TrialScheduler:
    scenario = session.scenario
    if scenario.backend.scheduler != "asha":
        return FIFOScheduler()
    steps = scenario.budget.epochs * len(session.pairs)
    return ASHAScheduler(time_attr="step", max_t=steps,
                         grace_period=min(steps, scenario.budget.min_epochs or 1),
                         reduction_factor=3)


# ------------------------------------------------------------------------------- the run
def run(session: Session) -> None:
    directory = session.store.directory.resolve()
    experiment = directory / EXPERIMENT
    started = connect(session.scenario.backend.address)
    try:
        _tune(session, directory, experiment)
    finally:
        if started:
            ray.shutdown()


def _tune(session: Session, directory: Path, experiment: Path) -> None:
    scenario = session.scenario
    backend = scenario.backend
    multi = scenario.multi_objective
    metric: str | list[str] = ["cost", "cost_2"] if multi else "cost"
    mode: str | list[str] = ["min", "min"] if multi else "min"
    searcher, param_space, configs = _searcher(session, metric, mode)
    cpus = float(backend.cpus_per_trial or 1.0)
    job = Job(runner=dataclasses.replace(session.runner, threads=max(1, int(cpus))),
              pairs=tuple(session.pairs), epochs=scenario.budget.epochs, space=session.space,
              configs=configs)
    resources = {"cpu": cpus, "gpu": float(backend.gpus_per_trial or 0.0)}
    fn = tune.with_resources(tune.with_parameters(trainable, job=job), resources)
    recorder = _Recorder(session, job, experiment)
    _ACTIVE.append(recorder)
    try:
        if tune.Tuner.can_restore(str(experiment)):
            before = session.store.count()
            tune.Tuner.restore(str(experiment), trainable=fn, resume_unfinished=True,
                               resume_errored=True).fit()
            if session.store.count() == before and _short(session):
                # the restored experiment had nothing left to run: a larger n_trials extends
                # the run with a new experiment, the finished one kept beside it
                extension = next(k for k in itertools.count(1)
                                 if not (directory / f"{EXPERIMENT}-finished-{k}").exists())
                experiment.rename(directory / f"{EXPERIMENT}-finished-{extension}")
                searcher, param_space, _ = _searcher(session, metric, mode, extension)
                _new_tuner(session, fn, param_space, searcher, metric, mode, directory).fit()
        else:
            _new_tuner(session, fn, param_space, searcher, metric, mode, directory).fit()
    finally:
        _ACTIVE.remove(recorder)
    if _short(session):
        # Tune ends fit() quietly on Ctrl-C (its state saved): the run is interrupted, and
        # the same command resumes it.
        raise KeyboardInterrupt


def _short(session: Session) -> bool:
    """Whether the run has fewer trials than asked for and time to run more."""
    return session.n_trials is not None and session.store.count() < session.n_trials \
        and not session.out_of_time()


def _new_tuner(session: Session, fn: Any, param_space: dict[str, Any], searcher: Searcher,
               metric: str | list[str], mode: str | list[str], directory: Path) -> tune.Tuner:
    scenario = session.scenario
    backend = scenario.backend
    remaining = None if session.n_trials is None else session.n_trials - session.store.count()
    if backend.search == "random":
        finished = session.store.finished_ids()  # reads trials.csv: once, not once per draw
        todo = [k for k in param_space["index"]["grid_search"] if k not in finished]
        param_space = {"index": tune.grid_search(todo)}
        num_samples = 1
    else:
        num_samples = -1 if remaining is None else remaining
    walltime = session.remaining_time()
    tune_config = tune.TuneConfig(
        metric=None if isinstance(metric, list) else metric,
        mode=None if isinstance(mode, list) else mode,
        search_alg=searcher, scheduler=_scheduler(session), num_samples=num_samples,
        max_concurrent_trials=backend.max_concurrent or scenario.n_workers,
        time_budget_s=None if math.isinf(walltime) else walltime, reuse_actors=False,
    )
    run_config = tune.RunConfig(
        name=EXPERIMENT, storage_path=str(directory), verbose=0,
        failure_config=tune.FailureConfig(max_failures=backend.max_failures or 0),
        callbacks=[_active_recorder()],
    )
    return tune.Tuner(fn, param_space=param_space, tune_config=tune_config,
                      run_config=run_config)
