"""The configuration study's report: the three questions, the optimizers, warm start and
transfer, each as a table (CSV and Markdown) and a plot.

Statistics come from libraries: Welch's t confidence interval of a difference of means
(scipy.stats.ttest_ind), the Friedman test with its critical-difference diagram (autorank),
fANOVA and ablation paths (metasparse.analysis).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from scipy import stats

from metasparse.results import default_reference, markdown_table
from metasparse.space import preset_forms, relative_hint
from metasparse.study._configuration import WARM
from metasparse.study._spec import ConfigurationStudy

ABLATION_STEPS = 5  # steps of each ablation path shown in report.md
MIN_BLOCKS = 5  # autorank's minimum number of blocks (dataset x optimizer seed) for a ranking


def _md(frame: pd.DataFrame) -> str:
    return "\n".join(markdown_table(frame)) if len(frame) else "(no data)"


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def difference(worse: pd.Series, better: pd.Series) -> dict[str, float]:
    """mean(worse) - mean(better) with Welch's 95% confidence interval (NaN where a side has
    fewer than two values)."""
    worse, better = worse.dropna().astype(float), better.dropna().astype(float)
    gain = worse.mean() - better.mean() if len(worse) and len(better) else math.nan
    low = high = math.nan
    if len(worse) > 1 and len(better) > 1 and (worse.std() > 0 or better.std() > 0):
        with warnings.catch_warnings():  # nearly equal errors: scipy's precision-loss warning
            warnings.simplefilter("ignore", RuntimeWarning)
            ci = stats.ttest_ind(worse, better, equal_var=False).confidence_interval(0.95)
        low, high = float(ci.low), float(ci.high)
    elif len(worse) > 1 and len(better) > 1:
        low = high = gain
    return {"gain": gain, "ci_low": low, "ci_high": high}


def across(values: pd.Series) -> dict[str, float]:
    """The mean of per-unit values (one per dataset) with its 95% t-interval over the units
    (NaN with fewer than two)."""
    values = values.dropna().astype(float)
    mean = values.mean() if len(values) else math.nan
    low = high = math.nan
    if len(values) > 1 and values.std() > 0:
        ci = stats.ttest_1samp(values, 0.0).confidence_interval(0.95)
        low, high = float(ci.low), float(ci.high)
    elif len(values) > 1:
        low = high = mean
    return {"mean": mean, "ci_low": low, "ci_high": high, "units": len(values)}


def per_tuning_run(tuned: pd.DataFrame) -> pd.Series:
    """A tuned side's test errors, one per tuning run (optimizer seed): the mean over its
    training seeds. The training seeds of one incumbent are not independent samples of what
    tuning gives; its optimizer seeds are."""
    return tuned.groupby("optimizer_seed")["test_error"].mean()


def verdict(low: float, high: float, better: str, worse: str) -> str:
    """What a 95% interval of a gain says: `better` above 0, `worse` below, noise where it
    spans 0, n/a where there is no interval (fewer than two values on a side)."""
    if math.isnan(low) or math.isnan(high):
        return "n/a"
    if low > 0:
        return better
    if high < 0:
        return worse
    return "within noise"


def _tuned(evaluation: pd.DataFrame, space: str, variant: str,
           phase: str = "tune") -> pd.DataFrame:
    e = evaluation
    return e[(e["kind"] == "tuned") & (e["phase"] == phase) & (e["space"] == space)
             & (e["variant"] == variant)]


def _preset_runs(evaluation: pd.DataFrame, name: str, dataset: str) -> pd.DataFrame:
    e = evaluation
    return e[(e["kind"] == "preset") & (e["space"] == name) & (e["dataset"] == dataset)]


def configurability(study: ConfigurationStudy, evaluation: pd.DataFrame) -> pd.DataFrame:
    """Question 1: per algorithm space, form of its preset (published, and relative where it
    has one) and dataset, the preset's test error minus the space's tuned incumbents', with a
    95% interval (the preset's training seeds against the tuning runs: per_tuning_run), and
    the preset's mean number of topology updates there."""
    main = study.backends[0]
    rows = []
    for space in study.spaces:
        if space == study.combined:
            continue
        published = default_reference(space, None)
        tuned = _tuned(evaluation, space, main)
        for preset in preset_forms(published):
            for dataset in study.datasets:
                t = per_tuning_run(tuned[tuned["dataset"] == dataset])
                p = _preset_runs(evaluation, preset, dataset)
                gain = difference(p["test_error"], t)
                rows.append({"space": space, "preset": preset, "dataset": dataset,
                             "preset_error": p["test_error"].mean(), "tuned_error": t.mean(),
                             "preset_updates": _updates(p), **gain,
                             "verdict": verdict(gain["ci_low"], gain["ci_high"],
                                                "tuning helped", "preset better")})
    return pd.DataFrame(rows)


def _updates(runs: pd.DataFrame) -> float:
    if "topology_updates" not in runs.columns:
        return math.nan
    return float(pd.to_numeric(runs["topology_updates"], errors="coerce").mean())


def summary(table: pd.DataFrame, by: list[str], better: str, worse: str) -> pd.DataFrame:
    """Per group (`by`) of a per-dataset gain table: the mean gain over datasets with its 95%
    t-interval over them (datasets as the units), the verdict, and how many datasets each way."""
    rows = []
    for keys, part in table.groupby(by, sort=False) if by else [((), table)]:
        keys = keys if isinstance(keys, tuple) else (keys,)
        pooled = across(part["gain"])
        rows.append({**dict(zip(by, keys, strict=True)), "datasets": pooled["units"],
                     "mean_gain": pooled["mean"], "ci_low": pooled["ci_low"],
                     "ci_high": pooled["ci_high"],
                     "verdict": verdict(pooled["ci_low"], pooled["ci_high"], better, worse),
                     "better_on": int((part["ci_low"] > 0).sum()),
                     "worse_on": int((part["ci_high"] < 0).sum())})
    return pd.DataFrame(rows)


def blocks(evaluation: pd.DataFrame, columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Test error per block (dataset, optimizer seed; rows) and column (name -> (space,
    variant)): the mean over training seeds."""
    frames = {}
    for name, (space, variant) in columns.items():
        part = _tuned(evaluation, space, variant)
        frames[name] = part.groupby(["dataset", "optimizer_seed"])["test_error"].mean()
    return pd.DataFrame(frames).dropna()


def rank(frame: pd.DataFrame, path: Path) -> str:
    """Friedman test and critical-difference diagram (autorank) of lower-is-better columns."""
    from autorank import autorank, plot_stats

    if len(frame) < MIN_BLOCKS or frame.shape[1] < 2:
        return (f"Too few blocks for a ranking: {len(frame)} (dataset x optimizer seed) with "
                f"{frame.shape[1]} columns; autorank needs {MIN_BLOCKS} and 2.")
    with contextlib.redirect_stdout(io.StringIO()):  # autorank prints its forced test choice
        result = autorank(frame, alpha=0.05, order="ascending", force_mode="nonparametric")
    ax = plot_stats(result, allow_insignificant=True)
    ax.figure.savefig(path, dpi=110, bbox_inches="tight")  # its own layout: no tight_layout
    plt.close(ax.figure)
    ranks = result.rankdf[["meanrank", "median"]].reset_index(names="space")
    verdict = "differ" if result.pvalue < 0.05 else "do not differ significantly"
    return (f"Friedman test over {len(frame)} blocks: p = {result.pvalue:.3g}; the columns "
            f"{verdict} (critical difference {result.cd:.2f} ranks).\n\n![ranks]({path.name})"
            f"\n\n{_md(ranks)}")


def combination(study: ConfigurationStudy, evaluation: pd.DataFrame,
                tuning: pd.DataFrame) -> pd.DataFrame:
    """Question 2: per dataset, the combined space against the single space with the best
    validation error (the choice a user makes without test data), at equal budget."""
    main = study.backends[0]
    t = tuning[(tuning["phase"] == "tune") & (tuning["variant"] == main)]
    rows = []
    for dataset in study.datasets:
        singles = t[(t["dataset"] == dataset) & (t["space"] != study.combined)]
        best = singles.groupby("space")["val_error"].mean().idxmin()
        combined = _tuned(evaluation, study.combined, main)
        single = _tuned(evaluation, best, main)
        c = per_tuning_run(combined[combined["dataset"] == dataset])
        s = per_tuning_run(single[single["dataset"] == dataset])
        gain = difference(s, c)
        rows.append({"dataset": dataset, "best_single": best, "single_error": s.mean(),
                     "combined_error": c.mean(), **gain,
                     "verdict": verdict(gain["ci_low"], gain["ci_high"], "combined better",
                                        "single better")})
    return pd.DataFrame(rows)


def importance(study: ConfigurationStudy, tuning: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Question 3: fANOVA of the combined space's tuning runs, pooled over datasets and per
    dataset (one column each); and the runs per dataset, for the ablation paths."""
    from metasparse.analysis import fanova, load_results

    main = study.backends[0]
    t = tuning[(tuning["phase"] == "tune") & (tuning["space"] == study.combined)
               & (tuning["variant"] == main)]
    runs = {d: [load_results(p) for p in part["directory"]] for d, part in t.groupby("dataset")}
    space = next(iter(runs.values()))[0].space
    columns = {}
    every = pd.concat([r.trials for rs in runs.values() for r in rs], ignore_index=True)
    columns["pooled"] = fanova(every, space, pairs=False).main.set_index("parameter")["importance"]
    for dataset, results in runs.items():
        trials = pd.concat([r.trials for r in results], ignore_index=True)
        columns[dataset] = fanova(trials, space, pairs=False).main.set_index(
            "parameter")["importance"]
    table = pd.DataFrame(columns).fillna(0.0).sort_values("pooled", ascending=False)
    spread = pd.DataFrame([across(table.loc[p, list(runs)]) if p != "instance" else
                           {"mean": math.nan, "ci_low": math.nan, "ci_high": math.nan}
                           for p in table.index], index=table.index)  # instance: pooled only
    table["mean_over_datasets"] = spread["mean"]
    table["ci_low"], table["ci_high"] = spread["ci_low"], spread["ci_high"]
    return table.reset_index(names="parameter"), runs


def choices(study: ConfigurationStudy, tuning: pd.DataFrame) -> pd.DataFrame:
    """What the tuner chose: over the combined space's incumbents (every dataset and optimizer
    seed, first backend), each searched parameter's values where active (categorical: how many
    incumbents chose each value; numeric: the median and range)."""
    from metasparse.space import active_config, kind_of, load_space

    main = study.backends[0]
    t = tuning[(tuning["phase"] == "tune") & (tuning["space"] == study.combined)
               & (tuning["variant"] == main)]
    configs = [active_config(json.loads(c)) for c in t["incumbent"] if isinstance(c, str) and c]
    space = load_space(study.combined, fixed=study.fixed)
    rows = []
    for hp in space.values():
        values = pd.Series([c[hp.name] for c in configs if hp.name in c], dtype=object)
        if kind_of(hp) == "constant" or values.empty:
            continue
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().all() and values.map(lambda v: not isinstance(v, (bool, str))).all():
            chosen = f"median {numeric.median():.3g} (range {numeric.min():.3g} to " \
                     f"{numeric.max():.3g})"
        else:
            counts = values.astype(str).value_counts()
            chosen = ", ".join(f"{v} {n}" for v, n in counts.items())
        rows.append({"parameter": hp.name, "incumbents": len(values), "chosen": chosen})
    return pd.DataFrame(rows, columns=["parameter", "incumbents", "chosen"])


def silent_presets(evaluation: pd.DataFrame) -> pd.DataFrame:
    """The presets whose schedule made no topology update on a dataset (every test run)."""
    from metasparse.analysis import never_updated

    presets = evaluation[evaluation["kind"] == "preset"]
    return never_updated(presets, by=("space", "dataset")).rename(columns={"space": "preset"})


def ablations(study: ConfigurationStudy, runs: dict) -> pd.DataFrame:
    """Ablation paths (surrogate costs) from each preset to each dataset's best incumbent of
    the combined space (best by validation error over optimizer seeds)."""
    from metasparse.analysis import ablation_path, fit_surrogate
    from metasparse.space import preset_config

    rows = []
    for dataset, results in runs.items():
        trials = pd.concat([r.trials for r in results], ignore_index=True)
        space = results[0].space
        best = min((r for r in results if r.incumbent), key=lambda r: r.incumbent["cost"],
                   default=None)
        if best is None:
            continue
        surrogate = fit_surrogate(trials, space)
        for name in study.presets:
            try:
                path = ablation_path(preset_config(name, study.fixed),
                                     best.incumbent["config"], space, surrogate.predict)
            except (ValueError, KeyError) as exc:  # a preset that is no point of the space
                rows.append({"dataset": dataset, "preset": name, "step": 0,
                             "parameter": f"(not a point of the space: {exc})"})
                continue
            rows += [{"dataset": dataset, "preset": name, **r}
                     for r in path[["step", "parameter", "target_value", "cost", "gain"]]
                     .to_dict("records")]
    return pd.DataFrame(rows)


def optimizers(study: ConfigurationStudy, tuning: pd.DataFrame,
               evaluation: pd.DataFrame) -> pd.DataFrame:
    """Question 4 and warm start: per variant of the combined space's tuning (each backend,
    and the first one warm-started), the mean validation error of its incumbents and their
    mean test error."""
    t = tuning[(tuning["phase"] == "tune") & (tuning["space"] == study.combined)]
    rows = []
    for (variant, dataset), part in t.groupby(["variant", "dataset"]):
        tuned = _tuned(evaluation, study.combined, variant)
        rows.append({"variant": variant, "dataset": dataset,
                     "val_error": part["val_error"].mean(),
                     "test_error": tuned[tuned["dataset"] == dataset]["test_error"].mean(),
                     "crashed": int(part["crashed"].sum()), "trials": int(part["trials"].sum())})
    return pd.DataFrame(rows)


def transfer(study: ConfigurationStudy, evaluation: pd.DataFrame) -> pd.DataFrame:
    """Leave-one-dataset-out: per transfer space and held-out dataset, the test error of the
    configuration tuned on the other datasets, against the space's tuning on the dataset
    itself where the study has it."""
    main = study.backends[0]
    rows = []
    for space in study.transfer:
        moved = _tuned(evaluation, space, main, phase="transfer")
        home = _tuned(evaluation, space, main)
        for dataset in study.datasets:
            m = moved[moved["dataset"] == dataset]["test_error"]
            h = home[home["dataset"] == dataset]["test_error"]
            rows.append({"space": space, "held_out": dataset, "transferred_error": m.mean(),
                         "tuned_on_it_error": h.mean() if len(h) else math.nan})
    return pd.DataFrame(rows)


def _gain_plot(table: pd.DataFrame, group: str, path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(table)), 3.5))
    labels = [f"{r[group]}\n{r['dataset']}" for _, r in table.iterrows()]
    low = (table["gain"] - table["ci_low"]).fillna(0).clip(lower=0)
    high = (table["ci_high"] - table["gain"]).fillna(0).clip(lower=0)
    ax.bar(range(len(table)), table["gain"], yerr=[low, high], capsize=4)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(table)), labels, fontsize=8)
    ax.set_ylabel("test error reduction (95% CI)")
    ax.set_title(title)
    _save(fig, path)


