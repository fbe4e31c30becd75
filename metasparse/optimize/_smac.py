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
`overwrite=True` and told the finished trials, so SMAC never asks on stdin and a longer
--n-trials just extends the run. Failed trials come back as costs (the crash costs), never as
exceptions, so SMAC's forest always sees finite values. With n_workers > 1 SMAC runs trials
through Dask; the workers are threads of a local cluster (each trial is its own process anyway)
and the target function is this module's `target`, picklable as Dask needs.
"""

from __future__ import annotations

import logging
import math
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
from metasparse.optimize._runner import TrialOutcome, TrialRunner
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
    epochs = job.epochs if budget is None else max(1, round(budget))
    if instance is None:
        pairs = list(job.pairs)
    else:
        pairs = [(instance, job.seeds[0] if job.deterministic else int(seed))]
    outcome = job.runner.evaluate(config_values(config), epochs, pairs)
    cost = outcome.costs if len(outcome.costs) > 1 else outcome.costs[0]
    return cost, {_KEY: outcome.to_json()}


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
    try:
        facade = facade_class(
            smac_scenario, partial(target, job=job), overwrite=True, logging_level=logging.ERROR,
            callbacks=[_Recorder(session)], dask_client=client, **kwargs,
        )
        _tell_finished(facade, session, ac, deterministic)
        if not session.done():
            # SMAC's random forest predicts with n_jobs=-1, so joblib hands its 10 small trees
            # to a thread pool that it polls every 10 ms: on the quickstart that slept 0.14 s
            # per trial (cProfile), half a trial's training. The facades do not expose n_jobs;
            # joblib's sequential backend computes the same predictions in microseconds.
            with joblib.parallel_config(backend="sequential"):
                facade.optimize()
    finally:
        if client is not None:
            client.close()
            client.cluster.close()


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


def _tell_finished(facade: Any, session: Session, ac: bool, deterministic: bool) -> None:
    """Tell a fresh facade the trials of the results table. SMAC's intensifier reuses the seeds
    it finds in its run history, so a deterministic run goes on with the first scenario seed."""
    for row in session.store.rows():
        config = configuration_from_values(session.space, session.store.config_of(row))
        instance = row["instance"] if ac else None
        seed = session.scenario.seeds[0] if deterministic else int(row["seed"])
        budget = float(row["budget"]) if session.scenario.backend.facade == "mf" else None
        costs = session.store.costs_of(row)
        info = TrialInfo(config=config, instance=instance, seed=seed, budget=budget)
        value = TrialValue(cost=costs if len(costs) > 1 else costs[0],
                           time=float(row["wall_time_s"] or 0.0), status=StatusType.SUCCESS,
                           starttime=timestamp(row["start_time"]),
                           endtime=timestamp(row["end_time"]))
        facade.tell(info, value, save=False)


def _dask_client(n_workers: int) -> Any:
    """A local Dask cluster of threads (each trial is its own process already)."""
    from dask.distributed import Client, LocalCluster

    for name in ("distributed", "dask"):
        logging.getLogger(name).setLevel(logging.ERROR)
    cluster = LocalCluster(n_workers=n_workers, processes=False, threads_per_worker=1,
                           dashboard_address=None)
    return Client(cluster)
