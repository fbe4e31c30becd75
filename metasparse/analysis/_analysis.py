"""`analyze`: every analysis of one run (or of several runs of one scenario) as plain tables and
values, an `Analysis`; _report.py writes the report directory from it, _html.py report.html
(their shared words in _wording.py), and the dashboard draws the same tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from metasparse.analysis._ablation import ABLATION_COLUMNS, ablation_path, path_configs
from metasparse.analysis._compare import (
    check_comparable,
    compare_runs,
    convergence,
)
from metasparse.analysis._configspace import active_parameters, same_value
from metasparse.analysis._importance import Importance, fanova, local_importance
from metasparse.analysis._pareto import (
    dominated_by,
    evaluate_presets,
    pareto_front,
    pareto_trials,
    reference_point,
)
from metasparse.analysis._results import Results
from metasparse.analysis._shapley import explain_shapley
from metasparse.analysis._surrogate import Surrogate, fit_surrogate
from metasparse.analysis._training import TrainingCost, preset_config, selection_of
from metasparse.analysis._validate import VALIDATION_FILE, validation_summary
from metasparse.errors import MetasparseError
from metasparse.results import format_number as _num

__all__ = ["Analysis", "analyze", "top_parameters"]

# The presets trained like trials by `analyze --presets` (the dashboard draws them too).
PRESETS_FILE = "presets.csv"

# How the ablation path's costs are had: predicted by the surrogate, or trained ("greedy": every
# candidate of every step; "path": the steps of the surrogate's path).
AblationMode = Literal["surrogate", "greedy", "path"]
EVALUATE_MODES = ("greedy", "path")


@dataclass
class Analysis:
    """Everything `write_report` shows, as plain tables."""

    runs: list[Results]
    importance: Importance
    surrogate: Surrogate
    local: pd.DataFrame
    incumbent: dict[str, Any]
    incumbent_run: Results
    ablation: pd.DataFrame
    ablation_source: str
    ablation_mode: AblationMode
    ablation_seeds: list[int]  # the seeds a trained path ran with (none for the surrogate's)
    ablation_note: str  # why there is no path ("" where there is one)
    comparison: pd.DataFrame
    curves: pd.DataFrame
    per_instance: pd.DataFrame
    differences: pd.DataFrame
    pareto: pd.DataFrame | None = None
    presets: pd.DataFrame | None = None
    preset_runs: pd.DataFrame | None = None
    ablation_runs: pd.DataFrame | None = None
    validation_runs: pd.DataFrame | None = None
    validation: pd.DataFrame | None = None
    shapley: pd.DataFrame | None = None
    tunability: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def main(self) -> Results:
        return self.runs[0]

    def __repr__(self) -> str:
        return (f"Analysis of {len(self.runs)} run(s) of {self.main.name!r}: "
                f"{len(self.importance.main)} parameters, ablation of "
                f"{max(len(self.ablation) - 1, 0)} steps from {self.ablation_source!r}")


def analyze(runs: Sequence[Results], *, reference: str | None = None,
            evaluate: bool | str = False,
            seeds: int | Sequence[int] | None = None, presets: bool = False,
            n_trees: int = 64, seed: int = 0, progress: bool = True) -> Analysis:
    """Analyze one run, or several runs of the same scenario (e.g. different backends, whose
    trials are pooled for importance and ablation).

    `reference` is the preset the ablation path starts from (default: the run's reference).
    The path is predicted by the surrogate unless `evaluate` is "greedy" (or True: every
    candidate of every step trained on the tuning instances with `seeds`, by default the
    scenario's seeds but at least two) or "path" (the surrogate picks the order, each step of
    it is trained). `presets` trains every preset like a trial, to place it against the trials
    (and the Pareto front).
    """
    runs = list(runs)
    if not runs:
        raise MetasparseError("no results directory to analyze")
    check_comparable(runs)
    main = runs[0]
    trials = pd.concat([r.trials for r in runs], ignore_index=True)
    with_incumbent = [r for r in runs if r.incumbent and "config" in r.incumbent]
    if not with_incumbent:
        raise MetasparseError(f"{str(main.directory)!r} has no successful trial yet: nothing "
                              "to analyze")
    incumbent_run = min(with_incumbent, key=lambda r: float(r.incumbent["cost"]))
    incumbent = _full(incumbent_run.incumbent["config"])
    surrogate = fit_surrogate(trials, main.space, n_trees=n_trees, seed=seed)
    importance = fanova(trials, main.space, surrogate=surrogate)
    local = local_importance(surrogate, incumbent)
    source_name = reference or main.reference_preset
    notes: list[str] = []
    ablation, mode, ablation_seeds, ablation_note, ablation_runs = _ablation(
        main, source_name, incumbent, surrogate, evaluate=evaluate, explicit=reference is not None,
        seeds=seeds, progress=progress)
    shapley, tunable, shapley_note = explain_shapley(
        surrogate, preset_config(source_name, main.fixed), incumbent, importance.main)
    notes += [note for note in (ablation_note, shapley_note) if note]
    curves = convergence(runs)
    analysis = Analysis(
        runs=runs, importance=importance, surrogate=surrogate, local=local,
        incumbent=incumbent, incumbent_run=incumbent_run, ablation=ablation,
        ablation_source=source_name, ablation_mode=mode, ablation_seeds=ablation_seeds,
        ablation_note=ablation_note,
        comparison=compare_runs(runs), curves=curves,
        per_instance=_per_instance(incumbent_run),
        differences=_differences(main, preset_config(source_name, main.fixed), incumbent),
        ablation_runs=ablation_runs, shapley=shapley, tunability=tunable, notes=notes,
    )
    if presets:
        analysis.presets, analysis.preset_runs = evaluate_presets(main, progress=progress)
    if main.multi_objective:
        points = pd.concat([pareto_trials(r) for r in runs], ignore_index=True)
        objectives = main.cost_columns[:2]
        front = pareto_front(points, objectives)
        points["on_front"] = points.index.isin(front.index)
        analysis.pareto = points
        placed = analysis.presets if analysis.presets is not None else reference_point(main)
        if not placed.empty:
            placed = placed.copy()
            placed["dominated_by"] = dominated_by(placed, front, objectives)
            analysis.presets = placed
    validation_file = main.directory / VALIDATION_FILE
    if validation_file.is_file():
        analysis.validation_runs = pd.read_csv(validation_file)
        analysis.validation = validation_summary(analysis.validation_runs)
    return analysis


def top_parameters(main: pd.DataFrame, n: int) -> pd.DataFrame:
    """The `n` most important parameters (the budget and the instance left out)."""
    return main[main["status"] != "input"].head(n)


def _full(config: dict[str, Any]) -> dict[str, Any]:
    from metasparse.space import resolve_config

    return resolve_config(config)


def _ablation(main: Results, source_name: str, incumbent: dict[str, Any], surrogate: Surrogate,
              *, evaluate: bool | str, explicit: bool, seeds: int | Sequence[int] | None,
              progress: bool
              ) -> tuple[pd.DataFrame, AblationMode, list[int], str, pd.DataFrame | None]:
    """(path, mode, seeds trained with, note where skipped, training runs)"""
    source = preset_config(source_name, main.fixed)
    if evaluate:
        mode = "greedy" if evaluate is True else evaluate
        if mode not in EVALUATE_MODES:
            raise MetasparseError(f"evaluate must be one of {list(EVALUATE_MODES)}; got {mode!r}")
        seed_list = _seeds(main, seeds)
        cost = TrainingCost(main.tuning_instances, seed_list, main.epochs,
                            data_dir=main.data_dir, crash_cost=main.crash_cost,
                            timeout=main.settings.trial_timeout, progress=progress,
                            target=main.settings.target,
                            feature_selection=selection_of(main.settings))
        try:
            if mode == "greedy":
                path = ablation_path(source, incumbent, main.space, cost)
            else:
                path = ablation_path(source, incumbent, main.space, surrogate.predict)
                path = _retrained(path, path_configs(source, incumbent, main.space,
                                                     list(path["parameter"].iloc[1:])), cost)
        finally:
            cost.close()
        return path, mode, seed_list, "", pd.DataFrame(cost.runs)
    try:
        path = ablation_path(source, incumbent, main.space, surrogate.predict)
        return path, "surrogate", [], "", None
    except MetasparseError as exc:
        if explicit:
            raise MetasparseError(f"ablation from {source_name!r}: {exc}") from None
        note = (f"No surrogate ablation path from {source_name!r}: {exc}. Run `metasparse "
                f"analyze {main.directory} --evaluate`, or choose a preset inside the space with "
                "--from.")
        return pd.DataFrame(columns=ABLATION_COLUMNS), "surrogate", [], note, None


def _retrained(path: pd.DataFrame, configs: list[dict[str, Any]], cost: TrainingCost
               ) -> pd.DataFrame:
    """The path with the trained cost of each step (`predicted`: the surrogate's)."""
    path = path.rename(columns={"cost": "predicted"})
    costs = np.asarray(cost(configs), dtype=float)
    path.insert(list(path.columns).index("predicted"), "cost", costs)
    path["gain"] = np.concatenate([[0.0], costs[:-1] - costs[1:]])
    total = costs[0] - costs[-1]
    path["gain_share"] = path["gain"] / total if total != 0 else 0.0
    return path


def _seeds(main: Results, seeds: int | Sequence[int] | None) -> list[int]:
    if seeds is None:
        return main.seeds if len(main.seeds) >= 2 else [0, 1]
    return list(range(seeds)) if isinstance(seeds, int) else list(seeds)


def _per_instance(run: Results) -> pd.DataFrame:
    """The cost (the first objective: validation error, or the selection's with fs_error) of
    the incumbent and of the reference on each tuning instance (mean and standard deviation
    over seeds)."""
    rows = []
    instances = run.instances
    if run.incumbent and not instances.empty:
        ids = {str(t) for t in run.incumbent.get("trial_ids", [run.incumbent["trial_id"]])}
        mine = instances[instances["trial_id"].isin(ids) & (instances["status"] == "success")]
        for instance, group in mine.groupby("instance", sort=False):
            values = pd.to_numeric(group["cost"])
            rows.append({"candidate": "incumbent", "instance": instance,
                         "error": values.mean(), "std": values.std(ddof=0), "runs": len(group)})
    if run.reference:
        per = pd.DataFrame(run.reference.get("per_instance") or [])
        if not per.empty:
            per = per[per["status"] == "success"]
            for instance, group in per.groupby("instance", sort=False):
                # a reference.yaml written before the objective fs_error has no cost
                values = pd.to_numeric(group["cost"] if "cost" in group else group["val_error"])
                rows.append({"candidate": f"{run.reference['preset']} (reference)",
                             "instance": instance, "error": values.mean(),
                             "std": values.std(ddof=0), "runs": len(group)})
    return pd.DataFrame(rows, columns=["candidate", "instance", "error", "std", "runs"])


def _differences(run: Results, source: dict[str, Any], incumbent: dict[str, Any]
                 ) -> pd.DataFrame:
    """The parameters of the space where the incumbent differs from the reference (active in
    either; '-' where inactive)."""
    active_source = active_parameters(run.space, source)
    active_incumbent = active_parameters(run.space, incumbent)
    rows = []
    for name in run.params:
        a = source.get(name) if name in active_source else None
        b = incumbent.get(name) if name in active_incumbent else None
        if (a is None and b is None) or (a is not None and b is not None and same_value(a, b)):
            continue
        rows.append({"parameter": name, "reference": _num(a), "incumbent": _num(b)})
    return pd.DataFrame(rows, columns=["parameter", "reference", "incumbent"])
