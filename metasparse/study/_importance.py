"""Is a weight's magnitude a good proxy for its importance?

For every trained sparse network (model x activation x normalization x dataset x seed), the
importance of a group of weights is the drop in validation accuracy when the group is set to zero
(the test split plays no part). Measured:

- magnitude bins: each layer's active weights split into equal-size bins by |w|, one bin
  removed at a time; random groups of the same size give the baseline;
- removal curves: a growing fraction of every layer's active weights removed in order of |w|,
  of |w g| (SNIP, gradient of the validation loss), or at random;
- single-layer ablations: half of one layer removed, smallest |w| first against a random half.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd
import torch
from scipy import stats
from torch import nn

from metasparse.study._grid import run_grid
from metasparse.study._spec import ImportanceStudy
from metasparse.tasks import make_task
from metasparse.train import Trained, evaluate, fit

ORDERS = ("magnitude", "snip", "random")


def points(study: ImportanceStudy) -> Iterator[dict[str, Any]]:
    for dataset, model, activation, norm, seed in itertools.product(
            study.datasets, study.models, study.activations, study.normalizations, study.seeds):
        if not (model == "lstm" and norm == "batch"):  # forbidden in the meta-space
            yield dict(dataset=dataset, model=model, activation=activation, normalization=norm,
                       seed=seed)


class _Probe:
    """Removes groups of weights from a trained network and measures validation accuracy."""

    def __init__(self, trained: Trained, seed: int) -> None:
        self.model = trained.model
        self.layers = trained.topology.layers
        device = next(self.model.parameters()).device
        self.x = trained.data.X_val.to(device)
        self.y = trained.data.y_val.to(device)
        self.device = device
        self.criterion = nn.CrossEntropyLoss()
        self.task = make_task(trained.config)
        self.generator = torch.Generator().manual_seed(seed)
        self.active = [layer.mask.flatten().nonzero().squeeze(1).cpu() for layer in self.layers]
        self.snip = self._snip_scores()

    def accuracy(self) -> float:
        return evaluate(self.model, self.x, self.y, self.task, self.device)[1]

    def _snip_scores(self) -> list[torch.Tensor]:
        self.model.eval()
        self.model.zero_grad(set_to_none=True)
        self.criterion(self.model(self.x), self.y).backward()
        scores = [(layer.weight.detach() * layer.weight.grad).abs().flatten().cpu()
                  for layer in self.layers]
        self.model.zero_grad(set_to_none=True)
        return scores

    def without(self, removals: Mapping[int, torch.Tensor]) -> float:
        """Accuracy with the given flat indices of the given layers set to zero."""
        saved = {}
        with torch.no_grad():
            for i, idx in removals.items():
                flat = self.layers[i].weight.view(-1)
                idx = idx.to(flat.device)
                saved[i] = flat[idx].clone()
                flat[idx] = 0.0
        try:
            return self.accuracy()
        finally:
            with torch.no_grad():
                for i, values in saved.items():
                    self.layers[i].weight.view(-1)[removals[i].to(values.device)] = values

    def magnitudes(self, i: int) -> torch.Tensor:
        """|w| of every weight of layer i, flat, on the CPU."""
        return self.layers[i].weight.detach().flatten().abs().cpu()

    def order(self, i: int, kind: str) -> torch.Tensor:
        """Active indices of layer i, least important first under `kind`."""
        active = self.active[i]
        if kind == "random":
            return active[torch.randperm(active.numel(), generator=self.generator)]
        values = self.snip[i] if kind == "snip" else self.magnitudes(i)
        return active[values[active].argsort()]


def measure(trained: Trained, bins: int, fractions: list[float], seed: int) -> list[dict]:
    probe = _Probe(trained, seed)
    base = probe.accuracy()
    rows: list[dict[str, Any]] = [{"measure": "base", "value": base}]
    for i, layer in enumerate(probe.layers):
        by_magnitude = probe.order(i, "magnitude")
        shuffled = probe.order(i, "random")
        magnitudes = probe.magnitudes(i)
        for b, (group, random_group) in enumerate(zip(by_magnitude.tensor_split(bins),
                                                      shuffled.tensor_split(bins), strict=True)):
            rows.append({"measure": "bin", "layer": layer.name, "index": b,
                         "mean_abs": float(magnitudes[group].mean()),
                         "value": base - probe.without({i: group})})
            rows.append({"measure": "random_group", "layer": layer.name, "index": b,
                         "value": base - probe.without({i: random_group})})
        half = by_magnitude.numel() // 2
        rows.append({"measure": "layer_half", "layer": layer.name, "order": "magnitude",
                     "value": base - probe.without({i: by_magnitude[:half]})})
        rows.append({"measure": "layer_half", "layer": layer.name, "order": "random",
                     "value": base - probe.without({i: shuffled[:half]})})
    for kind in ORDERS:
        orders = [probe.order(i, kind) for i in range(len(probe.layers))]
        for fraction in fractions:
            removal = {i: o[: int(fraction * o.numel())] for i, o in enumerate(orders)}
            rows.append({"measure": "curve", "order": kind, "fraction": fraction,
                         "value": probe.without(removal)})
    return rows


def run(study: ImportanceStudy, progress: bool = True) -> pd.DataFrame:
    def run_point(point: Mapping[str, Any]) -> list[dict]:
        config = {**study.base_config(), "model": point["model"],
                  "activation": point["activation"], "normalization": point["normalization"]}
        trained = fit(config, point["dataset"], study.epochs, point["seed"],
                      data_dir=study.data_dir, evaluate_test=False)
        if trained.result.status != "success":
            return [{"measure": "diverged", "value": float("nan")}]
        return measure(trained, study.bins, study.fractions, point["seed"])

    return run_grid(study.output_dir / "measurements.csv", points(study), run_point,
                    description="importance study", progress=progress)


COMBO = ["model", "activation", "normalization"]


def correlations(rows: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation of |w| and importance per network (mean over its layers)."""
    bins = rows[rows["measure"] == "bin"]
    per_layer = bins.groupby([*COMBO, "dataset", "seed", "layer"]).apply(
        lambda g: stats.spearmanr(g["mean_abs"], g["value"]).statistic, include_groups=False)
    per_net = per_layer.groupby([*COMBO, "dataset", "seed"]).mean().rename("spearman")
    return per_net.reset_index()


def curve_gaps(rows: pd.DataFrame) -> pd.DataFrame:
    """Per network: mean accuracy over the removal curve of each order, and the gaps."""
    curves = rows[rows["measure"] == "curve"]
    mean = curves.pivot_table(index=[*COMBO, "dataset", "seed"], columns="order",
                              values="value", aggfunc="mean")
    mean["magnitude_minus_random"] = mean["magnitude"] - mean["random"]
    mean["snip_minus_magnitude"] = mean["snip"] - mean["magnitude"]
    return mean.reset_index()


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds (and datasets) per model x activation x normalization."""
    per_net = correlations(rows).merge(curve_gaps(rows), on=[*COMBO, "dataset", "seed"])
    values = ["spearman", "magnitude_minus_random", "snip_minus_magnitude"]
    table = per_net.groupby(COMBO)[values].agg(["mean", "std"])
    table.columns = [f"{m}_{s}" for m, s in table.columns]
    return table.reset_index()


def bin_profile(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy drop per magnitude bin against random groups of the same size."""
    bins = rows[rows["measure"].isin(["bin", "random_group"])]
    return bins.groupby(["measure", "index"])["value"].agg(["mean", "std"]).reset_index()

