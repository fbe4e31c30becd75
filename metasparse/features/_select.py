"""One sparse network trained, its features ranked, the top K of it and of the baselines scored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from metasparse.data import Dataset
from metasparse.errors import ConfigError
from metasparse.features._baselines import ALL_FEATURES, BASELINES
from metasparse.features._evaluate import CLASSIFIERS, evaluate_selection
from metasparse.features._evolution import check_evolution, fit_evolving
from metasparse.features._ranking import IMPORTANCES, Ranking, check_k, rank_features
from metasparse.space import resolve_config
from metasparse.train import Trained

SPARSE_METHOD = "sparse_training"
RESULT_COLUMNS = ["method", "k", "classifier", "val_accuracy", "test_accuracy"]


@dataclass
class FeatureSelection:
    """The trained network, its ranking, and one row (RESULT_COLUMNS) per method and K."""

    trained: Trained
    ranking: Ranking
    rows: list[dict[str, Any]]


def select_features(config: Mapping[str, Any], dataset: Dataset, ks: Sequence[int],
                    epochs: int, seed: int = 0, *, classifier: str = "svm",
                    baselines: Sequence[str] = (), progress: bool = True,
                    device: str | None = None,
                    importance: str = "neuron_strength") -> FeatureSelection:
    """Train `config` on `dataset` (with its input evolution, aimed at the largest K), rank its
    features by `importance` and score the top K of it and of every baseline (the 'all'
    baseline once, with every feature)."""
    CLASSIFIERS[classifier]  # every input is checked before the training
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
    with tqdm(total=epochs, desc="training", unit="epoch", disable=not progress) as bar:
        trained = fit_evolving(config, dataset, epochs, seed, k=max(ks), device=device,
                               report=lambda epoch, metrics: bar.update(1))
    ranking = rank_features(trained, importance)
    data = trained.data  # scaled as the network saw it: the baselines see the same
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
    return FeatureSelection(trained, ranking, rows)
