"""Parameter importance: functional ANOVA (Hutter et al., ICML 2014) on a random forest, and
local parameter importance around a configuration (Biedenkapp et al., LION 2018).

Functional ANOVA is computed here, exactly, on the trees of a scikit-learn forest rather than with
the `fanova` package (its pyrfr crashes on this NumPy) or optuna's FanovaImportanceEvaluator
(it drops conditional parameters, gives main effects only and needs an optuna study). Each tree
cuts the encoded configuration space (see `_surrogate`) into boxes with a constant prediction;
under the uniform measure on that space, the marginal of a set of parameters is a sum over the
boxes that overlap a cell of the grid that the tree's thresholds draw on those parameters, so its
variance is exact, without sampling. Main effects and pairwise interactions come from the same
trees: V_ij = Var(f_ij) - V_i - V_j, and each is reported as its share of the tree's total
variance, averaged over the trees (with the standard deviation over trees).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from ConfigSpace import ConfigurationSpace

from metasparse.analysis._configspace import active_parameters, default_values, kind_of
from metasparse.analysis._surrogate import Surrogate, fit_surrogate

__all__ = ["Importance", "fanova", "local_importance"]


class Importance(NamedTuple):
    """fANOVA importance: `main` has a row for every parameter (and for the budget or the
    instance where they are inputs), `pairs` one row per pair of inputs, strongest first."""

    main: pd.DataFrame
    pairs: pd.DataFrame


def fanova(trials: pd.DataFrame, space: ConfigurationSpace, *, objective: str = "cost",
           n_trees: int = 64, seed: int = 0, pairs: bool = True,
           surrogate: Surrogate | None = None) -> Importance:
    """Share of the variance of `objective` over the space that each parameter explains alone
    (`importance`) and that each pair explains together beyond their main effects;
    `with_children` adds the main effects of the parameters that a parameter switches on (its
    conditional children), which the imputation of inactive values may credit instead of it.

    `trials` is a trials table (see `load_results`); `surrogate`, when given, is used instead of
    fitting a new forest to `trials`. Parameters that did not vary in the trials, are constant
    in the space or (for the meta-space's subspaces) are not in it explain nothing: importance 0,
    and `status` says why.
    """
    surrogate = surrogate or fit_surrogate(trials, space, objective=objective, n_trees=n_trees,
                                           seed=seed)
    names = [f.name for f in surrogate.features]
    main_shares, pair_shares = _decompose(surrogate, pairs)
    rows = []
    for index, name in enumerate(names):
        feature = surrogate.features[index]
        if feature.kind in ("budget", "instance"):
            status = "input"
        elif surrogate.n_values[name] <= 1 and surrogate.active_share[name] == 1.0:
            status = "one value tried"
        else:
            status = "searched"
        rows.append({
            "parameter": name, "importance": float(np.mean(main_shares[:, index])),
            "std": float(np.std(main_shares[:, index])), "kind": feature.kind,
            "status": status, "active_share": surrogate.active_share.get(name, 1.0),
        })
    for name in space:
        if name in names:
            continue
        hp = space[name]
        share = surrogate.active_share.get(name, 0.0)
        status = "fixed" if kind_of(hp) == "constant" else "never active"
        rows.append({"parameter": name, "importance": 0.0, "std": 0.0, "kind": kind_of(hp),
                     "status": status, "active_share": share})
    for name in _outside(space):
        rows.append({"parameter": name, "importance": 0.0, "std": 0.0, "kind": "-",
                     "status": "not in space", "active_share": 0.0})
    main = pd.DataFrame(rows)
    shares = dict(zip(main["parameter"], main["importance"], strict=True))
    main["with_children"] = [
        shares[name] + sum(shares.get(child, 0.0) for child in _descendants(space, name))
        if name in space else shares[name] for name in main["parameter"]]
    main = main.sort_values("importance", ascending=False, kind="stable")
    main.insert(0, "rank", np.arange(1, len(main) + 1))
    pair_rows = [
        {"parameter_1": names[i], "parameter_2": names[j],
         "importance": float(np.mean(values)), "std": float(np.std(values))}
        for (i, j), values in pair_shares.items()
    ]
    pair_frame = pd.DataFrame(pair_rows, columns=["parameter_1", "parameter_2", "importance",
                                                  "std"])
    pair_frame = pair_frame.sort_values("importance", ascending=False, kind="stable")
    return Importance(main.reset_index(drop=True), pair_frame.reset_index(drop=True))


def _descendants(space: ConfigurationSpace, name: str) -> set[str]:
    """The parameters that are active only through `name` (its children, theirs, ...)."""
    found: set[str] = set()
    stack = [name]
    while stack:
        for child in space.children_of[stack.pop()]:
            if child.name not in found:
                found.add(child.name)
                stack.append(child.name)
    return found


def _outside(space: ConfigurationSpace) -> list[str]:
    """Parameters of the meta-space that a subspace of it does not search at all."""
    from metasparse.space import parameter_names

    meta = parameter_names()
    return [p for p in meta if p not in space] if set(space.keys()) <= set(meta) else []


def _decompose(surrogate: Surrogate, pairs: bool
               ) -> tuple[np.ndarray, dict[tuple[int, int], list[float]]]:
    """Per tree: main-effect shares (trees x features) and pairwise-interaction shares."""
    lower, upper = surrogate.lower, surrogate.upper
    n = len(lower)
    main_rows: list[np.ndarray] = []
    pair_values: dict[tuple[int, int], list[float]] = {
        p: [] for p in itertools.combinations(range(n), 2)} if pairs else {}
    for estimator in surrogate.forest.estimators_:
        tree = _TreeMarginals(estimator.tree_, lower, upper)
        if tree.total <= 0.0:
            continue
        main = np.array([tree.main(i) for i in range(n)])
        main_rows.append(main / tree.total)
        for i, j in pair_values:
            pair_values[(i, j)].append(max(tree.pair(i, j) - main[i] - main[j], 0.0)
                                       / tree.total)
    if not main_rows:  # every tree predicts a constant: nothing explains any variance
        return np.zeros((1, n)), {p: [0.0] for p in pair_values}
    return np.array(main_rows), pair_values


class _TreeMarginals:
    """Exact marginals of one regression tree over the box [lower, upper] (uniform measure)."""

    def __init__(self, tree: Any, lower: np.ndarray, upper: np.ndarray) -> None:
        lows, highs, values, splits = [], [], [], [set() for _ in lower]
        stack = [(0, lower.copy(), upper.copy())]
        while stack:
            node, lo, hi = stack.pop()
            left, right = tree.children_left[node], tree.children_right[node]
            if left == -1:
                lows.append(lo)
                highs.append(hi)
                values.append(float(tree.value[node].ravel()[0]))
                continue
            feature, threshold = int(tree.feature[node]), float(tree.threshold[node])
            threshold = min(max(threshold, lo[feature]), hi[feature])
            splits[feature].add(threshold)
            hi_left, lo_right = hi.copy(), lo.copy()
            hi_left[feature] = threshold
            lo_right[feature] = threshold
            stack.append((left, lo, hi_left))
            stack.append((right, lo_right, hi))
        span = upper - lower
        self.lows, self.highs = np.array(lows), np.array(highs)
        self.widths = (self.highs - self.lows) / span
        self.values = np.array(values)
        self.volume = self.widths.prod(axis=1)
        self.mean = float(self.volume @ self.values)
        self.total = float(self.volume @ (self.values - self.mean) ** 2)
        self.cells = []
        for d in range(len(lower)):
            edges = np.unique(np.clip([lower[d], upper[d], *splits[d]], lower[d], upper[d]))
            mids = (edges[:-1] + edges[1:]) / 2
            inside = (self.lows[:, d, None] < mids) & (mids < self.highs[:, d, None])
            self.cells.append((np.diff(edges) / span[d], inside.astype(float)))

    def _weight_without(self, *dims: int) -> np.ndarray:
        """Each leaf's value times its volume in the dimensions other than `dims`."""
        denominator = np.prod(self.widths[:, list(dims)], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = np.where(denominator > 0, self.values * self.volume / denominator, 0.0)
        return weight

    def main(self, d: int) -> float:
        widths, inside = self.cells[d]
        if len(widths) == 1:  # the tree never splits on d: its marginal is flat
            return 0.0
        marginal = self._weight_without(d) @ inside
        return float(widths @ (marginal - self.mean) ** 2)

    def pair(self, d: int, e: int) -> float:
        widths_d, inside_d = self.cells[d]
        widths_e, inside_e = self.cells[e]
        if len(widths_d) == 1 or len(widths_e) == 1:
            return self.main(e) + self.main(d)
        marginal = (inside_d * self._weight_without(d, e)[:, None]).T @ inside_e
        return float(widths_d @ (marginal - self.mean) ** 2 @ widths_e)


def local_importance(surrogate: Surrogate, config: Mapping[str, Any], *,
                     n_grid: int = 10) -> pd.DataFrame:
    """How the predicted cost moves when one parameter of `config` changes at a time.

    For every searched parameter active in `config`: the variance of the prediction over its
    values (all choices, or `n_grid` points of its range) with the rest of `config` kept, as a
    share of the sum over parameters (`importance`), and the best value found that way with
    its predicted gain over `config` (positive: the surrogate expects it to do better).
    Children that a change activates take their defaults.
    """
    space = surrogate.space
    base = dict(config)
    active = active_parameters(space, base)
    base_cost = float(surrogate.predict([base])[0])
    rows = []
    for feature in surrogate.features:
        if feature.kind in ("budget", "instance") or feature.name not in active:
            continue
        values = feature.grid(n_grid)
        candidates = [_changed(space, base, feature.name, v) for v in values]
        predictions = surrogate.predict(candidates)
        best = int(np.argmin(predictions))
        rows.append({
            "parameter": feature.name, "variance": float(np.var(predictions)),
            "value": base[feature.name], "best_value": values[best],
            "predicted_cost": base_cost, "predicted_best": float(predictions[best]),
            "predicted_gain": base_cost - float(predictions[best]),
        })
    frame = pd.DataFrame(rows, columns=["parameter", "variance", "value", "best_value",
                                        "predicted_cost", "predicted_best", "predicted_gain"])
    total = frame["variance"].sum()
    frame.insert(1, "importance", frame["variance"] / total if total > 0 else 0.0)
    return frame.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


def _changed(space: ConfigurationSpace, config: Mapping[str, Any], name: str,
             value: Any) -> dict[str, Any]:
    """`config` with one value changed; parameters it activates get their defaults."""
    changed = {**default_values(space), **{k: v for k, v in config.items() if v is not None}}
    changed[name] = value
    return changed
