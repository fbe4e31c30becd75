"""Optuna: TPE (default), GP or NSGA-II, with a Hyperband pruner fed per-epoch validation error.

Optuna has no ConfigSpace bridge, so the space is walked define-by-run: parameters in
topological order, a conditional one suggested only when its parents' conditions hold for the
values suggested so far, constants copied. A forbidden combination is told to Optuna as a trial
with the crash costs (so the sampler learns to avoid it) and is not a trial of the results table.

The warm start's configurations are enqueued (`study.enqueue_trial`): they are the first trials.

The study lives in `optuna.journal` in the output directory; `--n-workers K` runs K trials at a
time (a second `metasparse optimize` on the same directory is refused: a results directory
belongs to one run, _lock.py). Every worker counts the trials of the results table plus the
ones running in live workers, so the study ends with exactly n_trials recorded trials. A trial
is asked and marked with its worker (host:pid) under the results directory's lock, so a
RUNNING trial without a mark, or marked by a dead process of this host, belongs to a killed
run: on the next start it is run again under its own number (or taken from the results table
when it was recorded there). A start replays the journal's trials into a sampler of the
backend's seed (`_replayed`), so a resumed run proposes what an uninterrupted one would.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import warnings
from collections.abc import Collection
from typing import IO, Any

import optuna
from ConfigSpace import Configuration, ConfigurationSpace
from ConfigSpace.exceptions import ForbiddenValueError
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import Trial, TrialState

from metasparse.optimize._configs import config_values
from metasparse.optimize._runner import Report, TrialOutcome
from metasparse.optimize._session import Proposal, Session
from metasparse.results import plain
from metasparse.space import choices_of, is_active, is_integer, kind_of

WORKER = f"{socket.gethostname()}:{os.getpid()}"
_MAX_FORBIDDEN_IN_A_ROW = 1000


class _FlockLock(optuna.storages.journal.JournalFileOpenLock):
    """The journal's lock as an flock, which the kernel releases when its process dies: Optuna's
    file locks outlive a SIGKILL and stall the next run for their grace period."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._path = path
        self._thread_lock = threading.Lock()
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        self._thread_lock.acquire()
        self._handle = open(self._path, "a")  # noqa: SIM115 (held until release)
        fcntl.flock(self._handle, fcntl.LOCK_EX)
        return True

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        self._thread_lock.release()


def optuna_distribution(hp: Any) -> BaseDistribution:
    """The Optuna distribution of a ConfigSpace parameter (choices, ordinals and constants as
    categorical): what a trial is asked for, and what an exported trial records."""
    if kind_of(hp) != "float":
        return CategoricalDistribution([plain(v) for v in choices_of(hp)])
    if is_integer(hp):
        return IntDistribution(int(hp.lower), int(hp.upper), log=bool(hp.log))
    return FloatDistribution(float(hp.lower), float(hp.upper), log=bool(hp.log))


def suggest(trial: Trial, space: ConfigurationSpace) -> dict[str, Any]:
    """Values for the active parameters of `space`, suggested by `trial` one by one."""
    values: dict[str, Any] = {}
    for name in space:  # topological order: parents before children
        if not is_active(space, name, values):
            continue
        hp = space[name]
        if kind_of(hp) == "constant":
            values[name] = hp.value
            continue
        distribution = optuna_distribution(hp)
        if isinstance(distribution, CategoricalDistribution):
            values[name] = trial.suggest_categorical(name, list(distribution.choices))
        elif isinstance(distribution, FloatDistribution):
            values[name] = trial.suggest_float(name, distribution.low, distribution.high,
                                               log=distribution.log)
        else:
            values[name] = trial.suggest_int(name, distribution.low, distribution.high,
                                             log=distribution.log)
    return values


def searched(values: dict[str, Any], space: ConfigurationSpace) -> dict[str, Any]:
    """The values that `suggest` asks a trial for (constants are not suggested): what an
    enqueued trial fixes."""
    return {k: v for k, v in values.items() if kind_of(space[k]) != "constant"}


def _sampler(session: Session, offset: int) -> optuna.samplers.BaseSampler:
    backend = session.scenario.backend
    seed = backend.seed + offset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if backend.sampler == "gp":
            return optuna.samplers.GPSampler(seed=seed)
        if backend.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                          constant_liar=True)


def _pruner(session: Session) -> optuna.pruners.BasePruner:
    scenario = session.scenario
    if scenario.backend.pruner != "hyperband":
        return optuna.pruners.NopPruner()
    steps = scenario.budget.epochs * len(session.pairs)
    return optuna.pruners.HyperbandPruner(min_resource=scenario.budget.min_epochs,
                                          max_resource=steps, reduction_factor=3)


