"""`optimize(scenario)`: set up a run, let the backend search, evaluate the reference, summarise."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from metasparse.optimize._progress import Progress, describe_choices
from metasparse.optimize._runner import TrialRunner, abort_all, default_threads, reset_abort
from metasparse.optimize._scenario import RUN_CONTROL_KEYS, Scenario
from metasparse.optimize._session import Session
from metasparse.optimize._store import CrashCosts, ResultsStore
from metasparse.optimize._warm_start import warm_start
from metasparse.results import (
    OBJECTIVES,
    WARM_START,
    check_resumable,
    crash_costs,
    hold_directory,
    write_atomic,
)

__all__ = ["OptimizationInterrupted", "RunSummary", "optimize"]


class OptimizationInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run: the finished trials are kept in `directory`."""

    def __init__(self, directory: Path, n_trials: int) -> None:
        super().__init__(f"interrupted: {n_trials} trials kept in {directory}")
        self.directory = directory
        self.n_trials = n_trials


@dataclass
class RunSummary:
    """What a run left: its directory, the number of trials, the incumbent and the reference."""

    name: str
    directory: Path
    n_trials: int
    incumbent: dict[str, Any] | None
    reference: dict[str, Any] | None
    incumbent_per_instance: dict[str, float]
    incumbent_metrics: dict[str, float]
    wall_time_s: float
    objective: str = "val_error"  # the first objective: what `cost` is

    def table(self) -> str:
        """The closing table: incumbent against the reference preset."""
        return summary_table(self)


def optimize(scenario: Scenario, *, progress: bool = True) -> list[RunSummary]:
    """Run the scenario (each of its spaces in turn) and return one summary per run. Resumes
    what an earlier, interrupted run of the same scenario left in its output directory."""
    return [_run(run, progress) for run in scenario.runs()]


def _run(scenario: Scenario, show_progress: bool) -> RunSummary:
    """One run, holding its output directory: a second run on it is refused, and a directory
    that cannot be written (or fills up) is one OutputError line."""
    with hold_directory(scenario.output_dir):
        check_resumable(scenario.output_dir)
        try:
            return _run_held(scenario, show_progress)
        except OSError:
            abort_all()  # no trial outlives a run that cannot record it
            raise


def _run_held(scenario: Scenario, show_progress: bool) -> RunSummary:
    from metasparse.data import resolve_data_dir
    from metasparse.space import kind_of, load_space

    started = time.time()
    reset_abort()
    space = load_space(scenario.space[0], fixed=scenario.fixed, seed=scenario.backend.seed)
    store = ResultsStore(scenario.output_dir, list(space.keys()), scenario.objectives,
                         scenario.instances, constants={
                             name: hp.value for name, hp in space.items()
                             if kind_of(hp) == "constant"})
    store.open(scenario.as_dict(), RUN_CONTROL_KEYS)
    runner = TrialRunner(
        objectives=scenario.objectives,
        crash_costs=CrashCosts(crash_costs(scenario.objectives, scenario.crash_cost),
                               str(store.directory)),
        # Absolute, and resolved now: trial processes come from a server started earlier,
        # with the environment and working directory of that time.
        data_dir=str(resolve_data_dir(scenario.data_dir)), timeout=scenario.trial_timeout,
        threads=default_threads(scenario.n_workers),
        preload=() if scenario.target else scenario.instances, target=scenario.target,
        feature_selection=scenario.feature_selection.model_dump()
        if scenario.feature_selection else None,
    )
    runner.start()
    progress = Progress(scenario.name, scenario.n_trials, store.count(), enabled=show_progress)
    progress.update(store.count(), store.incumbent())
    session = Session(
        scenario=scenario, space=space, store=store, runner=runner, progress=progress,
        deadline=started + scenario.walltime if scenario.walltime else math.inf,
        pairs=[(instance, seed) for instance in scenario.instances for seed in scenario.seeds],
        warm=_warm_start(scenario, space, store),
    )
    try:
        if not session.done():
            scenario.backend.run(session)
        progress.close()
        reference = store.reference() or _evaluate_reference(session)
    except KeyboardInterrupt:
        abort_all()
        raise OptimizationInterrupted(store.directory, store.count()) from None
    finally:
        progress.close()
    return _summary(scenario, store, reference, time.time() - started)