def _importance_plot(table: pd.DataFrame, path: Path, top: int = 12) -> None:
    head = table.head(top)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(head) + 1.2))
    y = range(len(head))[::-1]
    ax.barh(list(y), head["pooled"], color="lightgray", label="pooled")
    datasets = [c for c in head.columns if c not in ("parameter", "pooled", "mean_over_datasets",
                                                      "ci_low", "ci_high")]
    for column in datasets:
        ax.plot(head[column], list(y), "o", label=column)
    ax.set_yticks(list(y), head["parameter"])
    ax.set_xlabel("fANOVA importance (share of variance)")
    ax.legend(fontsize=7)
    _save(fig, path)


def silent_notes(report: Path) -> list[str]:
    """One line per preset whose schedule never fired on some dataset (report/'s table)."""
    silent = pd.read_csv(report / "silent_presets.csv")
    return [f"note: {preset} made no topology update on {', '.join(part['dataset'])} (see "
            f"{report / 'report.md'})" for preset, part in silent.groupby("preset", sort=False)]


def _silent_text(silent: pd.DataFrame) -> str:
    if not len(silent):
        return "Every preset updated its topology on every dataset."
    lines = []
    for (preset, schedule), part in silent.groupby(["preset", "schedule"], sort=False):
        hint = relative_hint(preset).replace("-relative ", "-relative` ", 1)
        lines.append(f"- `{preset}` ({schedule}) made no topology update on "
                     f"{', '.join(part['dataset'])}: it trained as a static sparse network "
                     "there." + (f" `{hint}." if hint else ""))
    return "\n".join(lines)


