"""The report directory of an `Analysis` (_analysis.py): report.md, its CSV tables and PNG
plots, report.html beside them, and the index of several runs' reports."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metasparse.analysis._analysis import PRESETS_FILE, Analysis, top_parameters
from metasparse.analysis._compare import convergence_summary
from metasparse.analysis._configspace import kind_of
from metasparse.analysis._html import write_html
from metasparse.analysis._plots import (
    plot_ablation,
    plot_convergence,
    plot_importance,
    plot_pareto,
    plot_per_instance,
    save_figure,
)
from metasparse.analysis._validate import VALIDATION_FILE
from metasparse.analysis._views import VIEWS
from metasparse.analysis._wording import ablation_description, ablation_label, instance_title
from metasparse.results import CONFIG_PREFIX, REPORT
from metasparse.results import format_number as _num
from metasparse.results import markdown_table as _table

__all__ = ["write_index", "write_report"]

# The views (_views.VIEWS) that report.html draws and report.md leaves to it.
HTML_ONLY = ("parallel", "pdp", "footprint", "budget")

_OUTPUTS = ("report.md", "importance.csv", "interactions.csv", "local_importance.csv",
            "ablation.csv", "convergence.csv", "per_instance.csv", "ablation_runs.csv",
            PRESETS_FILE, "preset_runs.csv", "pareto.csv", "validation_summary.csv",
            "importance.png", "ablation.png", "convergence.png", "pareto.png", "per_instance.png",
            "validation.png", "shapley_ablation.csv", "tunability.csv", "report.html",
            "partial_dependence.csv", "footprint.csv", "budget_correlation.csv")


def write_report(analysis: Analysis, directory: str | Path | None = None) -> Path:
    """Write report.md with its tables (CSV) and plots (PNG) to `directory` (default: the
    run's report/); returns the path of report.md."""
    main = analysis.main
    out = Path(directory) if directory is not None else main.directory / REPORT
    out.mkdir(parents=True, exist_ok=True)
    for name in _OUTPUTS:  # what an earlier report left and this one may not write again
        (out / name).unlink(missing_ok=True)
    analysis.importance.main.to_csv(out / "importance.csv", index=False)
    analysis.importance.pairs.to_csv(out / "interactions.csv", index=False)
    analysis.local.to_csv(out / "local_importance.csv", index=False)
    analysis.ablation.to_csv(out / "ablation.csv", index=False)
    analysis.curves.to_csv(out / "convergence.csv", index=False)
    analysis.per_instance.to_csv(out / "per_instance.csv", index=False)
    if analysis.ablation_runs is not None:
        analysis.ablation_runs.to_csv(out / "ablation_runs.csv", index=False)
    if analysis.presets is not None:
        analysis.presets.to_csv(out / PRESETS_FILE, index=False)
    if analysis.preset_runs is not None:
        analysis.preset_runs.to_csv(out / "preset_runs.csv", index=False)
    if analysis.pareto is not None:
        columns = ["run", "trial_id", *main.cost_columns, "on_front",
                   *[c for c in analysis.pareto.columns if c.startswith(CONFIG_PREFIX)]]
        analysis.pareto[columns].to_csv(out / "pareto.csv", index=False)
    if analysis.validation is not None:
        analysis.validation.to_csv(out / "validation_summary.csv", index=False)
    if analysis.shapley is not None:
        analysis.shapley.to_csv(out / "shapley_ablation.csv", index=False)
        analysis.tunability.to_csv(out / "tunability.csv", index=False)
    plots = _write_plots(analysis, out)
    text = _markdown(analysis, plots)
    (out / "report.md").write_text(text)
    write_html(analysis, out)
    return out / "report.md"


def write_index(analyses: Sequence[Analysis], reports: Sequence[Path], directory: str | Path,
                *, title: str) -> Path:
    """report.md (and runs.csv) in `directory`: one row per analysis with a link to its report,
    and where the runs were validated, the incumbent's held-out gain over every preset."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    rows, gains = [], []
    for analysis, report in zip(analyses, reports, strict=True):
        run = analysis.main
        incumbent = run.incumbent or {}
        reference = run.reference or {}
        rows.append({
            "run": run.directory.name, "report": f"[report]({os.path.relpath(report, out)})",
            "trials": len(run.trials), "best_cost": incumbent.get("cost"),
            "reference": reference.get("preset", ""), "reference_cost": reference.get("cost"),
            "top_parameters": ", ".join(top_parameters(analysis.importance.main, 5)["parameter"]),
        })
        if analysis.validation is not None:
            summary = analysis.validation.set_index("candidate")
            gain = {"run": run.directory.name,
                    "incumbent_test_error": summary.loc["incumbent", "test_error"]}
            for name in dict.fromkeys(analysis.validation_runs["candidate"]):
                if name != "incumbent":
                    row = summary.loc[name]
                    gain[name] = f"{row['gain_of_incumbent']:+.4f} (p {row['p_value']:.2g})"
            gains.append(gain)
    frame = pd.DataFrame(rows)
    frame.to_csv(out / "runs.csv", index=False)
    lines = [f"# {title}", "", *_table(frame), ""]
    if gains:
        lines += ["## Held-out validation", "",
                  "Test error of each run's incumbent and its gain over each preset (the "
                  "preset's mean test error minus the incumbent's; > 0: the incumbent is "
                  "better), with the Wilcoxon p-value; details in each report.", "",
                  *_table(pd.DataFrame(gains)), ""]
    (out / "report.md").write_text("\n".join(lines))
    return out / "report.md"


def _write_plots(analysis: Analysis, out: Path) -> dict[str, str]:
    main = analysis.main
    plots = {}

    def save(name: str, figure: Any) -> None:
        save_figure(figure, out / f"{name}.png")
        plots[name] = f"{name}.png"

    save("importance", plot_importance(analysis.importance.main, analysis.importance.pairs))
    if not analysis.ablation.empty:
        save("ablation", plot_ablation(
            analysis.ablation,
            title=f"ablation path {analysis.ablation_source} → incumbent "
                  f"({ablation_label(analysis)})"))
    if not analysis.curves.empty:
        summaries = [convergence_summary(analysis.curves, by) for by in ("n_trials",
                                                                          "elapsed_s")]
        save("convergence", plot_convergence(analysis.curves, summaries))
    if analysis.pareto is not None and not analysis.pareto.empty:
        save("pareto", plot_pareto(analysis.pareto, analysis.presets,
                                   objectives=main.objectives[:2]))
    if not analysis.per_instance.empty:
        save("per_instance", plot_per_instance(
            analysis.per_instance, title=instance_title(main)))
    if analysis.validation_runs is not None and not analysis.validation_runs.empty:
        runs = analysis.validation_runs.copy()
        runs["error"] = np.where(runs["status"] == "success", runs["test_error"], 1.0)
        grouped = runs.groupby(["candidate", "instance"], sort=False)["error"]
        frame = grouped.agg(["mean", "std"]).reset_index().rename(columns={"mean": "error"})
        save("validation", plot_per_instance(frame, title="test error per held-out instance"))
    return plots


def _markdown(analysis: Analysis, plots: dict[str, str]) -> str:
    main = analysis.main
    extra = [VIEWS[key].title.lower() for key in HTML_ONLY]
    lines = [f"# Analysis of `{main.name}`", "",
             f"Interactive figures, with {', '.join(extra[:-1])} and {extra[-1]}: "
             "[report.html](report.html).", ""]
    lines += _summary(analysis)
    lines += _incumbent_section(analysis)
    lines += _importance_section(analysis, plots)
    lines += _ablation_section(analysis, plots)
    lines += _convergence_section(analysis, plots)
    if analysis.pareto is not None:
        lines += _pareto_section(analysis, plots)
    elif analysis.presets is not None:
        lines += ["## Presets on the tuning instances", "",
                  "Every preset trained like a trial (tuning instances, the scenario's seeds and "
                  "budget, its fixed settings applied).", "",
                  *_table(analysis.presets.sort_values("cost")), ""]
    lines += _per_instance_section(analysis, plots)
    lines += _validation_section(analysis, plots)
    return "\n".join(lines).rstrip() + "\n"


def _summary(analysis: Analysis) -> list[str]:
    main = analysis.main
    trials = pd.concat([r.trials for r in analysis.runs], ignore_index=True)
    statuses = ", ".join(f"{n} {s}" for s, n in trials["status"].value_counts().items())
    runs = ", ".join(f"{r.label} (seed {r.backend_seed})" for r in analysis.runs)
    fixed = ", ".join(f"{k}={v}" for k, v in main.fixed.items()) or "none"
    space_size = len(main.params)
    searched = sum(kind_of(main.space[p]) != "constant" for p in main.params)
    inc = analysis.incumbent_run.incumbent or {}
    lines = [
        "## Summary", "",
        f"- results: {', '.join(f'`{r.directory}`' for r in analysis.runs)}; "
        f"{len(trials)} trials ({statuses}); optimizer(s): {runs}",
        f"- space: `{main.space_name}` ({space_size} parameters, {searched} searched); "
        f"fixed: {fixed}",
        f"- objectives: {', '.join(main.objectives)}; budget {main.epochs} epochs; "
        f"seeds {main.seeds}",
        f"- tuning instances: {', '.join(main.tuning_instances)}; held-out instances: "
        f"{', '.join(main.heldout_instances) or 'none'}",
        f"- incumbent: trial {inc.get('trial_id')} of `{analysis.incumbent_run.directory}`, "
        f"cost {_num(inc.get('cost'))}",
    ]
    reference = analysis.incumbent_run.reference
    if reference and reference.get("status") == "success":
        gain = float(reference["cost"]) - float(inc["cost"])
        lines.append(f"- reference `{reference['preset']}` on the same instances: cost "
                     f"{_num(reference['cost'])}; the incumbent is "
                     f"{'better' if gain > 0 else 'not better'} by {_num(abs(gain))}")
    top = top_parameters(analysis.importance.main, 5)
    lines.append("- most important parameters (fANOVA): " + ", ".join(
        f"{p} ({_pct(v)})" for p, v in zip(top["parameter"], top["importance"], strict=True)))
    if not analysis.ablation.empty and len(analysis.ablation) > 1:
        steps = analysis.ablation.iloc[1:]
        best = steps.sort_values("gain", ascending=False).head(3)
        lines.append(f"- ablation {analysis.ablation_source} → incumbent "
                     f"({ablation_label(analysis)}): {len(steps)} steps, the "
                     "largest gains from " + ", ".join(
                         f"{p} ({_num(g)})" for p, g in zip(best["parameter"], best["gain"],
                                                            strict=True)))
    if analysis.validation is not None:
        lines.append("- held-out validation: see the last section")
    lines += [
        "- fairness: every preset shown here (reference, ablation source, presets, validation) "
        f"runs with the scenario's fixed settings ({fixed}), as the tuned configurations did "
        "(the dense baseline keeps its density of 1).",
        "",
    ]
    for note in analysis.notes:
        lines += [f"> {note}", ""]
    return lines


def _incumbent_section(analysis: Analysis) -> list[str]:
    lines = [f"## Incumbent against `{analysis.ablation_source}`", ""]
    if analysis.differences.empty:
        return [*lines, "The incumbent is the reference configuration.", ""]
    return [*lines, "Parameters of the space where they differ ('-': inactive).", "",
            *_table(analysis.differences), ""]


def _importance_section(analysis: Analysis, plots: dict[str, str]) -> list[str]:
    surrogate = analysis.surrogate
    extra = [f.name for f in surrogate.features if f.kind in ("budget", "instance")]
    lines = [
        f"## {VIEWS['importance'].title} (fANOVA)", "",
        f"Functional ANOVA, computed exactly on a random forest of {len(surrogate.forest)} trees "
        f"fitted to {surrogate.n_trials} trials"
        + (f" (out-of-bag R² {surrogate.oob_r2:.2f})" if not math.isnan(surrogate.oob_r2)
           else "") + ". "
        "`importance` is the share of the variance of the cost over the space that a parameter "
        "explains alone (mean over trees, `std` across trees). Inactive values of conditional "
        "parameters are imputed outside their range, so part of a parent's effect can show up "
        "under its children: `with_children` adds the children's shares to their parent's. "
        + (f"Inputs besides the parameters: {', '.join(extra)}. " if extra else "")
        + ("Few trials: these shares are rough. " if surrogate.n_trials < 30 else ""), "",
    ]
    if "importance" in plots:
        lines += [f"![importance]({plots['importance']})", ""]
    main = analysis.importance.main
    lines += ["Every parameter of the space (`status`: searched; fixed = a constant of the "
              "space; one value tried; never active; not in space = a parameter of the "
              "meta-space that this space does not search):", "",
              *_table(main[["rank", "parameter", "importance", "std", "with_children", "kind",
                            "status", "active_share"]]), ""]
    pairs = analysis.importance.pairs.head(10)
    lines += ["### Strongest pairwise interactions", "",
              "Share of variance that a pair explains beyond the two main effects.", ""]
    lines += (_table(pairs) if not pairs.empty else ["No pair of varied inputs."]) + [""]
    local = analysis.local.head(10)
    lines += ["### Local importance around the incumbent", "",
              "One parameter of the incumbent changed at a time (surrogate predictions): the "
              "share of the prediction's variance, and the best value found that way "
              "(`predicted_gain` > 0: the surrogate expects an improvement).", ""]
    lines += (_table(local.drop(columns=["variance"])) if not local.empty
              else ["No searched parameter is active in the incumbent."]) + [""]
    return lines


def _ablation_section(analysis: Analysis, plots: dict[str, str]) -> list[str]:
    lines = [f"## {VIEWS['ablation'].title}: `{analysis.ablation_source}` → incumbent", ""]
    if analysis.ablation.empty:
        return [*lines, analysis.ablation_note or "No ablation path.", ""]
    path = analysis.ablation
    lines += [f"Greedy: each step makes the one change that lowers the cost most ("
              f"{ablation_description(analysis)}). `candidates`: how many changes each step chose "
              "from. Parameters that a change activates take the "
              "incumbent's values (`activates`). Step 0 is the reference with the scenario's "
              "fixed settings.", ""]
    if "ablation" in plots:
        lines += [f"![ablation]({plots['ablation']})", ""]
    lines += [*_table(path), ""]
    lines += _shapley_section(analysis)
    reference = analysis.incumbent_run.reference
    inc = analysis.incumbent_run.incumbent or {}
    if analysis.ablation_mode == "surrogate":
        measured = [f"incumbent {_num(inc.get('cost'))}"]
        if reference and reference.get("preset") == analysis.ablation_source:
            measured.insert(0, f"{analysis.ablation_source} {_num(reference.get('cost'))}")
        lines += [f"Measured costs for comparison: {', '.join(measured)}.", ""]
    return lines


def _shapley_section(analysis: Analysis) -> list[str]:
    if analysis.shapley is None or analysis.shapley.empty:
        return []
    lines = [f"### {VIEWS['shapley'].title}", "",
             "The greedy path credits each change in one order only; the Shapley value of a "
             "parameter averages its predicted gain over every order of the changes (the most "
             "important differing parameters, surrogate predictions; they add up to `total`, "
             "the predicted gain of making them all). Tunability: the predicted gain of tuning "
             "a parameter from the reference, in the same Shapley sense.", "",
             *_table(analysis.shapley), ""]
    if analysis.tunability is not None and not analysis.tunability.empty:
        lines += [*_table(analysis.tunability), ""]
    return lines


def _convergence_section(analysis: Analysis, plots: dict[str, str]) -> list[str]:
    lines = ["## Convergence", "",
             "Incumbent cost against finished trials and wall time (each run's "
             "trajectory.csv)."
             + (" Thick lines: mean over the runs of one optimizer, band: ± one standard "
                "deviation." if len(analysis.runs) > 1 else ""), ""]
    if "convergence" in plots:
        lines += [f"![convergence]({plots['convergence']})", ""]
    table = analysis.comparison.drop(columns=["run"])
    lines += [*_table(table), ""]
    if len(analysis.runs) > 1:
        final = convergence_summary(analysis.curves, "n_trials")
        if not final.empty:
            last = final.sort_values("n_trials").groupby("label").tail(1)
            lines += ["Best cost at the end, per optimizer:", "",
                      *_table(last.drop(columns=["n_trials"])), ""]
    return lines


def _pareto_section(analysis: Analysis, plots: dict[str, str]) -> list[str]:
    main = analysis.main
    pareto = analysis.pareto
    front = pareto[pareto["on_front"]].sort_values("cost")
    lines = [f"## {VIEWS['pareto'].title}", "",
             f"Objectives: {main.objectives[0]} (`cost`) and {main.objectives[1]} (`cost_2`); "
             f"{len(front)} of {len(pareto)} trials are on the front.", ""]
    if "pareto" in plots:
        lines += [f"![pareto]({plots['pareto']})", ""]
    lines += [*_table(front[["trial_id", "cost", "cost_2"]]), ""]
    if analysis.presets is not None and not analysis.presets.empty:
        lines += ["Presets against the front (`dominated_by`: how many front points are at "
                  "least as good in both objectives and better in one):", "",
                  *_table(analysis.presets), ""]
    return lines


def _per_instance_section(analysis: Analysis, plots: dict[str, str]) -> list[str]:
    if analysis.per_instance.empty:
        return []
    lines = [f"## {VIEWS['instances'].title}", "",
             "Validation error on each tuning instance (mean over the scenario's seeds).", ""]
    if "per_instance" in plots:
        lines += [f"![per instance]({plots['per_instance']})", ""]
    return [*lines, *_table(analysis.per_instance), ""]


def _validation_section(analysis: Analysis, plots: dict[str, str]) -> list[str]:
    main = analysis.main
    lines = ["## Validation on held-out instances", ""]
    if analysis.validation is None:
        return [*lines, f"Not validated yet: run `metasparse validate {main.directory}`.", ""]
    runs = analysis.validation_runs
    pairs = runs[runs["candidate"] == "incumbent"].shape[0]
    lines += [f"From `{main.directory / VALIDATION_FILE}`: {runs['instance'].nunique()} held-out "
              f"instance(s) ({', '.join(map(str, runs['instance'].unique()))}), "
              f"{runs['seed'].nunique()} seed(s), trained at the scenario's budget and scored on "
              "the test splits (a failed run counts as test error 1). `gain_of_incumbent`: the "
              "candidate's mean test error minus the incumbent's, paired by instance and seed "
              "(> 0: the incumbent is better); `wins`/`ties`/`losses`: of the incumbent over "
              "those pairs; `p_value`: two-sided Wilcoxon signed-rank test. Presets run with the "
              "scenario's fixed settings.", ""]
    if 0 < pairs < 6:
        lines += [f"With {pairs} pair(s) per comparison the smallest possible p-value is "
                  f"{2 * 0.5 ** pairs:.3g}: add seeds (`--seeds`) or held-out instances for a "
                  "test that can reach significance.", ""]
    if "validation" in plots:
        lines += [f"![validation]({plots['validation']})", ""]
    return [*lines, *_table(analysis.validation), ""]


# ---------------------------------------------------------------------------------- tables


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"
