"""One sparse network (or an ensemble of them) trained, its features ranked, the top K of it and
of the baselines scored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from metasparse.data import Dataset
from metasparse.errors import ConfigError
from metasparse.features._baselines import ALL_FEATURES, BASELINES
from metasparse.features._evaluate import CLASSIFIERS, evaluate_selection
from metasparse.features._evolution import check_evolution, fit_evolving
from metasparse.features._ranking import (
    IMPORTANCES,
    Ranking,
    check_k,
    combine_rankings,
    rank_features,
)
from metasparse.space import resolve_config
from metasparse.train import Trained, TrialResult

SPARSE_METHOD = "sparse_training"
RESULT_COLUMNS = ["method", "k", "classifier", "val_accuracy", "test_accuracy"]
ENSEMBLE_SEED_STEP = 1000  # member j of an ensemble trains with seed + j x this


def member_seeds(seed: int, ensemble: int) -> list[int]:
    """The training seeds of an ensemble's networks: seed, seed + 1000, seed + 2000, ... The
    first is the single network's, so that an ensemble of 1 is that network."""
    if not isinstance(ensemble, int | np.integer) or ensemble < 1:
        raise ConfigError(f"The 'ensemble' parameter must be a positive integer; got {ensemble!r}")
    return [seed + ENSEMBLE_SEED_STEP * j for j in range(ensemble)]


@dataclass
class FeatureSelection:
    """The first trained network (seed `seed`), the ranking (of the ensemble when there are
    several networks), one row (RESULT_COLUMNS) per method and K, and each network's seed,
    result and own ranking."""

    trained: Trained
    ranking: Ranking
    rows: list[dict[str, Any]]
    seeds: list[int] = field(default_factory=list)
    results: list[TrialResult] = field(default_factory=list)
    rankings: list[Ranking] = field(default_factory=list)


def select_features(config: Mapping[str, Any], dataset: Dataset, ks: Sequence[int],
                    epochs: int, seed: int = 0, *, classifier: str = "svm",
                    baselines: Sequence[str] = (), progress: bool = True,
                    device: str | None = None,
                    importance: str = "neuron_strength",
                    ensemble: int = 1) -> FeatureSelection:
    """Train `config` on `dataset` (with its input evolution, aimed at the largest K), rank its
    features by `importance` and score the top K of it and of every baseline (the 'all'
    baseline once, with every feature).

    With `ensemble` N > 1, N networks are trained, with the seeds member_seeds(seed, N), and the
    features are ranked by their combined importances (combine_rankings: each network's scores
    divided by their sum, averaged). The downstream classifier and the baselines use `seed`."""
    seeds = member_seeds(seed, ensemble)  # every input is checked before the training
    CLASSIFIERS[classifier]
    IMPORTANCES[importance]
    for name in baselines:
        BASELINES[name]
    for k in ks:
        check_k(k, dataset.n_features)
    resolved = resolve_config(config)
    check_evolution(resolved)
    if importance == "wast" and resolved["input_evolution"] != "wast":
        raise ConfigError("the importance 'wast' ranks a network trained with "
                          f"input_evolution='wast'; got {resolved['input_evolution']!r}")
    first: Trained | None = None
    results, members = [], []
    with tqdm(total=epochs * ensemble, desc="training", unit="epoch",
              disable=not progress) as bar:
        for member_seed in seeds:  # each network is ranked, then let go: only the first is kept
            trained = fit_evolving(config, dataset, epochs, member_seed, k=max(ks), device=device,
                                   report=lambda epoch, metrics: bar.update(1))
            results.append(trained.result)
            members.append(rank_features(trained, importance))
            first = trained if first is None else first
    assert first is not None
    ranking = combine_rankings(members)
    data = first.data  # scaled as the networks saw it: the baselines see the same
    jobs = [(SPARSE_METHOD, k) for k in ks]
    jobs += [(name, dataset.n_features if name == ALL_FEATURES else k)
             for name in baselines for k in ([None] if name == ALL_FEATURES else ks)]
    rankings = {SPARSE_METHOD: ranking}
    rows = []
    for method, k in tqdm(jobs, desc="evaluating", unit="selection", disable=not progress):
        if method not in rankings:
            rankings[method] = BASELINES[method](data, seed)
        scores = evaluate_selection(data, rankings[method], k, classifier, seed)
        rows.append({"method": method, "k": k, "classifier": classifier,
                     "val_accuracy": scores.val_accuracy, "test_accuracy": scores.test_accuracy})
    return FeatureSelection(first, ranking, rows, seeds, results, members)