def configuration_report(study: ConfigurationStudy, tuning: pd.DataFrame,
                         evaluation: pd.DataFrame) -> Path:
    out = study.output_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    main = study.backends[0]
    q1 = configurability(study, evaluation)
    q1_summary = summary(q1, ["space", "preset"], "tuning helped", "preset better")
    q2 = combination(study, evaluation, tuning)
    q2_summary = summary(q2, [], "combined better", "single better")
    q3, runs = importance(study, tuning)
    paths = ablations(study, runs)
    chosen = choices(study, tuning)
    q4 = optimizers(study, tuning, evaluation)
    moved = transfer(study, evaluation)
    silent = silent_presets(evaluation)
    for name, frame in [("configurability", q1), ("configurability_summary", q1_summary),
                        ("combination", q2), ("combination_summary", q2_summary),
                        ("importance", q3), ("ablation", paths), ("choices", chosen),
                        ("optimizers", q4), ("transfer", moved), ("silent_presets", silent)]:
        frame.to_csv(out / f"{name}.csv", index=False)
    published = q1[q1["preset"] == q1["space"].map(lambda s: default_reference(s, None))]
    _gain_plot(published, "space", out / "configurability.png", "tuned vs published preset")
    _gain_plot(q2, "best_single", out / "combination.png",
               f"{study.combined} vs the best single space")
    _importance_plot(q3, out / "importance.png")
    spaces = {s: (s, main) for s in study.spaces}
    variants = {b: (study.combined, b) for b in study.backends}
    if study.warm_start:
        variants[main + WARM] = (study.combined, main + WARM)
    crashed, trials = int(tuning["crashed"].sum()), int(tuning["trials"].sum())
    budget = f"{study.epochs} epochs" if study.min_epochs is None else \
        f"multi-fidelity SMAC from {study.min_epochs} to {study.epochs} epochs (its trials " \
        "count evaluations at any budget, most of them short: SMAC spends fewer epochs than " \
        "the other backends at the same n_trials)"
    lines = [
        f"# The configuration study: {study.name}", "",
        f"Datasets {', '.join(study.datasets)}; spaces {', '.join(study.spaces)} (combined: "
        f"`{study.combined}`); {study.n_trials} trials per tuning run with "
        f"{', '.join(study.backends)} over optimizer seeds {study.optimizer_seeds}; "
        f"{budget}; fixed {study.fixed or 'nothing'}. Tuning reads the "
        "validation split only; every number below is a test error (1 - accuracy) of a "
        f"configuration trained again with seeds {study.seeds}, unless it says validation. "
        "An interval that spans 0 is an answer within noise: the verdict columns say so.",
        "", f"Crashed trials: {crashed} of {trials} tuning trials.", "",
        "## Presets whose published schedule never fired", "",
        "A preset's published update interval counts optimizer steps (or epochs); where a "
        "dataset gives fewer steps, the preset never changes its topology. Each preset is "
        "therefore also tested in its relative form (`<name>-relative`: as many updates per "
        "run as in its paper).", "", _silent_text(silent), "",
        "## 1. Configurability: each algorithm tuned against its preset", "",
        "`gain` = preset error - tuned error (positive: tuning helped), Welch 95% interval of "
        "the preset's training seeds against the tuning runs (each the mean over its training "
        "seeds: the optimizer seeds are the independent samples of tuning); per algorithm and "
        "preset form, the mean gain over datasets with its t-interval over the datasets. "
        "`n/a`: no interval (a single tuning run).", "", _md(q1_summary), "",
        "![configurability](configurability.png)", "", _md(q1), "",
        f"## 2. The combined space `{study.combined}` against the best single space", "",
        "The best single space of a dataset is the one whose tuning reached the lowest "
        "validation error; `gain` = its test error - the combined space's (Welch interval over "
        "their tuning runs); the first table pools the datasets (t-interval over them).", "",
        _md(q2_summary), "",
        "![combination](combination.png)", "", _md(q2), "",
        "### Ranking of the spaces across datasets", "",
        rank(blocks(evaluation, spaces), out / "ranks_spaces.png"), "",
        "## 3. Which components matter", "",
        f"fANOVA of the `{study.combined}` tuning runs ({main}), pooled over datasets and per "
        "dataset; `mean_over_datasets` with its t-interval over the datasets.", "",
        "![importance](importance.png)", "", _md(q3.head(15)), "",
        "`instance` (pooled only): the dataset itself.", "",
        f"### What the tuner chose: the `{study.combined}` incumbents", "", _md(chosen), "",
        "### Ablation paths from each preset to the combined incumbent (surrogate costs)", "",
        f"The first {ABLATION_STEPS} steps of each path (all of them in ablation.csv): the "
        "greedy path changes first the parameter that gains most.", "",
        _md(paths[paths["step"] <= ABLATION_STEPS] if len(paths) else paths), "",
        "## 4. The optimizers, and warm starting from the presets", "",
        f"Tuning of `{study.combined}` at equal budget; `{main}{WARM}` starts from the presets "
        "that are points of the space.", "", _md(q4), "",
        rank(blocks(evaluation, variants), out / "ranks_optimizers.png"), "",
    ]
    if len(moved):
        lines += ["## Transfer: tuned on the other datasets, tested on the one left out", "",
                  _md(moved), ""]
    (out / "report.md").write_text("\n".join(lines))
    return out / "report.md"
