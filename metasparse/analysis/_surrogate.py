"""The random-forest surrogate that fANOVA, local importance and the surrogate ablation share.

Configurations become rows of numbers in [lo, 1]: a float is scaled to [0, 1] (on a log scale
where the space says so), a categorical or ordinal choice k of K to (k + 0.5) / K. A parameter that
is inactive in some trials gets an "inactive" slot [-w, 0) below its range, with w chosen so that
the slot carries the share of trials in which it is inactive; inactive values are imputed at -w/2,
a value no active one can take. Where the trials of a run are per instance (SMAC's ac facade) or at
several budgets (multi-fidelity), the instance and the budget are further inputs; predictions for a
configuration average over the instances at the highest budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from ConfigSpace import ConfigurationSpace
from sklearn.ensemble import RandomForestRegressor

from metasparse.analysis._configspace import active_parameters, choices_of, kind_of, same_value
from metasparse.analysis._results import configs_of
from metasparse.errors import MetasparseError

__all__ = ["Surrogate", "fit_surrogate", "select_trials"]

# Trials whose cost says how good the configuration is: "diverged" is a real outcome of training
# (its cost is the crash cost), while crashed, timed-out and pruned trials say nothing about it.
USABLE_STATUSES = ("success", "diverged")
# Below this many trials at the highest budget, every budget is used (with the budget as input).
MIN_TRIALS_AT_TOP = 10
BUDGET, INSTANCE = "budget", "instance"
_SPREAD = (0.1, 0.3, 0.5, 0.7, 0.9)


@dataclass
class Feature:
    """One input column of the forest."""

    name: str
    kind: str  # categorical, ordinal, float, budget, instance
    choices: list[Any] = field(default_factory=list)
    lower: float = 0.0
    upper: float = 1.0
    log: bool = False
    inactive_width: float = 0.0

    @property
    def low(self) -> float:
        """Lower end of the encoded domain (the inactive slot included)."""
        return -self.inactive_width

    def encode(self, value: Any) -> float:
        if value is None:
            # NaN: inactive, though active in every trial; `Surrogate.predict` averages over it
            return -self.inactive_width / 2 if self.inactive_width > 0.0 else math.nan
        if self.kind in ("categorical", "ordinal", "budget", "instance"):
            for index, choice in enumerate(self.choices):
                if same_value(choice, value):
                    return (index + 0.5) / len(self.choices)
            raise MetasparseError(
                f"the value {value!r} of {self.name!r} lies outside the searched space "
                f"{self.choices}; the surrogate cannot predict it (evaluate by training instead)")
        x = float(value)
        if self.log:
            x, lower, upper = math.log(max(x, 1e-300)), math.log(self.lower), math.log(self.upper)
        else:
            lower, upper = self.lower, self.upper
        # Trees extrapolate flat: a value beyond the range is predicted as the range's end.
        return min(max((x - lower) / (upper - lower), 0.0), 1.0) if upper > lower else 0.5

    def grid(self, n: int) -> list[Any]:
        """Values spread over the active range: every choice, or n evenly spaced numbers."""
        if self.kind != "float":
            return list(self.choices)
        if self.log:
            values = np.exp(np.linspace(math.log(self.lower), math.log(self.upper), n))
        else:
            values = np.linspace(self.lower, self.upper, n)
        return [float(v) for v in values]


@dataclass
class Surrogate:
    """A random forest from configurations to a cost, with the encoding of its inputs.

    `features` are the inputs (the parameters active in some trial, then budget/instance where
    used), `constants` the constants of the space, `active_share` the share of trials in which
    each parameter of the space is active, `n_values` how many values it took there, `oob_r2`
    the forest's out-of-bag R² (how well it predicts trials it did not see; NaN below 10
    trials or 32 trees).
    """

    space: ConfigurationSpace
    features: list[Feature]
    constants: dict[str, Any]
    forest: RandomForestRegressor
    n_trials: int
    objective: str
    budgets: list[float]
    instances: list[str]
    active_share: dict[str, float]
    n_values: dict[str, int]
    oob_r2: float = math.nan

    @property
    def lower(self) -> np.ndarray:
        return np.array([f.low for f in self.features])

    @property
    def upper(self) -> np.ndarray:
        return np.ones(len(self.features))

    def feature(self, name: str) -> Feature:
        return next(f for f in self.features if f.name == name)

    def encode(self, configs: Sequence[Mapping[str, Any]], budget: Any = None,
               instance: Any = None) -> np.ndarray:
        """Rows of inputs; each configuration may hold inactive values (they are ignored)."""
        rows = []
        for config in configs:
            active = active_parameters(self.space, config)
            self._check_constants(config, active)
            row = []
            for f in self.features:
                if f.kind == "budget":
                    row.append(f.encode(budget))
                elif f.kind == "instance":
                    row.append(f.encode(instance))
                else:
                    row.append(f.encode(config[f.name] if f.name in active else None))
            rows.append(row)
        return np.asarray(rows, dtype=float).reshape(len(rows), len(self.features))

    def _check_constants(self, config: Mapping[str, Any], active: set[str]) -> None:
        for name, value in self.constants.items():
            if name in active and not same_value(config[name], value):
                raise MetasparseError(
                    f"the value {config[name]!r} of {name!r} lies outside the searched space "
                    f"(where it is the constant {value!r}); the surrogate cannot predict it "
                    "(evaluate by training instead)")

    def predict(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Predicted cost of each configuration at the highest budget, averaged over the
        instances where the trials are per instance. Values no trial had are predicted as the
        trees extrapolate: an unseen choice like the observed ones its code falls between, a
        number beyond the range like the range's end."""
        if not configs:
            return np.zeros(0)
        budget = max(self.budgets) if self.budgets else None
        instances: list[Any] = list(self.instances) or [None]
        predictions = []
        for instance in instances:
            X = self.encode(configs, budget, instance)
            unseen = np.isnan(X)
            # A parameter inactive here but active in every trial: the forest never saw that,
            # so the prediction is averaged over the parameter's range.
            positions = _SPREAD if unseen.any() else (0.0,)
            predictions += [self.forest.predict(np.where(unseen, p, X)) for p in positions]
        return np.mean(predictions, axis=0)


