"""A run in progress: what every backend adapter gets (space, runner, store, budget, progress)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from ConfigSpace import ConfigurationSpace

from metasparse.optimize._progress import Progress
from metasparse.optimize._runner import Report, TrialOutcome, TrialRunner, abort_all
from metasparse.optimize._scenario import Scenario
from metasparse.optimize._store import ResultsStore


@dataclass
class Proposal:
    """A configuration a backend wants evaluated, with what it needs back."""

    config: dict[str, Any]
    budget: int
    report: Report | None = None
    trial_id: int | None = None
    payload: Any = None


@dataclass
class Session:
    """One run: the backends ask it what to evaluate on, and tell it what finished."""

    scenario: Scenario
    space: ConfigurationSpace
    store: ResultsStore
    runner: TrialRunner
    progress: Progress
    deadline: float
    pairs: list[tuple[str, int]] = field(default_factory=list)
    # what the backend evaluates first (the scenario's warm_start), in order
    warm: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_trials(self) -> int | None:
        return self.scenario.n_trials

    def warm_config(self, index: int) -> dict[str, Any] | None:
        """The `index`-th warm-start configuration, None past the last."""
        return self.warm[index] if index < len(self.warm) else None

    def out_of_time(self) -> bool:
        return time.time() >= self.deadline

    def remaining_time(self) -> float:
        return max(0.0, self.deadline - time.time())

    def done(self, pending: int = 0) -> bool:
        """True when no further trial may start: n_trials finished or started, or out of time."""
        if self.out_of_time():
            return True
        return self.n_trials is not None and self.store.count() + pending >= self.n_trials

    def record(self, outcome: TrialOutcome, trial_id: int | None = None) -> int:
        trial_id = self.store.record(outcome, trial_id)
        self.progress.update(self.store.count(), self.store.incumbent())
        return trial_id

    def drive(self, propose: Callable[[], Proposal | None],
              finish: Callable[[Proposal, TrialOutcome], None]) -> None:
        """Keep n_workers trials running: `propose()` gives the next one (None: stop
        proposing), `finish` gets each outcome in the main thread."""
        workers = self.scenario.n_workers
        in_flight: dict[Future[TrialOutcome], Proposal] = {}
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trial") as pool:
            try:
                exhausted = False
                while True:
                    while not exhausted and len(in_flight) < workers \
                            and not self.done(len(in_flight)):
                        proposal = propose()
                        if proposal is None:
                            exhausted = True
                            break
                        future = pool.submit(self.runner.evaluate, proposal.config,
                                             proposal.budget, self.pairs, proposal.report)
                        in_flight[future] = proposal
                    if not in_flight:
                        return
                    finished, _ = wait(in_flight, timeout=1.0, return_when=FIRST_COMPLETED)
                    for future in finished:
                        finish(in_flight.pop(future), future.result())
            except BaseException:
                abort_all()
                raise
