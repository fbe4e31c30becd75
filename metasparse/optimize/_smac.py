"""SMAC 2.4: facades hpo, mf, ac and bb over the shared trial runner.

- hpo (HyperparameterOptimizationFacade) and bb (BlackBoxFacade): one SMAC trial evaluates
  every instance and seed; its cost is the mean.
- mf (MultiFidelityFacade): Hyperband over epochs from budget.min_epochs to budget.epochs.
- ac (AlgorithmConfigurationFacade): SMAC picks the instance of each trial and knows the
  instances' meta-features; with one seed the run is deterministic, with more SMAC draws as
  many seeds of its own.

n_trials counts SMAC's trials: with mf each (configuration, budget) evaluation, with ac each
(configuration, instance, seed) evaluation, otherwise each configuration.

The warm start's configurations are the first of SMAC's initial design (its additional
configurations, moved before its own).

The results table is the truth: SMAC's own state (smac/) is rebuilt every start with
`overwrite=True` (so SMAC never asks on stdin) by replaying the finished trials: a fresh facade
with the same seed is asked for them and told their results in order, which leaves it where an
uninterrupted run would be, so a resumed run proposes what an uninterrupted one does (a longer
--n-trials, which resizes SMAC's initial design, extends the run without that promise). Failed
trials come back as costs (the crash costs), never as exceptions, so SMAC's forest always sees
finite values. With n_workers > 1 SMAC runs trials
through Dask; the workers are threads of a local cluster (each trial is its own process anyway)
and the target function is this module's `target`, picklable as Dask needs.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import joblib
from ConfigSpace import Configuration
from smac import (
    AlgorithmConfigurationFacade,
    BlackBoxFacade,
    HyperparameterOptimizationFacade,
    MultiFidelityFacade,
)
from smac import Scenario as SmacScenario
from smac.callback import Callback
from smac.runhistory import StatusType, TrialInfo, TrialValue

from metasparse.optimize._configs import config_values, configuration_from_values
from metasparse.optimize._runner import TrialOutcome, TrialRunner, TrialStartFailed
from metasparse.optimize._session import Session
from metasparse.results import timestamp

FACADES = {
    "ac": AlgorithmConfigurationFacade,
    "bb": BlackBoxFacade,
    "hpo": HyperparameterOptimizationFacade,
    "mf": MultiFidelityFacade,
}
_UNLIMITED_TRIALS = 10**9
_KEY = "metasparse"


@dataclass(frozen=True)
class Job:
    """What a SMAC trial needs besides its configuration (picklable for Dask)."""

    runner: TrialRunner
    pairs: tuple[tuple[str, int], ...]
    epochs: int
    seeds: tuple[int, ...]
    deterministic: bool


def target(config: Configuration, seed: int = 0, budget: float | None = None,
           instance: str | None = None, *, job: Job) -> tuple[Any, dict[str, Any]]:
    """SMAC's target function: evaluate through the trial runner, return the cost(s) and the
    whole outcome (recorded by the main process when SMAC is told)."""
    epochs = job.epochs if budget is None else _epochs(budget)
    if instance is None:
        pairs = list(job.pairs)
    else:
        pairs = [(instance, job.seeds[0] if job.deterministic else int(seed))]
    try:
        outcome = job.runner.evaluate(config_values(config), epochs, pairs)
    except TrialStartFailed as exc:
        raise _Stop(exc) from None
    cost = outcome.costs if len(outcome.costs) > 1 else outcome.costs[0]
    return cost, {_KEY: outcome.to_json()}


class _Stop(BaseException):
    """Carries an error that ends the run through SMAC, which records any Exception that its
    target function raises as a crashed trial and asks for the next."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _epochs(budget: float | None) -> int | None:
    """The epochs a trial trains for at SMAC's (real-valued) budget."""
    return None if budget is None else max(1, round(budget))


