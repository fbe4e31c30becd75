"""The analyses that explore a run beyond importance and ablation, as DeepCAVE shows them: cost
over time, partial dependence with individual conditional expectation (ICE), the configuration
footprint, and the correlation of costs across budgets. Plain tables in, plain tables out; the
dashboard and `metasparse analyze` draw them with the same figures (`_figures`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.manifold import MDS

from metasparse.analysis._ablation import ablation_path
from metasparse.analysis._analysis import (
    PRESETS_FILE,
    _differences,
    _full,
    _per_instance,
)
from metasparse.analysis._configspace import active_parameters
from metasparse.analysis._importance import _changed
from metasparse.analysis._results import Results, configs_of
from metasparse.analysis._surrogate import USABLE_STATUSES, Surrogate
from metasparse.analysis._training import preset_config
from metasparse.errors import MetasparseError
from metasparse.results import CONFIG_PREFIX, REPORT

__all__ = [
    "budget_correlation",
    "cost_over_time",
    "footprint",
    "incumbent_config",
    "incumbent_differences",
    "partial_dependence",
    "pdp_of",
    "per_instance",
    "reference_lines",
    "searched_parameters",
    "surrogate_ablation",
    "top_searched",
]


def cost_over_time(results: Results) -> pd.DataFrame:
    """One row per trial in the order it finished: its `cost`, the seconds since the run's
    first trial started (`elapsed_s`), and the best cost of a usable trial so far
    (`incumbent_cost`: the incumbent's trajectory, whatever the budget)."""
    trials = results.trials
    columns = ["trial_id", "status", "budget", "elapsed_s", "cost", "incumbent_cost"]
    if trials.empty:
        return pd.DataFrame(columns=columns)
    frame = trials.sort_values(["end_time", "trial_id"], kind="stable")
    start = trials["start_time"].min()
    usable = frame["status"].isin(USABLE_STATUSES) & np.isfinite(frame["cost"])
    return pd.DataFrame({
        "trial_id": frame["trial_id"].to_numpy(),
        "status": frame["status"].to_numpy(),
        "budget": frame["budget"].to_numpy(),
        "elapsed_s": (frame["end_time"] - start).dt.total_seconds().to_numpy(),
        "cost": frame["cost"].to_numpy(dtype=float),
        "incumbent_cost": frame["cost"].where(usable).cummin().to_numpy(dtype=float),
    }, columns=columns)


def partial_dependence(surrogate: Surrogate, trials: pd.DataFrame, parameter: str, *,
                       n_grid: int = 20, n_curves: int = 50, seed: int = 0) -> pd.DataFrame:
    """Individual conditional expectation (Goldstein et al. 2015) of the surrogate's predicted
    cost along `parameter`: for up to `n_curves` trials in which it is active (chosen at
    random with `seed`), the prediction with its value set to each point of its grid (every
    choice, or `n_grid` points of its range) and the rest of the trial's configuration kept.
    The partial dependence is the mean of the curves at each value (`pdp_of`). Rows: the
    `trial_id` of the curve, `value`, `cost`."""
    feature = surrogate.feature(parameter)
    space = surrogate.space
    configs = configs_of(trials, list(space.keys()))
    ids = trials["trial_id"].to_numpy()
    chosen = [k for k, config in enumerate(configs) if parameter in config]
    if len(chosen) > n_curves:
        chosen = sorted(np.random.default_rng(seed).choice(chosen, n_curves, replace=False))
    grid = feature.grid(n_grid)
    rows = []
    for k in chosen:
        changed = [_changed(space, configs[k], parameter, value) for value in grid]
        for value, cost in zip(grid, surrogate.predict(changed), strict=True):
            rows.append({"trial_id": int(ids[k]), "value": value, "cost": float(cost)})
    return pd.DataFrame(rows, columns=["trial_id", "value", "cost"])


def pdp_of(ice: pd.DataFrame) -> pd.DataFrame:
    """The partial dependence: the mean and standard deviation of the ICE curves at each value
    (in the grid's order)."""
    grouped = ice.groupby("value", sort=False)["cost"]
    return grouped.agg(["mean", "std"]).reset_index()


def footprint(surrogate: Surrogate, trials: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """The configuration footprint (Downs et al., DeepCAVE): the configurations of the trials
    placed in the plane by metric multidimensional scaling (scikit-learn's MDS) of their
    distances in the surrogate's encoding, where each parameter spans [0, 1] and an inactive
    parameter sits apart from its values. Rows: `trial_id`, `x`, `y`, `cost`, `status`,
    `budget`."""
    columns = ["trial_id", "x", "y", "cost", "status", "budget"]
    if len(trials) < 2:
        return pd.DataFrame(columns=columns)
    configs = configs_of(trials, list(surrogate.space.keys()))
    rows = []
    for config in configs:
        active = active_parameters(surrogate.space, config)
        rows.append([f.encode(config[f.name]) if f.name in active and f.name in config
                     else f.encode(None) for f in surrogate.features
                     if f.kind not in ("budget", "instance")])
    X = np.nan_to_num(np.asarray(rows, dtype=float), nan=-0.5)
    positions = MDS(n_components=2, n_init=1, random_state=seed, metric_mds=True,
                    init="classical_mds", normalized_stress="auto").fit_transform(X)
    return pd.DataFrame({
        "trial_id": trials["trial_id"].to_numpy(), "x": positions[:, 0], "y": positions[:, 1],
        "cost": trials["cost"].to_numpy(dtype=float), "status": trials["status"].to_numpy(),
        "budget": trials["budget"].to_numpy(),
    }, columns=columns)


def budget_correlation(trials: pd.DataFrame) -> pd.DataFrame:
    """For a multi-fidelity run: for each pair of budgets, Spearman's rank correlation of the
    costs of the configurations evaluated at both (`n_configs` of them; NaN below 3). A high
    correlation says that the lower budget ranks configurations as the higher one does.
    Empty when the run used one budget."""
    columns = ["budget_1", "budget_2", "correlation", "n_configs"]
    usable = trials[trials["status"].isin(USABLE_STATUSES) & np.isfinite(trials["cost"])]
    budgets = sorted(usable["budget"].dropna().unique())
    if len(budgets) < 2:
        return pd.DataFrame(columns=columns)
    params = [c for c in usable.columns if c.startswith(CONFIG_PREFIX)]
    keys = [repr(row) for row in usable[params].itertuples(index=False, name=None)]
    table = usable.assign(key=keys).pivot_table(index="key", columns="budget", values="cost",
                                                aggfunc="mean")
    rows = []
    for i, low in enumerate(budgets):
        for high in budgets[i + 1:]:
            both = table[[low, high]].dropna()
            value = float(spearmanr(both[low], both[high]).statistic) if len(both) >= 3 \
                else float("nan")
            rows.append({"budget_1": low, "budget_2": high, "correlation": value,
                         "n_configs": len(both)})
    return pd.DataFrame(rows, columns=columns)


def searched_parameters(results: Results) -> list[str]:
    """The parameters that took more than one value in the run's trials, in the space's order."""
    found: list[str] = []
    for name in results.params:
        column = results.trials.get(f"{CONFIG_PREFIX}{name}")
        if column is not None and column.dropna().astype(str).nunique() > 1:
            found.append(name)
    return found


def incumbent_config(results: Results) -> dict[str, Any]:
    """The incumbent's full configuration (raises while the run has none)."""
    if not results.incumbent or "config" not in results.incumbent:
        raise MetasparseError(f"{str(results.directory)!r} has no successful trial yet")
    return _full(results.incumbent["config"])


def incumbent_differences(results: Results) -> pd.DataFrame:
    """The parameters where the incumbent differs from the run's reference preset (with the
    run's fixed settings); '-' where inactive."""
    source = preset_config(results.reference_preset, results.fixed)
    return _differences(results, source, incumbent_config(results))


def per_instance(results: Results) -> pd.DataFrame:
    """The cost of the incumbent and of the reference on each tuning instance (its title:
    `instance_title`)."""
    return _per_instance(results)


def surrogate_ablation(results: Results, surrogate: Surrogate) -> pd.DataFrame:
    """The ablation path from the run's reference preset to the incumbent, predicted by the
    surrogate."""
    source = preset_config(results.reference_preset, results.fixed)
    return ablation_path(source, incumbent_config(results), results.space, surrogate.predict)


def reference_lines(results: Results) -> dict[str, float]:
    """The presets' costs on the run's instances, by label: the reference preset (reference.yaml)
    and, where `metasparse analyze --presets` trained them, every preset (report/presets.csv);
    none that failed."""
    lines = {}
    reference = results.reference or {}
    if reference.get("status") == "success":
        lines[f"{reference['preset']} (reference)"] = float(reference["cost"])
    presets = results.directory / REPORT / PRESETS_FILE
    if presets.is_file():
        table = pd.read_csv(presets)
        for name, status, cost in zip(table["preset"], table["status"], table["cost"],
                                      strict=True):
            if status == "success" and name != reference.get("preset"):
                lines[str(name)] = float(cost)
    return lines


def top_searched(importance: pd.DataFrame, surrogate: Surrogate, n: int) -> list[str]:
    """The `n` most important parameters (fANOVA's `main` table) that were searched and that
    the surrogate takes as inputs."""
    names = {f.name for f in surrogate.features}
    searched = importance[importance["status"] == "searched"]["parameter"]
    return [p for p in searched if p in names][:n]
