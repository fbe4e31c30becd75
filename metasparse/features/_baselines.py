"""Feature rankings from scikit-learn on the training split: the baselines."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import mutual_info_classif
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from metasparse._registry import Registry
from metasparse.data import Dataset
from metasparse.features._ranking import Ranking

ALL_FEATURES = "all"  # the baseline that selects nothing: every feature, whatever K
BASELINES: Registry[Callable[[Dataset, int], Ranking]] = Registry("baseline")


def _train(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    return data.X_train.numpy(), data.y_train.numpy()


@BASELINES.register(ALL_FEATURES)
def _all(data: Dataset, seed: int) -> Ranking:
    return Ranking(np.ones(data.n_features))


@BASELINES.register("mutual_info")
def _mutual_info(data: Dataset, seed: int) -> Ranking:
    return Ranking(mutual_info_classif(*_train(data), random_state=seed))


@BASELINES.register("random_forest")
def _random_forest(data: Dataset, seed: int) -> Ranking:
    forest = RandomForestClassifier(random_state=seed).fit(*_train(data))
    return Ranking(forest.feature_importances_)


@BASELINES.register("l1_logistic")
def _l1_logistic(data: Dataset, seed: int) -> Ranking:
    """|coefficients| summed over the classes of one-vs-rest L1 logistic regressions
    (liblinear fits one class against the rest only)."""
    model = OneVsRestClassifier(
        LogisticRegression(l1_ratio=1.0, solver="liblinear", random_state=seed))
    model.fit(*_train(data))
    return Ranking(sum(np.abs(e.coef_).sum(axis=0) for e in model.estimators_))
