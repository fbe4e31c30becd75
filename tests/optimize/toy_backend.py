"""A backend that only the tests register: its settings model and its adapter in one module,
registered without touching metasparse (register() / registered()). It walks the random
backend's draws with a stride: trial k evaluates draw k * stride (after the warm start's
configurations, which every backend evaluates first)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import Field

from metasparse.optimize import BACKENDS, Backend, register_backend
from metasparse.optimize._random import sample
from metasparse.optimize._runner import TrialOutcome
from metasparse.optimize._session import Proposal, Session

NAME = "toy"


class ToyBackend(Backend):
    adapter = __name__
    name: Literal["toy"] = "toy"
    stride: int = Field(default=1, ge=1)


def run(session: Session) -> None:
    stride = session.scenario.backend.stride
    finished = session.store.finished_ids()
    todo = (k for k in itertools.count() if k not in finished)

    def propose() -> Proposal | None:
        index = next(todo)
        config = session.warm_config(index) or sample(session, index * stride)
        return Proposal(config, session.scenario.budget.epochs, trial_id=index)

    def finish(proposal: Proposal, outcome: TrialOutcome) -> None:
        session.record(outcome, proposal.trial_id)

    session.drive(propose, finish)


def register() -> None:
    register_backend(ToyBackend)


@contextmanager
def registered() -> Iterator[type[ToyBackend]]:
    """The toy backend registered for the duration of the block."""
    register()
    try:
        yield ToyBackend
    finally:
        BACKENDS.unregister(NAME)


# The command line in a subprocess, with the toy backend registered first.
CLI = ("-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
             "import toy_backend; toy_backend.register(); "
             "from metasparse.cli import main; sys.exit(main(sys.argv[1:]))")