def _warm_start(scenario: Scenario, space: Any, store: ResultsStore) -> list[dict[str, Any]]:
    """The scenario's warm-start configurations, written to warm_start.yaml."""
    if scenario.warm_start is None:
        return []
    warm = warm_start(scenario.warm_start, space, scenario.fixed)
    limit = scenario.backend.warm_start_limit(scenario.n_trials)
    if limit is not None:
        for label in list(warm.configs)[limit:]:
            del warm.configs[label]
            warm.dropped[label] = (f"{scenario.backend.name} evaluates at most {limit} "
                                   f"warm-start configurations in {scenario.n_trials} trials")
    write_atomic(store.directory / WARM_START, yaml.safe_dump(
        {"source": scenario.warm_start, **warm.as_dict()}, sort_keys=False))
    return list(warm.configs.values())


def _evaluate_reference(session: Session) -> dict[str, Any]:
    """The reference preset (with the scenario's fixed settings) on the tuning pairs."""
    from metasparse.space import preset_config

    scenario = session.scenario
    name = scenario.default_reference()
    config = preset_config(name, scenario.fixed)
    outcome = session.runner.evaluate(config, scenario.budget.epochs, session.pairs)
    return session.store.write_reference(name, outcome)


def _summary(scenario: Scenario, store: ResultsStore, reference: dict[str, Any] | None,
             wall_time: float) -> RunSummary:
    incumbent = store.incumbent()
    per_instance: dict[str, float] = {}
    metrics: dict[str, float] = {}
    if incumbent is not None:
        ids = {str(t) for t in incumbent["trial_ids"]}
        per_instance = _mean_by(
            [r for r in store.instance_rows() if r["trial_id"] in ids and r["status"] == "success"],
            "instance", "cost")
        rows = [r for r in store.rows() if r["trial_id"] in ids]
        metrics = {key: _mean([float(r[key]) for r in rows if r[key]])
                   for key in ("density", "train_flops")}
    return RunSummary(scenario.name, store.directory, store.count(), incumbent, reference,
                      per_instance, metrics, wall_time, scenario.objectives[0])


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _mean_by(rows: Sequence[Mapping[str, str]], key: str, value: str) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(float(row[value]))
    return {k: _mean(v) for k, v in groups.items()}


def summary_table(summary: RunSummary) -> str:
    """Incumbent and reference side by side: the mean cost (the first objective), per instance,
    density and training FLOPs."""
    reference = summary.reference or {}
    instances = sorted(summary.incumbent_per_instance
                       or {p["instance"] for p in reference.get("per_instance", [])})
    label = OBJECTIVES[summary.objective].label
    header = ["", label, *instances, "density", "train MFLOPs"]
    rows = []
    if summary.incumbent is not None:
        rows.append([
            f"incumbent (trial {summary.incumbent['trial_id']})",
            _fmt(summary.incumbent["cost"]),
            *(_fmt(summary.incumbent_per_instance.get(i)) for i in instances),
            _fmt(summary.incumbent_metrics.get("density")),
            _fmt(_mega(summary.incumbent_metrics.get("train_flops"))),
        ])
    if reference:
        # a reference.yaml written before the objective fs_error has no per-instance cost
        per = _mean_by([{"instance": p["instance"], "cost": p.get("cost", p["val_error"])}
                        for p in reference["per_instance"] if p["status"] == "success"],
                       "instance", "cost")
        metrics = reference.get("metrics", {})
        rows.append([
            f"reference ({reference['preset']})",
            _fmt(reference["cost"]) + ("" if reference["status"] == "success"
                                       else f" ({reference['status']})"),
            *(_fmt(per.get(i)) for i in instances),
            _fmt(metrics.get("density")), _fmt(_mega(metrics.get("train_flops"))),
        ])
    lines = [f"{summary.name}: {summary.n_trials} trials in {summary.directory}"]
    lines += _aligned([header, *rows])
    if summary.incumbent is not None:
        lines.append(f"incumbent: {describe_choices(summary.incumbent['config'])}")
        if "pareto_front" in summary.incumbent:
            lines.append(f"Pareto front: {len(summary.incumbent['pareto_front'])} trials "
                         "(pareto_front in incumbent.yaml)")
        if reference:
            gain = reference["cost"] - summary.incumbent["cost"]
            lines.append(f"{label} {summary.incumbent['cost']:.4f} vs "
                         f"{reference['cost']:.4f} for {reference['preset']} "
                         f"({'better' if gain > 0 else 'not better'} by {abs(gain):.4f})")
    else:
        lines.append("no successful trial yet")
    return "\n".join(lines)


def _mega(value: float | None) -> float | None:
    return None if value is None else value / 1e6


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]
