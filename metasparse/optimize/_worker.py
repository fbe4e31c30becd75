"""The child process of one trial: trains a configuration on each (instance, seed) pair in turn.

It talks to the parent through a one-way pipe, one message per event: `Epoch` after every epoch
that the trainer (or a target that takes `report`) reports, `Result` after every finished pair
(with the values it trained with where the trainer changed them, see below), `Failed` when a pair
raises. It stops at the first failed pair. A dense first or last layer that does not fit the
density's budget on a dataset is trained sparse like the others (`fit_dense_layers`): a search
spends no trial on a point that cannot be built. A killed `metasparse optimize` leaves no training
behind: the forkserver, the child's parent, exits with it, and on Linux the kernel then kills the
child (PR_SET_PDEATHSIG); elsewhere the child's next send fails and it ends.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from metasparse.errors import one_line
from metasparse.results import TRAINED

# JSON {"datasets": [...], "data_dir": ...} that the trial server reads at its start (_preload)
PRELOAD_ENV_VAR = "METASPARSE_PRELOAD"
# Metrics of a TrialResult that the results store keeps (test metrics never leave the child).
METRICS = ("val_error", "val_accuracy", "val_loss", "density", "train_flops", "inference_flops",
           "topology_updates", "wall_time_s", "epochs")
# What a trial of a feature-selection scenario adds: the top k features' validation error (an
# evaluation outside tuning also gets their test accuracy, fs_test_accuracy).
FS_METRICS = ("fs_error",)
# What an evaluation outside tuning (a job with "evaluation": true) gets back besides: the test
# split's scores and the validation curve.
EVALUATION_METRICS = (*METRICS, "test_accuracy", "test_loss", "val_curve")


@dataclass(frozen=True)
class Started:
    """The trial process runs its job: its start-up (which imports the parent's __main__ module
    again, as multiprocessing does) is over."""


@dataclass(frozen=True)
class Epoch:
    """Pair number `pair` finished epoch `epoch` (1-based) with these validation metrics."""

    pair: int
    epoch: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class Result:
    """Pair number `pair` finished: its status, metrics and error, its start and end (Unix
    time), and the values of TRAINED it trained with."""

    pair: int
    status: str
    metrics: dict[str, Any]
    error: str
    start: float
    end: float
    trained: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """Pair number `pair` raised: the one-line reason, its start and end (Unix time)."""

    pair: int
    error: str
    start: float
    end: float


Message = Started | Epoch | Result | Failed


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        parent = os.getppid()
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the call
            os._exit(1)


def main(conn: Connection, job: dict[str, Any]) -> None:
    """Entry point of the trial process (importable, so that 'forkserver' can start it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C ends
    _die_with_parent()
    try:
        conn.send(Started())
    except (BrokenPipeError, EOFError):  # the parent stopped waiting (Ctrl-C, a timeout)
        os._exit(1)
    import torch

    torch.set_num_threads(job["threads"])
    evaluation = job.get("evaluation", False)
    keys = EVALUATION_METRICS if evaluation else METRICS
    run = _target_run(job, keys) if job.get("target") else _trainer_run(job, keys)
    for index, (instance, seed) in enumerate(job["pairs"]):
        start = time.time()

        def report(epoch: int, metrics: dict[str, float], index: int = index) -> None:
            conn.send(Epoch(index, epoch, dict(metrics)))

        try:
            status, metrics, error, trained = run(instance, seed, report)
        except (BrokenPipeError, EOFError):
            os._exit(1)
        except Exception as exc:
            conn.send(Failed(index, one_line(exc), start, time.time()))
            break
        conn.send(Result(index, status, metrics, error, start, time.time(), trained))
        if status != "success":
            break
    conn.close()


Reporter = Callable[[int, dict[str, float]], None]
# (status, metrics, error, the values of TRAINED trained with) of one (instance, seed) pair
Run = Callable[[str, int, Reporter], tuple[str, dict[str, Any], str, dict[str, Any]]]


def _trainer_run(job: dict[str, Any], keys: tuple[str, ...]) -> Run:
    """The built-in trainer on one (instance, seed) pair."""
    from metasparse.features import fit_evolving

    evaluation = job.get("evaluation", False)
    selection = job.get("feature_selection")

    def run(instance: str, seed: int, report: Reporter) -> tuple[str, dict[str, Any], str,
                                                                 dict[str, Any]]:
        # fit, with the configuration's input evolution (features._evolution) where it has one
        trained = fit_evolving(job["config"], instance, job["budget"], seed,
                               k=selection["k"] if selection is not None else None,
                               report=report, data_dir=job["data_dir"],
                               evaluate_test=evaluation, fit_dense_layers=True)
        result = trained.result
        values = result.to_dict()
        metrics = {key: values[key] for key in keys}
        if selection is not None and result.status == "success":
            metrics.update(_selection_metrics(trained, selection, seed, evaluation))
        return result.status, metrics, result.error, {k: trained.config[k] for k in TRAINED}

    return run


def _selection_metrics(trained: Any, selection: dict[str, Any], seed: int,
                       evaluation: bool) -> dict[str, float]:
    """fs_error: 1 - the validation accuracy of the scenario's classifier on the top k features
    of the network's ranking (and, outside tuning only, their test accuracy)."""
    from metasparse.features import evaluate_selection, rank_features
    from metasparse.optimize._scenario import FeatureSelection

    importance = FeatureSelection(**selection).importance_of(trained.config["task"])
    ranking = rank_features(trained, importance)
    scores = evaluate_selection(trained.data, ranking, selection["k"], selection["classifier"],
                                seed, evaluate_test=evaluation)
    metrics = {"fs_error": 1.0 - scores.val_accuracy}
    if evaluation:
        metrics["fs_test_accuracy"] = scores.test_accuracy
    return metrics


def _target_run(job: dict[str, Any], keys: tuple[str, ...]) -> Run:
    """The scenario's target function on one pair: it gets the full configuration, the budget
    and the seed (see _target.py), and reports its epochs if it takes `report`; its validation
    curve is what it reported."""
    from metasparse.optimize._target import call_target, load_target
    from metasparse.space import resolve_config

    config = resolve_config(job["config"])

    def run(instance: str, seed: int, report: Reporter) -> tuple[str, dict[str, Any], str,
                                                                 dict[str, Any]]:
        function = load_target(job["target"])
        curve: list[float] = []

        def reported(epoch: int, metrics: dict[str, float]) -> None:
            curve.append(metrics.get("val_accuracy", 1.0 - metrics["val_error"]))
            report(epoch, metrics)

        metrics: dict[str, Any] = call_target(
            function, dict(config), job["budget"], seed, instance, job["required"],
            [k for k in keys if k != "val_curve"], reported)
        if "val_curve" in keys:
            metrics["val_curve"] = curve
        return "success", metrics, "", {k: config[k] for k in TRAINED}

    return run
