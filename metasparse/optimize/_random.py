"""Random search: the baseline every other backend must beat.

Trial k evaluates the k-th warm-start configuration, past them the k-th configuration drawn
with seed (backend.seed, k), so a resumed run draws exactly the configurations of the trials it
has not finished yet.
"""

from __future__ import annotations

import itertools

from metasparse.optimize._configs import config_values
from metasparse.optimize._runner import TrialOutcome
from metasparse.optimize._session import Proposal, Session


def sample(session: Session, index: int) -> dict[str, object]:
    """The `index`-th random draw."""
    session.space.seed(session.scenario.backend.seed * 1_000_003 + index)
    return config_values(session.space.sample_configuration())


def run(session: Session) -> None:
    finished = session.store.finished_ids()
    todo = (k for k in itertools.count() if k not in finished)
    budget = session.scenario.budget.epochs

    def propose() -> Proposal | None:
        index = next(todo)
        config = session.warm_config(index) or sample(session, index)
        return Proposal(config, budget, trial_id=index)

    def finish(proposal: Proposal, outcome: TrialOutcome) -> None:
        session.record(outcome, proposal.trial_id)

    session.drive(propose, finish)
