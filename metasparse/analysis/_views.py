"""The views of a run, in one table (`VIEWS`): each a key, a title, a line of text and a function
that computes its figures and tables from a `Source`. report.html (_html.py) draws every view
from the pooled runs of an `Analysis`; the dashboard draws them from one run that it reads
(its pages are these views, plus the trials table and the incumbent); report.md takes its section
titles from here. A view that a run cannot show raises `NoView` with the reason: report.html
leaves it out, the dashboard says why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd

from metasparse.analysis._analysis import Analysis
from metasparse.analysis._explore import (
    budget_correlation,
    cost_over_time,
    footprint,
    partial_dependence,
    reference_lines,
    searched_parameters,
    top_searched,
)
from metasparse.analysis._figures import (
    figure_ablation,
    figure_budget_correlation,
    figure_cost_over_time,
    figure_footprint,
    figure_importance,
    figure_parallel,
    figure_pareto,
    figure_partial_dependence,
    figure_per_instance,
    figure_shapley,
)
from metasparse.analysis._results import Results
from metasparse.analysis._surrogate import Surrogate
from metasparse.analysis._wording import ablation_description, instance_title

__all__ = ["PARALLEL_PARAMETERS", "PDP_PARAMETERS", "VIEWS", "Ablation", "AnalysisSource", "Drawn",
           "NoView", "Source", "View"]

# How many of the most important parameters get a partial-dependence plot.
PDP_PARAMETERS = 3
# Parallel coordinates of more parameters than this have axes too narrow to read.
PARALLEL_PARAMETERS = 8

T = TypeVar("T")


class NoView(Exception):
    """Why a run cannot show a view (one line)."""


@dataclass
class Drawn:
    """What a view shows: a line of text, Plotly figures and tables, each by name (its
    dashboard component's id). `tables` are shown by the dashboard; report.html writes them and
    `data` (the tables behind the figures, too long to read) as `<name>.csv`."""

    text: str = ""
    figures: list[tuple[str, Any]] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    data: list[tuple[str, pd.DataFrame]] = field(default_factory=list)


@dataclass
class Ablation:
    """An ablation path, the preset it starts from, and how its costs were had."""

    path: pd.DataFrame
    source: str
    how: str


class Source:
    """What the views compute from: `runs` (one or several runs of a scenario, pooled), and
    the analyses that are costly, computed on demand and kept by `cached`."""

    def __init__(self, runs: list[Results]) -> None:
        self.runs = runs
        self.main = runs[0]
        self.trials = pd.concat([r.trials for r in runs], ignore_index=True)

    def cached(self, key: str, compute: Callable[[], T]) -> T:
        """`compute()`, kept under `key` where the source keeps anything."""
        return compute()

    def incumbent_run(self) -> Results:
        """The run that holds the incumbent."""
        return self.main

    def surrogate(self) -> Surrogate:
        raise NotImplementedError

    def importance(self) -> pd.DataFrame:
        """fANOVA's main effects."""
        raise NotImplementedError

    def local(self) -> pd.DataFrame:
        raise NotImplementedError

    def ablation(self) -> Ablation:
        raise NotImplementedError

    def shapley(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The Shapley ablation and the tunability (HyperSHAP)."""
        raise NotImplementedError

    def pareto(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The trials in both objectives (`on_front`) and the presets placed against them."""
        raise NotImplementedError

    def per_instance(self) -> pd.DataFrame:
        raise NotImplementedError


class AnalysisSource(Source):
    """The pooled runs of an `Analysis`, whose analyses `analyze` has computed."""

    def __init__(self, analysis: Analysis) -> None:
        super().__init__(analysis.runs)
        self.analysis = analysis

    def incumbent_run(self) -> Results:
        return self.analysis.incumbent_run

    def surrogate(self) -> Surrogate:
        return self.analysis.surrogate

    def importance(self) -> pd.DataFrame:
        return self.analysis.importance.main

    def local(self) -> pd.DataFrame:
        return self.analysis.local

    def ablation(self) -> Ablation:
        a = self.analysis
        if a.ablation.empty:
            raise NoView(a.ablation_note or "no ablation path")
        return Ablation(a.ablation, a.ablation_source, ablation_description(a))

    def shapley(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        a = self.analysis
        if a.shapley is None or a.shapley.empty or a.tunability is None:
            raise NoView("no Shapley-value ablation")
        return a.shapley, a.tunability

    def pareto(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        if self.analysis.pareto is None:
            raise NoView(_one_objective(self.main))
        return self.analysis.pareto, self.analysis.presets

    def per_instance(self) -> pd.DataFrame:
        return self.analysis.per_instance


def _one_objective(results: Results) -> str:
    return (f"The Pareto front needs two objectives; this run tunes {results.objectives[0]!r} "
            "only.")


# --------------------------------------------------------------------------------- the views


@dataclass(frozen=True)
class View:
    """One analysis as report.html and the dashboard show it."""

    key: str
    title: str
    draw: Callable[[Source], Drawn]


def _cost(source: Source) -> Drawn:
    return Drawn("Every trial and the incumbent's trajectory; the presets' costs as dashed "
                 "lines.",
                 [(f"cost{'' if k == 0 else f'-{k}'}", figure_cost_over_time(
                     cost_over_time(run), reference_lines(run),
                     objective=source.main.objectives[0]))
                  for k, run in enumerate(source.runs)])


def _importance(source: Source) -> Drawn:
    return Drawn("fANOVA main effects, and local importance around the incumbent (surrogate "
                 "predictions).",
                 [("fanova", figure_importance(source.importance(),
                                               title="fANOVA: main effects")),
                  ("local", figure_importance(source.local(),
                                              title="local importance around the incumbent"))])


def _ablation(source: Source) -> Drawn:
    ablation = source.ablation()
    return Drawn(f"The greedy path of changes from the preset to the incumbent ({ablation.how}).",
                 [("ablation", figure_ablation(
                     ablation.path, title=f"ablation path {ablation.source} → incumbent"))],
                 [("ablation", ablation.path)])


def _shapley(source: Source) -> Drawn:
    shapley, tunable = source.shapley()
    return Drawn("Each parameter's predicted gain averaged over every order of the changes "
                 "from the reference to the incumbent; and the predicted gain of tuning it "
                 "from the reference.",
                 [("shapley", figure_shapley(shapley, "shapley",
                                             title="Shapley ablation: reference → incumbent")),
                  ("tunability", figure_shapley(tunable, "tunability",
                                                title="tunability from the reference"))])


def _parallel(source: Source) -> Drawn:
    params = searched_parameters(source.main)
    if not params:
        raise NoView("No parameter took more than one value yet.")
    text = "One line per trial; colour: cost."
    if len(params) > PARALLEL_PARAMETERS:
        text = (f"The {PARALLEL_PARAMETERS} most important of the {len(params)} searched "
                "parameters (fANOVA), most important first; one line per trial, colour: cost.")
        params = top_searched(source.importance(), source.surrogate(), PARALLEL_PARAMETERS)
    return Drawn(text, [("parallel", figure_parallel(source.trials, params,
                                                     objective=source.main.objectives[0]))])


def _pdp(source: Source) -> Drawn:
    surrogate = source.surrogate()
    top = top_searched(source.importance(), surrogate, PDP_PARAMETERS)
    if not top:
        raise NoView("no searched parameter is an input of the surrogate")
    curves = {name: source.cached(f"ice:{name}", lambda name=name: partial_dependence(
        surrogate, source.trials, name)) for name in top}
    return Drawn(f"The {len(top)} most important parameters (fANOVA): the mean prediction "
                 "(thick) and the curve of each trial (thin), changing that parameter alone "
                 "(the random-forest surrogate's predictions).",
                 [(f"pdp-{k}", figure_partial_dependence(c, n))
                  for k, (n, c) in enumerate(curves.items())],
                 data=[("partial_dependence", pd.concat([c.assign(parameter=n)
                                                    for n, c in curves.items()]))])


def _footprint(source: Source) -> Drawn:
    surrogate = source.surrogate()
    points = source.cached("footprint", lambda: footprint(surrogate, source.trials))
    if points.empty:
        raise NoView("The footprint needs two trials or more.")
    incumbent = (source.incumbent_run().incumbent or {}).get("trial_id")
    return Drawn("The configurations placed by multidimensional scaling of their distances; "
                 "colour: cost.",
                 [("footprint", figure_footprint(points, incumbent))],
                 data=[("footprint", points)])


def _budget(source: Source) -> Drawn:
    correlation = budget_correlation(source.trials)
    if correlation.empty:
        budgets = sorted(source.trials["budget"].dropna().unique())
        raise NoView("Budget correlation needs trials at several budgets (a multi-fidelity "
                     f"run); this run's budgets: {[f'{b:g}' for b in budgets]}.")
    return Drawn("Spearman correlation of the costs of the configurations evaluated at two "
                 "budgets.", [("budget", figure_budget_correlation(correlation))],
                 [("budget_correlation", correlation)])


def _pareto(source: Source) -> Drawn:
    if not source.main.multi_objective:
        raise NoView(_one_objective(source.main))
    points, presets = source.pareto()
    return Drawn("", [("pareto", figure_pareto(points, source.main.objectives[:2], presets))])


def _instances(source: Source) -> Drawn:
    frame = source.per_instance()
    if frame.empty:
        raise NoView("No per-instance results yet (no successful trial).")
    return Drawn("", [("instances", figure_per_instance(
        frame, title=f"{instance_title(source.main)} (incumbent and reference)"))],
        [("per_instance", frame)])


VIEWS: dict[str, View] = {view.key: view for view in [
    View("cost", "Cost over time", _cost),
    View("importance", "Parameter importance", _importance),
    View("ablation", "Ablation path", _ablation),
    View("shapley", "Shapley-value ablation and tunability (HyperSHAP)", _shapley),
    View("parallel", "Parallel coordinates", _parallel),
    View("pdp", "Partial dependence and ICE", _pdp),
    View("footprint", "Configuration footprint", _footprint),
    View("budget", "Budget correlation", _budget),
    View("pareto", "Pareto front", _pareto),
    View("instances", "Per-instance results", _instances),
]}