def _live(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a RUNNING trial still has a worker; call it holding the results directory's lock
    (under which workers ask and mark their trials, so an unmarked one has lost its worker)."""
    owner = trial.user_attrs.get("worker")
    if owner is None:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _settle(study: optuna.Study, session: Session) -> list[Trial]:
    """Finish the trials a killed process left RUNNING that the results table recorded; the
    others were lost with their process: marked as this worker's, they are returned to be run
    again, first (asked under the same history as when they were lost, they are what an
    uninterrupted run trained)."""
    rows = {int(r["trial_id"]): r for r in session.store.rows()}
    lost = []
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if _live(frozen):
            continue
        row = rows.get(frozen.number)
        if row is None:
            trial = Trial(study, frozen._trial_id)  # Optuna names a stored trial by its id
            trial.set_user_attr("worker", WORKER)
            lost.append(trial)
        elif row["status"] == "pruned":
            study.tell(frozen.number, state=TrialState.PRUNED)
        else:
            costs = session.store.costs_of(row)
            study.tell(frozen.number, costs if len(costs) > 1 else costs[0])
    return lost


def _replayed(study: optuna.Study, session: Session,
              lost: Collection[int]) -> optuna.samplers.BaseSampler:
    """A sampler where an uninterrupted run's would be: the backend's seed, and the study's
    trials asked again from it in order in a study of its own and told as they ended (every
    sampler's random state and caches follow the trials it was asked for, which a fresh sampler
    given the finished trials does not). When it proposes other values than were recorded (a
    run recorded by several workers, which finish out of order, or before a change of code),
    a sampler seeded apart by the number of trials instead: the search goes on, not the same
    sequence. The `lost` trials (by id: RUNNING, their process dead) get the values their
    replay suggested and they never got; a trial another worker is running is left alone."""
    asked = [t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]
    sampler = _sampler(session, 0)
    shadow = optuna.create_study(study_name=study.study_name, directions=study.directions,
                                 sampler=sampler, pruner=_pruner(session))
    for values in session.warm:
        shadow.enqueue_trial(searched(values, session.space))
    for frozen in asked:
        trial = shadow.ask()
        if not frozen.user_attrs.get("surplus"):  # a surplus trial was failed unsuggested
            suggest(trial, session.space)
        # a trial killed while it was being suggested holds the first of its values only
        mine = frozen.state == TrialState.RUNNING and frozen._trial_id in lost
        given = {k: v for k, v in trial.params.items() if k in frozen.params} \
            if mine else trial.params
        if (trial.number, given) != (frozen.number, frozen.params):
            return _sampler(session, len(asked))
        if frozen.state == TrialState.RUNNING:
            if mine:
                _complete(study, frozen, trial)
            continue  # lost: run again next, its sampling replayed; or running elsewhere
        for step, value in frozen.intermediate_values.items():
            trial.report(value, step)
        shadow.tell(trial, frozen.values if frozen.state == TrialState.COMPLETE else None,
                    state=frozen.state)
    return sampler


def _complete(study: optuna.Study, frozen: optuna.trial.FrozenTrial, replayed: Trial) -> None:
    """Give a lost trial the values that its replay suggested and it never got (it was killed
    while being suggested), so that it runs again as it would have run."""
    for name, value in replayed.params.items():
        if name not in frozen.params:
            distribution = replayed.distributions[name]
            study._storage.set_trial_param(frozen._trial_id, name,
                                           distribution.to_internal_repr(value), distribution)


def _surplus(study: optuna.Study, trial: Trial, session: Session) -> bool:
    """True when n_trials earlier trials are recorded or running (other workers included)."""
    if session.n_trials is None:
        return False
    recorded = session.store.finished_ids()
    earlier = [
        t for t in study.get_trials(deepcopy=False)
        if t.number < trial.number
        and (t.number in recorded or (t.state == TrialState.RUNNING and _live(t)))
    ]
    return len(earlier) >= session.n_trials


def _report(trial: Trial) -> Report:
    def report(step: int, value: float) -> bool:
        trial.report(value, step)
        return trial.should_prune()

    return report


def run(session: Session) -> None:
    scenario = session.scenario
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = session.store.directory / "optuna.journal"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(path), lock_obj=_FlockLock(str(path) + ".lock")))
    study = optuna.create_study(
        study_name=scenario.name, storage=storage, load_if_exists=True,
        directions=["minimize"] * len(scenario.objectives),
        sampler=optuna.samplers.RandomSampler(),  # samples nothing: replaced below
        pruner=_pruner(session),
    )
    with session.store.lock():
        lost = _settle(study, session)
        for values in session.warm:  # the warm start: the first trials asked
            study.enqueue_trial(searched(values, session.space), skip_if_exists=True)
    # after _settle, whose trials (already sampled) must not draw from the sampler again;
    # they are taken again (under the placeholder) with the values the replay completed
    sampler = _replayed(study, session, {trial._trial_id for trial in lost})
    lost = [Trial(study, trial._trial_id) for trial in lost]
    study.sampler = sampler
    budget = scenario.budget.epochs
    prune = scenario.backend.pruner == "hyperband"

    def propose() -> Proposal | None:
        for _ in range(_MAX_FORBIDDEN_IN_A_ROW):
            with session.store.lock():
                trial = lost.pop(0) if lost else study.ask()
                trial.set_user_attr("worker", WORKER)
                surplus = _surplus(study, trial, session)
            if surplus:
                trial.set_user_attr("surplus", True)
                study.tell(trial, state=TrialState.FAIL)
                return None
            values = suggest(trial, session.space)
            try:
                Configuration(session.space, values=values)
            except ForbiddenValueError:
                trial.set_user_attr("forbidden", True)
                costs = session.runner.crash_costs()
                study.tell(trial, costs if len(costs) > 1 else costs[0])
                continue
            return Proposal(config_values(values), budget, _report(trial) if prune else None,
                            trial.number, trial)
        raise RuntimeError(f"{_MAX_FORBIDDEN_IN_A_ROW} forbidden configurations in a row: "
                           "the space's forbidden clauses exclude nearly all of it")

    def finish(proposal: Proposal, outcome: TrialOutcome) -> None:
        trial: Trial = proposal.payload
        session.record(outcome, trial.number)
        trial.set_user_attr("status", outcome.status)
        if outcome.status == "pruned":
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, outcome.costs if len(outcome.costs) > 1 else outcome.costs[0])

    session.drive(propose, finish)
