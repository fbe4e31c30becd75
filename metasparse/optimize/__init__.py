"""Tuning the sparse trainer: scenarios, one trial runner, a results store, and thin backend
adapters (SMAC, Optuna, Ray Tune, random search) in a registry (BACKENDS).

    from metasparse.optimize import load_scenario, optimize
    summaries = optimize(load_scenario("scenarios/quickstart.yaml"))
    print(summaries[0].table())

Results go to the scenario's output directory in the format of docs/CONTRACTS.md, written
through metasparse.results; running the same scenario again resumes it.
"""

from metasparse._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "_backends": ["BACKENDS", "Backend", "backend_names", "register_backend"],
    "_evaluate": ["evaluate_run"],
    "_optimize": ["OptimizationInterrupted", "RunSummary", "optimize", "summary_table"],
    "_optuna": ["optuna_distribution"],
    "_runner": ["PairResult", "TrialInterrupted", "TrialOutcome", "TrialRunner",
                "TrialStartFailed"],
    "_scenario": ["Budget", "Scenario", "load_scenario", "shipped_scenarios"],
    "_store": ["ResultsStore"],
})


def connect_ray(address: str | None, num_cpus: int | None = None, **init) -> bool:
    """Connect to the Ray cluster at `address` (None: $RAY_ADDRESS, else a local instance bound
    to 127.0.0.1 with `num_cpus`); `init`: more ray.init arguments. True when this call started
    Ray. An address that cannot be reached is one RayClusterError line. Imports Ray (slow)."""
    from metasparse.optimize._ray import connect

    return connect(address, num_cpus, **init)

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
    "TrialStartFailed",
    "backend_names",
    "connect_ray",
    "evaluate_run",
    "load_scenario",
    "optimize",
    "optuna_distribution",
    "register_backend",
    "shipped_scenarios",
    "summary_table",
]