def select_trials(trials: pd.DataFrame, objective: str = "cost") -> pd.DataFrame:
    """The trials a surrogate learns from: usable statuses (success, diverged) with a finite
    cost, at the highest budget when it has enough trials, else at every budget."""
    if objective not in trials.columns:
        there = [c for c in trials.columns if c.startswith("cost")]
        raise MetasparseError(f"the results have no {objective!r} column; objectives there: "
                              f"{there}")
    usable = trials[trials["status"].isin(USABLE_STATUSES) & np.isfinite(trials[objective])]
    if usable.empty:
        return usable
    top = usable["budget"].max()
    at_top = usable[usable["budget"] == top]
    return at_top if len(at_top) >= MIN_TRIALS_AT_TOP or len(at_top) == len(usable) else usable


def fit_surrogate(trials: pd.DataFrame, space: ConfigurationSpace, *, objective: str = "cost",
                  n_trees: int = 64, seed: int = 0) -> Surrogate:
    """Fit a random forest to the trials (see `select_trials` for which).

    The forest follows optuna's fANOVA evaluator (64 bootstrapped trees of depth up to 64,
    every feature considered at each split).
    """
    chosen = select_trials(trials, objective)
    if len(chosen) < 2:
        raise MetasparseError(f"{len(chosen)} usable trial(s) (success or diverged, with a "
                              f"finite {objective!r}); a surrogate needs at least 2")
    params = list(space.keys())
    configs = configs_of(chosen, params)
    active_share = {p: float(np.mean([p in c for c in configs])) for p in params}
    features: list[Feature] = []
    constants: dict[str, Any] = {}
    n_values: dict[str, int] = {}
    for name in params:
        hp = space[name]
        observed = [c[name] for c in configs if name in c]
        n_values[name] = len(_distinct(observed))
        if kind_of(hp) == "constant":
            constants[name] = hp.value
            continue
        if not observed:
            continue
        # A parameter that kept one value is an input all the same: the trees never split on
        # it, so it explains nothing, and a configuration with another value is predicted as
        # if that value did not matter (as for a choice that no trial drew).
        inactive_share = 1.0 - len(observed) / len(configs)
        width = inactive_share / (1.0 - inactive_share) if inactive_share > 0 else 0.0
        if kind_of(hp) == "float":
            features.append(Feature(name, "float", lower=float(hp.lower), upper=float(hp.upper),
                                    log=bool(hp.log), inactive_width=width))
        else:
            features.append(Feature(name, kind_of(hp), choices=choices_of(hp),
                                    inactive_width=width))
    budgets = sorted(float(b) for b in chosen["budget"].unique())
    if len(budgets) > 1:
        features.append(Feature(BUDGET, "budget", choices=budgets))
    instances = sorted(str(i) for i in chosen["instance"].unique()) \
        if "instance" in chosen.columns else []
    per_instance = len(instances) > 1
    if per_instance:
        features.append(Feature(INSTANCE, "instance", choices=instances))
    surrogate = Surrogate(
        space=space, features=features, constants=constants,
        forest=RandomForestRegressor(n_estimators=n_trees, max_depth=64, min_samples_split=2,
                                     min_samples_leaf=1, max_features=1.0, random_state=seed,
                                     oob_score=len(chosen) >= MIN_TRIALS_AT_TOP and n_trees >= 32),
        n_trials=len(chosen), objective=objective,
        budgets=budgets if len(budgets) > 1 else [],
        instances=instances if per_instance else [], active_share=active_share,
        n_values=n_values,
    )
    X = np.vstack([surrogate.encode([config], budget=float(b), instance=str(i))
                   for config, b, i in zip(configs, chosen["budget"],
                                           chosen.get("instance", ["all"] * len(chosen)),
                                           strict=True)])
    if X.shape[1] == 0:
        raise MetasparseError(f"every parameter took one value in all {len(configs)} trials; "
                              "there is nothing to learn")
    surrogate.forest.fit(X, chosen[objective].to_numpy(dtype=float))
    if surrogate.forest.oob_score:
        surrogate.oob_r2 = float(surrogate.forest.oob_score_)
    return surrogate


def _distinct(values: Sequence[Any]) -> list[Any]:
    distinct: list[Any] = []
    for value in values:
        if not any(same_value(value, d) for d in distinct):
            distinct.append(value)
    return distinct
