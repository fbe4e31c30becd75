"""The top K features scored by a downstream scikit-learn classifier."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from metasparse._registry import Registry
from metasparse.data import Dataset
from metasparse.features._ranking import Ranking

# Each classifier standardizes the selected features first (fitted on the training split), so a
# selection scores the same whatever per-feature scaling (input_scaling) its network trained on.
CLASSIFIERS: Registry[Callable[[int], ClassifierMixin]] = Registry("classifier")
CLASSIFIERS.register("svm")(lambda seed: make_pipeline(StandardScaler(), SVC()))  # RBF, defaults
CLASSIFIERS.register("extra_trees")(
    lambda seed: make_pipeline(StandardScaler(), ExtraTreesClassifier(random_state=seed)))


@dataclass(frozen=True)
class Selection:
    """Accuracies in [0, 1] of a classifier trained on the training split's selected features."""

    val_accuracy: float
    test_accuracy: float | None  # None: not scored (a search's view)


def evaluate_selection(data: Dataset, ranking: Ranking | np.ndarray, k: int,
                       classifier: str = "svm", seed: int = 0, *,
                       evaluate_test: bool = True) -> Selection:
    """Train `classifier` on the training split restricted to the top `k` features of `ranking`
    (or on the given feature indices) and score it on the validation split, and on the test
    split unless not `evaluate_test` (tuning never sees test scores)."""
    make = CLASSIFIERS[classifier]
    features = ranking.top(k) if isinstance(ranking, Ranking) else np.asarray(ranking)
    model = make(seed).fit(data.X_train[:, features].numpy(), data.y_train.numpy())
    return Selection(
        val_accuracy=float(model.score(data.X_val[:, features].numpy(), data.y_val.numpy())),
        test_accuracy=float(model.score(data.X_test[:, features].numpy(), data.y_test.numpy()))
        if evaluate_test else None)
