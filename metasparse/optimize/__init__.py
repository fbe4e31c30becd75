"""Tuning the sparse trainer: scenarios, one trial runner, a results store, and thin backend
adapters (SMAC, Optuna, Ray Tune, random search) in a registry (BACKENDS).

    from metasparse.optimize import load_scenario, optimize
    summaries = optimize(load_scenario("scenarios/quickstart.yaml"))
    print(summaries[0].table())

Results go to the scenario's output directory in the format of docs/CONTRACTS.md, written
through metasparse.results; running the same scenario again resumes it.
"""

from metasparse.optimize._backends import BACKENDS, Backend, backend_names, register_backend
from metasparse.optimize._evaluate import evaluate_run
from metasparse.optimize._optimize import (
    OptimizationInterrupted,
    RunSummary,
    optimize,
    summary_table,
)
from metasparse.optimize._runner import (
    PairResult,
    TrialInterrupted,
    TrialOutcome,
    TrialRunner,
)
from metasparse.optimize._scenario import (
    Budget,
    Scenario,
    load_scenario,
    shipped_scenarios,
)
from metasparse.optimize._store import ResultsStore

__all__ = [
    "BACKENDS",
    "Backend",
    "Budget",
    "OptimizationInterrupted",
    "PairResult",
    "ResultsStore",
    "RunSummary",
    "Scenario",
    "TrialInterrupted",
    "TrialOutcome",
    "TrialRunner",
    "backend_names",
    "evaluate_run",
    "load_scenario",
    "optimize",
    "register_backend",
    "shipped_scenarios",
    "summary_table",
]
