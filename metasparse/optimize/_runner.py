"""The one trial runner that every backend uses.

A trial trains one configuration at one budget on a list of (instance, seed) pairs, in a child
process started by multiprocessing's 'forkserver' (PyTorch is imported once, in the server, so a
trial starts in milliseconds). The parent waits for the child's messages, so a per-trial timeout
really stops the work (the child is killed), and so does a pruner or Ctrl-C. Every way a trial can
fail (an exception, NaN divergence, a timeout, a dead process) becomes a finished trial with the
crash cost and a one-line error; only an interrupt of the whole run raises.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import wait
from typing import Any

from metasparse.errors import MetasparseError
from metasparse.optimize import _worker
from metasparse.results import OBJECTIVES

__all__ = ["PairResult", "TrialInterrupted", "TrialOutcome", "TrialRunner", "abort_all"]

# report(step, value) -> True to prune. `value` is the mean validation error over the pairs
# so far, with the current pair at its latest epoch; `step` counts epochs over all pairs.
Report = Callable[[int, float], bool]

_LIVE: set[Any] = set()
_LIVE_LOCK = threading.Lock()
_ABORT = threading.Event()
_CONTEXT: Any = None


class TrialInterrupted(Exception):
    """The run is being interrupted: the trial is not finished and must not be recorded."""


class TrialStartFailed(MetasparseError):
    """A trial process ended before it began its job: every trial would fail so, and none is
    recorded (the run stops with this one line)."""

    def __init__(self, exitcode: int | None) -> None:
        why = f"killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 \
            else f"exit code {exitcode}"
        super().__init__(
            f"a trial process ended ({why}) before it began training"
            + ("; its error is printed above. A script that starts an optimization (or a "
               "validation, a study) must start it under `if __name__ == \"__main__\":`: every "
               "trial process imports the script again, as Python's multiprocessing does"
               if exitcode == 1 else ""))


@dataclass
class PairResult:
    """One (instance, seed) run of a trial."""

    instance: str
    seed: int
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""
    start_time: float = 0.0
    end_time: float = 0.0
    # what it trained with where a search may have sampled otherwise (_worker.TRAINED)
    trained: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrialOutcome:
    """A finished trial: status, costs (one per objective), aggregated metrics and its pairs."""

    config: dict[str, Any]
    budget: int
    instance: str
    seed: int | str
    status: str
    costs: list[float]
    metrics: dict[str, float]
    error: str
    start_time: float
    end_time: float
    pairs: list[PairResult]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrialOutcome:
        pairs = [PairResult(**pair) for pair in data["pairs"]]
        return cls(**{**data, "pairs": pairs})


@dataclass
class TrialRunner:
    """Evaluates configurations; picklable, so SMAC's Dask workers can carry it."""

    objectives: Sequence[str]
    crash_costs: Callable[[], list[float]]
    data_dir: str | None = None
    timeout: float | None = None
    threads: int = 1
    preload: Sequence[str] = ()  # datasets the trial server reads once for every trial
    # an evaluation outside tuning: pairs also get their test scores and validation curve
    evaluation: bool = False
    target: str | None = None  # a user's function in place of the trainer (see _target.py)
    # the scenario's feature_selection (k, classifier, importance): trials also score the top
    # k features of the trained network (metric fs_error)
    feature_selection: dict[str, Any] | None = None

    def start(self) -> None:
        """Start the trial server now (it imports PyTorch and reads the datasets, about 2 s),
        so that it gets ready while the backend sets itself up."""
        self._context()

    def _context(self) -> Any:
        return _context({"datasets": list(self.preload), "data_dir": self.data_dir})

    def evaluate(self, config: dict[str, Any], budget: int, pairs: Sequence[tuple[str, int]],
                 report: Report | None = None) -> TrialOutcome:
        """Train `config` for `budget` epochs on every pair; never raises for a failed trial."""
        if _ABORT.is_set():
            raise TrialInterrupted("the run is being interrupted")
        job = {"config": config, "budget": int(budget), "pairs": [list(p) for p in pairs],
               "data_dir": self.data_dir, "threads": self.threads,
               "evaluation": self.evaluation, "target": self.target,
               "feature_selection": self.feature_selection,
               "required": [OBJECTIVES[name].metric for name in self.objectives]}
        start = time.time()
        context = self._context()
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_worker.main, args=(send, job), daemon=True)
        with _LIVE_LOCK:
            process.start()
            _LIVE.add(process)
        send.close()
        try:
            followed = self._follow(process, receive, pairs, int(budget), report, start)
        finally:
            _stop(process)
            receive.close()
        return self.outcome(config, int(budget), pairs, *followed, start)

    def _follow(self, process: Any, conn: Any, pairs: Sequence[tuple[str, int]], budget: int,
                report: Report | None, start: float) -> tuple[list[PairResult], str, str, float]:
        """Wait for the child's messages until it ends, times out or is pruned; returns the
        pairs' results, the status, the error and the last value given to `report`."""
        results: list[PairResult] = []
        deadline = start + self.timeout if self.timeout else math.inf
        last_value = math.nan
        current: dict[str, float] = {}  # the running pair's latest epoch metrics
        started = False
        while True:
            remaining = deadline - time.time()
            if remaining <= 0:
                error = f"trial exceeded trial_timeout of {self.timeout:g} s"
                _cut(results, pairs, "timeout", error, current, start)
                return results, "timeout", error, last_value
            ready = wait([conn, process.sentinel], timeout=min(remaining, 1.0))
            if _ABORT.is_set():
                raise TrialInterrupted("the run is being interrupted")
            if not ready:
                continue
            try:
                message = conn.recv() if conn in ready or conn.poll() else None
            except EOFError:
                message = None
            if message is None:
                if not started:
                    process.join(timeout=5)
                    raise TrialStartFailed(process.exitcode)
                return results, *self._ended(process, results), last_value
            if isinstance(message, _worker.Started):
                started = True
                continue
            instance, seed = pairs[message.pair]
            if isinstance(message, _worker.Epoch):
                current = {"val_error": message.metrics["val_error"]}
                done = [r.metrics["val_error"] for r in results]
                last_value = (sum(done) + current["val_error"]) / (len(done) + 1)
                if report is not None and self.objectives[0] == "val_error" \
                        and report(message.pair * budget + message.epoch, last_value):
                    error = f"pruned at epoch {message.epoch} of {instance}"
                    _cut(results, pairs, "pruned", error, current, start)
                    return results, "pruned", error, last_value
            elif isinstance(message, _worker.Result):
                results.append(PairResult(instance, seed, message.status, message.metrics,
                                          message.error, message.start, message.end,
                                          message.trained))
                current = {}
            else:
                results.append(PairResult(instance, seed, "crashed", {}, message.error,
                                          message.start, message.end))

    def _ended(self, process: Any, results: list[PairResult]) -> tuple[str, str]:
        process.join(timeout=5)
        failed = next((r for r in results if r.status != "success"), None)
        if failed is not None:
            return failed.status, f"{failed.instance} (seed {failed.seed}): {failed.error}"
        if process.exitcode not in (0, None) or len(results) == 0:
            return "crashed", f"trial process ended with exit code {process.exitcode}"
        return "success", ""

    def outcome(self, config: dict[str, Any], budget: int, pairs: Sequence[tuple[str, int]],
                results: list[PairResult], status: str, error: str, last_value: float,
                start: float) -> TrialOutcome:
        """The finished trial from its pairs' results (crash costs where it failed, the last
        reported value where it was pruned); the Ray backend builds its own stopped trials
        with it too."""
        if status == "success" and len(results) < len(pairs):  # the child died between pairs
            status, error = "crashed", f"trial process ended after {len(results)} of " \
                                       f"{len(pairs)} runs"
        metrics: dict[str, float] = {}
        if status == "success":
            costs = [_mean(results, OBJECTIVES[name].metric) for name in self.objectives]
            metrics = {key: _mean(results, key) for key in _worker.METRICS}
            metrics.update({key: _mean(results, key) for key in _worker.FS_METRICS
                            if all(key in r.metrics for r in results)})
        elif status == "pruned":
            costs = [last_value]
            metrics = {"val_error": last_value}
        else:
            costs = list(self.crash_costs())
        instances = {p[0] for p in pairs}
        seeds = {p[1] for p in pairs}
        return TrialOutcome(
            config=config, budget=budget,
            instance=next(iter(instances)) if len(instances) == 1 else "all",
            seed=next(iter(seeds)) if len(seeds) == 1 else "all",
            status=status, costs=costs, metrics=metrics, error=error, start_time=start,
            end_time=time.time(), pairs=results,
        )


