"""Shapley-value explanations of a run (HyperSHAP, Wever et al., AAAI 2026) on the run's own
random-forest surrogate: the Shapley ablation from the reference preset to the incumbent (how
much of the predicted gain each changed parameter earns, averaged over every order of changes,
where the greedy ablation path credits one order only) and tunability (how much tuning each
parameter alone and with others, from the reference preset, can gain: the best predicted cost
over random configurations that vary only the parameters of a coalition).

HyperSHAP plays its games on a ConfigurationSpace's vectors; here the players are a flat space of
the chosen parameters (no conditions), and a vector is decoded into the configuration it changes,
whose activity the surrogate resolves. HyperSHAP maximizes: the game's value is minus the
predicted cost, so a positive Shapley value is a lower cost.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from ConfigSpace import Configuration, ConfigurationSpace

from metasparse.analysis._configspace import same_value
from metasparse.analysis._surrogate import Surrogate
from metasparse.errors import MetasparseError

__all__ = ["explain_shapley", "shapley_ablation", "tunability"]

# Players at most: 2^n coalitions, each a prediction of the forest (tunability: of n_samples
# configurations), are evaluated exactly; HyperSHAP would sample beyond 14.
MAX_PLAYERS = 6
TUNABILITY_PLAYERS = 4


def explain_shapley(surrogate: Surrogate, source: Mapping[str, Any], target: Mapping[str, Any],
                    importance: pd.DataFrame) -> tuple[pd.DataFrame | None,
                                                       pd.DataFrame | None, str]:
    """The Shapley ablation from `source` to `target` over the most important parameters that
    differ (fANOVA's `main` table gives the order), and the tunability of the most important
    ones from `source`; (None, None, why) where they cannot be computed."""
    try:
        import hypershap  # noqa: F401
    except ImportError:
        return None, None, ("No Shapley-value ablation or tunability: the optional package "
                            "hypershap is not installed (pip install hypershap).")
    inputs = {f.name for f in surrogate.features}
    order = [p for p in importance[importance["status"] == "searched"]["parameter"]
             if p in inputs]
    try:
        return (shapley_ablation(surrogate, source, target, order),
                tunability(surrogate, source, order[:TUNABILITY_PLAYERS]), "")
    except MetasparseError as exc:
        return None, None, f"No Shapley-value ablation or tunability: {exc}"


def shapley_ablation(surrogate: Surrogate, source: Mapping[str, Any],
                     target: Mapping[str, Any], parameters: Sequence[str]) -> pd.DataFrame:
    """The Shapley value of each of `parameters` (those where `target` differs from `source`,
    in order of importance; at most MAX_PLAYERS) in the game whose coalitions take the
    target's values for their members and the source's for the rest. Rows: `parameter`,
    `source_value`, `target_value`, `shapley` (predicted cost gained; they add up to the
    predicted gain of the coalition of all of them, `total` in every row)."""
    from hypershap import HyperSHAP

    players = [p for p in parameters
               if not same_value(source.get(p), target.get(p))][:MAX_PLAYERS]
    columns = ["parameter", "source_value", "target_value", "shapley", "total"]
    if not players:
        return pd.DataFrame(columns=columns)
    space, model = _game(surrogate, source, players)
    explainer = HyperSHAP(_task(space, model))
    values = explainer.ablation(Configuration(space, {p: target[p] for p in players}),
                                Configuration(space, {p: source[p] for p in players}),
                                index="SV", order=1)
    shapley = [_value(values, space, p) for p in players]
    return pd.DataFrame({"parameter": players, "source_value": [source[p] for p in players],
                         "target_value": [target[p] for p in players], "shapley": shapley,
                         "total": sum(shapley)}, columns=columns)


def tunability(surrogate: Surrogate, baseline: Mapping[str, Any], parameters: Sequence[str], *,
               n_samples: int = 200, seed: int = 0) -> pd.DataFrame:
    """The Shapley value of each of `parameters` (at most MAX_PLAYERS) in the tunability game
    from `baseline`: a coalition's value is the best predicted cost among `n_samples` random
    configurations whose other parameters keep the baseline's values. Rows: `parameter`,
    `tunability` (predicted cost gained by tuning it, in the Shapley sense)."""
    from hypershap import HyperSHAP

    players = list(parameters)[:MAX_PLAYERS]
    if not players:
        return pd.DataFrame(columns=["parameter", "tunability"])
    space, model = _game(surrogate, baseline, players)
    explainer = HyperSHAP(_task(space, model))
    values = explainer.tunability(Configuration(space, {p: baseline[p] for p in players}),
                                  index="SV", order=1, n_samples=n_samples, seed=seed)
    return pd.DataFrame({"parameter": players,
                         "tunability": [_value(values, space, p) for p in players]})


def _game(surrogate: Surrogate, base: Mapping[str, Any], players: Sequence[str]
          ) -> tuple[ConfigurationSpace, Any]:
    """A flat space of the players and the HyperSHAP surrogate model that predicts with
    `surrogate` the configuration `base` with the players' values of a vector."""
    from hypershap.surrogate_model import SurrogateModel

    missing = [p for p in players if p not in surrogate.space]
    if missing:
        raise MetasparseError(f"{missing[0]!r} is not a parameter of the run's space")
    space = ConfigurationSpace()
    for name in players:
        hp = copy.deepcopy(surrogate.space[name])
        space.add(hp)
    hps = list(space.values())  # in the space's order, that of its vectors

    class _Model(SurrogateModel):
        def evaluate(self, config_array: np.ndarray) -> float | list[float]:
            rows = np.atleast_2d(config_array)
            configs = [{**base, **{hp.name: hp.to_value(x) for hp, x in zip(hps, row,
                                                                              strict=True)}}
                       for row in rows]
            values = [-float(c) for c in surrogate.predict(configs)]
            return values[0] if np.ndim(config_array) == 1 else values

    return space, _Model(space)


def _value(values: Any, space: ConfigurationSpace, name: str) -> float:
    """A player's Shapley value (HyperSHAP numbers the players in the space's order)."""
    return float(values[(list(space.keys()).index(name),)])


def _task(space: ConfigurationSpace, model: Any) -> Any:
    from hypershap import ExplanationTask

    return ExplanationTask(config_space=space, surrogate_model=model)
