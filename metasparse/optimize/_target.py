"""A user's target function in place of the built-in trainer (a scenario's `target:` key).

    target: examples/my_target.py:train        # a file (beside the scenario, else the
                                               #   working directory) and a function in it
    target: mypackage.tuning:train             # or an importable module and a function

The function is called once per (instance, seed) pair of a trial as

    train(config: dict, budget: int, seed: int) -> Mapping[str, float]

with the full configuration (the searched values over the meta-space's defaults, so
`metasparse.sparsify(model, optimizer, total_steps, **config)` takes it as it is), the budget in
epochs and the seed. A function with a parameter named `instance` also gets the scenario's
instance (with a target, instances are labels for it, not datasets); one with a parameter named
`report` gets a function to call after every epoch,

    report(epoch, {"val_error": 0.31})            # epoch 1, 2, ...; val_accuracy optional

so that Optuna's pruners and Ray's ASHA can stop a bad trial early (the trial is then killed in
the middle of the target, as a timeout is; SMAC's multi-fidelity needs no report: it gives
smaller budgets). It returns the metrics: `val_error` (and the scenario's second objective, if
any) must be finite numbers; the other metrics of the results table that it leaves out are
recorded as NaN. A target that raises, reports or returns no required metric makes a failed
trial with its one-line reason; the run goes on.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["call_target", "load_target", "resolve_target"]

FORM = "'path/to/file.py:function' or 'package.module:function'"


def resolve_target(spec: str, scenario_file: Path) -> str:
    """A file target made absolute: beside the scenario file, else the working directory."""
    module, _, function = spec.rpartition(":")
    if not module.endswith(".py"):
        return spec
    path = Path(module)
    if not path.is_absolute():
        beside = scenario_file.parent / path
        path = beside if beside.is_file() else path
    return f"{path.resolve()}:{function}"


def load_target(spec: str) -> Callable[..., Mapping[str, Any]]:
    """The function that `spec` names; ValueError (one line) when it cannot be had."""
    module_name, sep, function = spec.rpartition(":")
    if not sep or not module_name or not function.isidentifier():
        raise ValueError(f"The 'target' parameter must be {FORM}; got {spec!r}")
    try:
        module = _load_file(Path(module_name)) if module_name.endswith(".py") \
            else importlib.import_module(module_name)
    except Exception as exc:
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise ValueError(f"target {spec!r} cannot be imported: {text}") from None
    found = getattr(module, function, None)
    if not callable(found):
        raise ValueError(f"target {spec!r}: {module_name} has no function {function!r}")
    return found


def _load_file(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"no file {str(path)!r}")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"metasparse_target_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by its name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


Report = Callable[[int, dict[str, float]], None]


def call_target(function: Callable[..., Mapping[str, Any]], config: dict[str, Any], budget: int,
                seed: int, instance: str, required: Sequence[str],
                recorded: Sequence[str], report: Report | None = None) -> dict[str, float]:
    """Run the target on one pair; its metrics with every `recorded` key (NaN where it gave
    none). `report` gets the epochs it reports, checked. Raises ValueError when a `required`
    metric is missing or not a finite number."""
    parameters = _parameters(function)
    keywords: dict[str, Any] = {"instance": instance} if "instance" in parameters else {}
    if "report" in parameters:
        keywords["report"] = _checked(report or (lambda epoch, metrics: None), budget)
    returned = function(config, budget, seed, **keywords)
    if not isinstance(returned, Mapping):
        raise ValueError(f"the target must return a mapping of metrics; got "
                         f"{type(returned).__name__}")
    metrics: dict[str, float] = {}
    for key in {*recorded, *required}:
        value = returned.get(key, math.nan)
        try:
            metrics[key] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"the target's metric {key!r} must be a number; got "
                             f"{value!r}") from None
    for key in required:
        if not math.isfinite(metrics[key]):
            got = "none" if key not in returned else repr(returned[key])
            raise ValueError(f"the target must return a finite {key!r}; got {got}")
    return metrics


def _checked(report: Report, budget: int) -> Report:
    """The `report` that a target gets: epochs counted 1, 2, ... up to the budget, each with a
    finite val_error (val_accuracy too where given)."""
    last = 0

    def checked(epoch: int, metrics: Mapping[str, Any]) -> None:
        nonlocal last
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not last < epoch <= budget:
            raise ValueError(f"report's epoch must be an integer in ({last}, {budget}] (after "
                             f"epoch {last} of the budget); got {epoch!r}")
        if not isinstance(metrics, Mapping):
            raise ValueError(f"report's metrics must be a mapping; got {type(metrics).__name__}")
        values = {}
        for key in ("val_error", "val_accuracy"):
            if key in metrics or key == "val_error":
                value = metrics.get(key)
                values[key] = _number(value)
                if isinstance(value, bool | str) or not math.isfinite(values[key]):
                    raise ValueError(f"report's metrics must hold a finite {key!r}; got "
                                     f"{value!r}")
        last = epoch
        report(epoch, values)

    return checked


def _number(value: Any) -> float:
    """A number as float (numpy's and torch's scalars too); NaN for anything else."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _parameters(function: Callable[..., Any]) -> Mapping[str, Any]:
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}