def _cut(results: list[PairResult], pairs: Sequence[tuple[str, int]], status: str, error: str,
         metrics: dict[str, float], start: float) -> None:
    """Record the pair that was running when the trial was cut short (timeout, pruner)."""
    if len(results) < len(pairs):
        instance, seed = pairs[len(results)]
        begun = results[-1].end_time if results else start
        results.append(PairResult(instance, seed, status, dict(metrics), error, begun,
                                  time.time()))


def _mean(results: list[PairResult], key: str) -> float:
    return sum(float(r.metrics[key]) for r in results) / len(results)


def _context(preload: dict[str, Any]) -> Any:
    """The process context of trials; the first call starts the trial server, which reads the
    `preload` datasets (later calls share that server as it is)."""
    global _CONTEXT
    if _CONTEXT is None:
        methods = multiprocessing.get_all_start_methods()
        _CONTEXT = multiprocessing.get_context("forkserver" if "forkserver" in methods
                                               else "spawn")
        if _CONTEXT.get_start_method() == "forkserver":
            _CONTEXT.set_forkserver_preload(
                ["__main__", "metasparse.optimize._worker", "metasparse.train", "torch._dynamo",
                 "metasparse.optimize._preload"])
            _start_forkserver(preload)
    return _CONTEXT


def _start_forkserver(preload: dict[str, Any]) -> None:
    """Start the server with passive OpenMP waiting (spinning threads of a trial that shares
    its cores with other work slow it down twenty-fold and more, measured on 2 cores) and with
    the datasets to read for every trial (see _preload)."""
    from multiprocessing import forkserver

    settings = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
                _worker.PRELOAD_ENV_VAR: json.dumps(preload)}
    previous = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    try:
        forkserver.ensure_running()
    finally:
        for key, value in previous.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value


def _stop(process: Any) -> None:
    if process.is_alive():
        process.kill()
    process.join(timeout=10)
    with _LIVE_LOCK:
        _LIVE.discard(process)


def abort_all() -> None:
    """Kill every running trial of this process; their runners raise TrialInterrupted."""
    _ABORT.set()
    with _LIVE_LOCK:
        live = list(_LIVE)
    for process in live:
        if process.is_alive():
            process.kill()


def reset_abort() -> None:
    """Allow trials again after an interrupt (a later run in the same process)."""
    _ABORT.clear()


def default_threads(n_workers: int) -> int:
    """PyTorch threads per trial: the cores shared among the parallel workers, or
    $OMP_NUM_THREADS where it is set (the thread budget a process was given: one per pytest
    worker, one per Ray task, one per training of a configuration study)."""
    budget = os.environ.get("OMP_NUM_THREADS", "")
    cores = int(budget) if budget.isdigit() and int(budget) > 0 else os.cpu_count() or 1
    return max(1, cores // max(1, n_workers))
