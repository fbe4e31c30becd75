"""Results directories made by the real optimizer on tiny scenarios (a few seconds each), for the
tests of analysis/ and dashboard/."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

TINY = {
    "space": "set-rigl",
    # A 32-unit MLP with sparse first and last layers: every trial trains in well under a second.
    "fixed": {"model": "mlp", "hidden_sizes": "32", "dense_first_layer": False,
              "dense_last_layer": False},
    "instances": ["digits", "wine"],
    "heldout_instances": ["breast_cancer"],
    "seeds": [0],
    "budget": {"epochs": 2},
}


def run_optimizer(directory: Path, name: str, **settings) -> Path:
    """Write a scenario file, run `optimize` on it and return its results directory."""
    from metasparse.optimize import load_scenario, optimize

    directory.mkdir(parents=True, exist_ok=True)
    output = directory / "results" / name
    scenario = {"name": name, **TINY, "output": str(output), **settings}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    optimize(load_scenario(path), progress=False)
    return output


@pytest.fixture
def optimizer_run():
    """`run_optimizer`, for tests that need a scenario of their own."""
    return run_optimizer


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """10 trials of random search on digits and wine (single objective, one held-out set)."""
    return run_optimizer(tmp_path_factory.mktemp("tiny"), "tiny", n_trials=10,
                         backend={"name": "random", "seed": 0})


@pytest.fixture(scope="session")
def tiny_optuna_run(tiny_run) -> Path:
    """The same scenario tuned by Optuna's TPE (another optimizer to compare with)."""
    return run_optimizer(tiny_run.parent.parent, "tiny-optuna", n_trials=6,
                         backend={"name": "optuna", "seed": 1, "pruner": "none"})


@pytest.fixture(scope="session")
def tiny_mo_run(tmp_path_factory) -> Path:
    """A two-objective run (validation error and density) without held-out instances."""
    return run_optimizer(tmp_path_factory.mktemp("tiny-mo"), "tiny-mo", n_trials=8,
                         instances=["wine"], heldout_instances=[],
                         objectives=["val_error", "density"],
                         backend={"name": "random", "seed": 3})


@pytest.fixture(scope="session")
def tiny_mf_run(tmp_path_factory) -> Path:
    """SMAC's multi-fidelity facade (Hyperband over 1, 3 and 9 epochs): its first bracket."""
    return run_optimizer(tmp_path_factory.mktemp("tiny-mf"), "tiny-mf", n_trials=13,
                         budget={"epochs": 9, "min_epochs": 1},
                         backend={"name": "smac", "facade": "mf", "seed": 0})


@pytest.fixture(scope="session")
def tiny_smac_run(tmp_path_factory) -> Path:
    """Three trials of SMAC's HPO facade (its state in smac/) on wine, one epoch each; the
    scenario file is ../../tiny-smac.yaml."""
    return run_optimizer(tmp_path_factory.mktemp("tiny-smac"), "tiny-smac", n_trials=3,
                         instances=["wine"], heldout_instances=[], budget={"epochs": 1},
                         backend={"name": "smac", "seed": 0})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that start a local Ray instance share one xdist worker (`--dist loadgroup`), one
    after another: two Ray instances at once would contend for the machine's cores and ports."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        if item.module.__name__.endswith("test_optimize_ray") or any(
                isinstance(value, str) and value == "ray" for value in params):
            item.add_marker(pytest.mark.xdist_group("ray"))