class _Recorder(Callback):
    """Writes every finished trial to the results store; stops SMAC when the run is done."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session

    def on_tell_end(self, smbo: Any, info: TrialInfo, value: TrialValue) -> bool | None:
        if _KEY not in value.additional_info:
            return None  # a finished trial told again on resume
        self._session.record(TrialOutcome.from_json(value.additional_info[_KEY]))
        return False if self._session.done() else None


def run(session: Session) -> None:
    if session.done():
        return  # a finished run: nothing to ask SMAC
    scenario = session.scenario
    facade_name = scenario.backend.facade or "hpo"
    facade_class = FACADES[facade_name]
    ac = facade_name == "ac"
    deterministic = not ac or len(scenario.seeds) == 1
    smac_scenario = SmacScenario(
        configspace=session.space,
        name="smac",
        output_directory=session.store.directory / "smac",
        deterministic=deterministic,
        objectives=list(scenario.objectives) if scenario.multi_objective else "val_error",
        crash_cost=session.runner.crash_costs() if scenario.multi_objective
        else session.runner.crash_costs()[0],
        walltime_limit=session.remaining_time(),
        n_trials=scenario.n_trials or _UNLIMITED_TRIALS,
        instances=list(scenario.instances) if ac else None,
        instance_features=_instance_features(scenario) if ac else None,
        min_budget=scenario.budget.min_epochs if facade_name == "mf" else None,
        max_budget=scenario.budget.epochs if facade_name == "mf" else None,
        seed=scenario.backend.seed,
        n_workers=1,
    )
    job = Job(session.runner, tuple(session.pairs), scenario.budget.epochs,
              tuple(scenario.seeds), deterministic)
    kwargs: dict[str, Any] = {}
    if facade_name in ("hpo", "ac"):
        calls = len(scenario.instances) * len(scenario.seeds) if ac else 1
        kwargs["intensifier"] = facade_class.get_intensifier(smac_scenario, max_config_calls=calls)
    if ac:
        # SMAC 2.4.1 trains its forest on PCA-reduced instance features (once there are 4 or
        # more features and more trials than components) but predicts with the raw ones, which
        # fails an assertion; the few meta-features here need no reduction.
        kwargs["model"] = facade_class.get_model(smac_scenario, pca_components=None)
    if session.warm:
        kwargs["initial_design"] = _warm_first(facade_class, smac_scenario, session)
    client = _dask_client(scenario.n_workers) if scenario.n_workers > 1 else None

    def fresh() -> Any:
        return facade_class(
            smac_scenario, partial(target, job=job), overwrite=True, logging_level=logging.ERROR,
            callbacks=[_Recorder(session)], dask_client=client, **kwargs,
        )

    try:
        told = _told(session, ac, deterministic)
        facade = fresh()
        if told and not (scenario.n_workers == 1 and _replay(facade, told)):
            facade = fresh()
            for info, value in told:
                facade.tell(info, value, save=False)
        if not session.done():  # out of time while replaying
            with _asking():
                facade.optimize()
    except _Stop as stop:
        raise stop.error from None
    finally:
        if client is not None:
            client.close()
            client.cluster.close()


@contextlib.contextmanager
def _asking() -> Iterator[None]:
    """Where SMAC asks for configurations. Its random forest predicts with n_jobs=-1, so joblib
    hands its 10 small trees to a thread pool that it polls every 10 ms: on the quickstart that
    slept 0.14 s per trial (cProfile), half a trial's training; the facades do not expose
    n_jobs, and joblib's sequential backend computes the same predictions in microseconds.
    SMAC 2.4's local search also averages an empty list of timings for a debug message, whose
    numpy warnings ("Mean of empty slice") land in the middle of progress bars."""
    with joblib.parallel_config(backend="sequential"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        warnings.filterwarnings("ignore", "invalid value encountered in scalar divide",
                                RuntimeWarning)
        yield


def _warm_first(facade_class: Any, smac_scenario: SmacScenario, session: Session) -> Any:
    """The facade's own initial design with the warm start's configurations as its additional
    configurations, put first (SMAC appends them after its own design)."""
    # already cut to what SMAC's design holds (SmacBackend.warm_start_limit, _optimize)
    warm = [configuration_from_values(session.space, c) for c in session.warm]
    design = facade_class.get_initial_design(smac_scenario, additional_configs=warm)
    select = design.select_configurations

    def warm_first() -> list[Configuration]:
        configs = select()
        return warm + [c for c in configs if c not in warm]

    design.select_configurations = warm_first
    return design


def _instance_features(scenario: Any) -> dict[str, list[float]]:
    """Meta-features of each tuning instance (the keys all instances share, sorted)."""
    from metasparse.data import load_dataset

    features = {name: load_dataset(name, data_dir=scenario.data_dir).meta_features
                for name in scenario.instances}
    keys = sorted(set.intersection(*(set(f) for f in features.values())))
    return {name: [_finite(f[key]) for key in keys] for name, f in features.items()}


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0


def _told(session: Session, ac: bool,
          deterministic: bool) -> list[tuple[TrialInfo, TrialValue]]:
    """The trials of the results table as SMAC was told them, in the order they finished. SMAC's
    intensifier reuses the seeds it finds in its run history, so a deterministic run goes on
    with the first scenario seed."""
    told = []
    for row in session.store.rows():
        config = configuration_from_values(session.space, session.store.config_of(row))
        instance = row["instance"] if ac else None
        seed = session.scenario.seeds[0] if deterministic else int(row["seed"])
        budget = float(row["budget"]) if session.scenario.backend.facade == "mf" else None
        costs = session.store.costs_of(row)
        info = TrialInfo(config=config, instance=instance, seed=seed, budget=budget)
        told.append((info, TrialValue(
            cost=costs if len(costs) > 1 else costs[0], time=float(row["wall_time_s"] or 0.0),
            status=StatusType.SUCCESS, starttime=timestamp(row["start_time"]),
            endtime=timestamp(row["end_time"]))))
    return told


def _replay(facade: Any, told: list[tuple[TrialInfo, TrialValue]]) -> bool:
    """Ask a fresh facade for the recorded trials and tell it their results, in order. With the
    same seed and the same results told back in the same order, SMAC proposes the recorded
    trials again, so its random state, model and intensifier end where an uninterrupted run's
    did, and it asks next what that run would have asked (the trial a kill lost, first).
    False at the first trial it does not propose (a run recorded before a change of settings
    or code, or by several workers, which finish out of order): the caller then tells a fresh
    facade every result instead, which resumes the search but not the same sequence."""
    with _asking():
        for recorded, value in told:
            asked = facade.ask()
            if (asked.config, asked.instance, _epochs(asked.budget)) != (
                    recorded.config, recorded.instance, _epochs(recorded.budget)):
                return False
            facade.tell(asked, value, save=False)
    return True


def _dask_client(n_workers: int) -> Any:
    """A local Dask cluster of threads (each trial is its own process already)."""
    from dask.distributed import Client, LocalCluster

    for name in ("distributed", "dask"):
        logging.getLogger(name).setLevel(logging.ERROR)
    cluster = LocalCluster(n_workers=n_workers, processes=False, threads_per_worker=1,
                           dashboard_address=None)
    return Client(cluster)
