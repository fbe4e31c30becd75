"""The neuron-strength ranking finds informative features; the top K beats a random K."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.metrics import roc_auc_score

from metasparse.data import dataset_from_arrays, load_dataset
from metasparse.errors import ConfigError
from metasparse.features import (
    BASELINES,
    Ranking,
    combine_rankings,
    evaluate_selection,
    rank_features,
)
from metasparse.features._ranking import ATTRIBUTION_SAMPLES
from metasparse.space import get_preset
from metasparse.train import fit

N_INFORMATIVE, N_FEATURES = 10, 100
SMALL = {**get_preset("set"), "hidden_sizes": "64", "dropout": 0.0}
# SET's sparse training, with a step size and weight decay that move the weights of the noise
# features away from their initial values within 30 epochs (with SET's own SGD they barely move)
LEARNING = {**SMALL, "optimizer": "adam", "lr": 0.01, "weight_decay": 0.01}


def _synthetic():
    # shuffle=False puts the informative features first: columns 0..N_INFORMATIVE-1
    x, y = make_classification(n_samples=1200, n_features=N_FEATURES, n_informative=N_INFORMATIVE,
                               n_redundant=0, n_repeated=0, n_clusters_per_class=1,
                               class_sep=2.0, shuffle=False, random_state=0)
    return dataset_from_arrays("informative_first", x.astype(np.float32), y)


@pytest.mark.parametrize(("execution", "seed"), [("masked", 0), ("sparse", 1)])
def test_strength_ranks_informative_features_first(execution, seed):
    trained = fit({**LEARNING, "execution": execution}, _synthetic(), epochs=30, seed=seed,
                  device="cpu")
    ranking = rank_features(trained)
    informative = np.arange(N_FEATURES) < N_INFORMATIVE
    # the chance that an informative feature outranks a noise feature: 0.5 for a random ranking
    assert roc_auc_score(informative, ranking.scores) > 0.7
    found = np.count_nonzero(ranking.top(20) < N_INFORMATIVE)
    assert found >= 5  # of the 10 in the top 20; chance: 2


def test_strength_is_the_sum_of_active_magnitudes():
    trained = fit(SMALL, _synthetic(), epochs=1, seed=0, device="cpu")
    layer = trained.topology.layers[0]
    expected = (layer.weight * layer.mask).detach().abs().sum(dim=0)
    assert torch.count_nonzero(layer.mask) < layer.mask.numel()  # a sparse layer
    np.testing.assert_allclose(rank_features(trained).scores, expected.double().numpy(),
                               rtol=1e-6)


def test_ranking_orders_by_score_and_checks_k():
    ranking = Ranking(np.array([0.1, 3.0, 2.0, 3.0]))
    assert ranking.top(3).tolist() == [1, 3, 2]
    for k in (0, 5):
        with pytest.raises(ConfigError, match=r"The 'k' parameter must be an integer in 1\.\.4"):
            ranking.top(k)


@pytest.fixture(scope="module")
def madelon():
    from metasparse.data import scale_inputs

    return scale_inputs(load_dataset("madelon"), "standard")


def test_top_k_beats_a_random_k_on_madelon(madelon):
    ranking = BASELINES["random_forest"](madelon, 0)
    top = evaluate_selection(madelon, ranking, 20, "svm")
    chosen = np.random.default_rng(0).choice(madelon.n_features, 20, replace=False)
    random = evaluate_selection(madelon, chosen, 20, "svm")
    assert top.test_accuracy > 0.75 and random.test_accuracy < 0.62
    assert top.test_accuracy > random.test_accuracy + 0.15


def test_a_selection_is_scored_on_validation_and_test_apart_and_tuning_sees_no_test(madelon):
    # each split scored by scikit-learn here: a selection scored on the test split in place of
    # validation (or the reverse) passed every other test, which compute fs_error through it
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    features = BASELINES["random_forest"](madelon, 0).top(20)
    model = make_pipeline(StandardScaler(), SVC()).fit(madelon.X_train[:, features].numpy(),
                                                       madelon.y_train.numpy())

    def accuracy(x: torch.Tensor, y: torch.Tensor) -> float:
        return float(model.score(x[:, features].numpy(), y.numpy()))

    val, test = accuracy(madelon.X_val, madelon.y_val), accuracy(madelon.X_test, madelon.y_test)
    assert val != test  # the splits tell the two apart
    scores = evaluate_selection(madelon, features, 20, "svm")
    assert (scores.val_accuracy, scores.test_accuracy) == (pytest.approx(val),
                                                           pytest.approx(test))
    assert evaluate_selection(madelon, features, 20, "svm", evaluate_test=False).test_accuracy \
        is None


@pytest.mark.parametrize("name", BASELINES.names())
def test_every_baseline_ranks_every_feature(name, madelon):
    ranking = BASELINES[name](madelon, 0)
    assert ranking.scores.shape == (madelon.n_features,)
    assert np.isfinite(ranking.scores).all()


def test_unknown_classifier_and_baseline_are_refused(madelon):
    with pytest.raises(ConfigError, match=r"The 'classifier' parameter must be one of "
                                          r"\['extra_trees', 'svm'\]; got 'knn'"):
        evaluate_selection(madelon, Ranking(np.ones(madelon.n_features)), 5, "knn")
    with pytest.raises(ConfigError, match=r"The 'baseline' parameter must be one of .*got 'x'"):
        BASELINES["x"]


@pytest.mark.parametrize("execution", ["masked", "sparse"])
@pytest.mark.parametrize("task", ["classifier", "autoencoder"])
def test_attribution_is_the_mean_absolute_jacobian_summed_over_outputs(execution, task):
    # with dropout, whose masks would make the gradients random unless in evaluation mode
    small = {**SMALL, "hidden_sizes": "16", "execution": execution, "task": task, "dropout": 0.3}
    trained = fit(small, _synthetic(), epochs=1, seed=0, device="cpu")
    assert trained.model.training
    ranking = rank_features(trained, "attribution")
    assert trained.model.training  # the mode it had is restored
    model = trained.model.eval()
    x = trained.data.X_train[:ATTRIBUTION_SAMPLES]
    # an independent computation: each sample's full Jacobian, outputs x features
    jacobians = torch.stack([torch.autograd.functional.jacobian(lambda v: model(v[None])[0], row)
                             for row in x])
    expected = jacobians.abs().mean(dim=0).sum(dim=0)
    np.testing.assert_allclose(ranking.scores, expected.double().numpy(), rtol=1e-4, atol=1e-7)


def test_an_unknown_importance_is_refused_with_the_valid_ones():
    trained = fit(SMALL, _synthetic(), epochs=1, seed=0, device="cpu")
    with pytest.raises(ConfigError, match=r"The 'importance' parameter must be one of "
                                          r"\['attribution', 'neuron_strength', 'wast'\]; "
                                          r"got 'shap'"):
        rank_features(trained, "shap")


@pytest.mark.parametrize("classifier", ["svm", "extra_trees"])
def test_a_selection_scores_the_same_whatever_the_inputs_scaling(classifier):
    from metasparse.data import scale_inputs

    raw = load_dataset("wine")
    features = np.array([0, 6, 9])
    scores = {scaling: evaluate_selection(scale_inputs(raw, scaling), features, 3, classifier)
              for scaling in ("standard", "minmax", "none")}
    assert len(set(scores.values())) == 1, scores


def test_combined_rankings_average_the_scores_each_divided_by_its_sum():
    # divided by their sums: [.1 .2 .7] and [.3 .5 .2], mean [.2 .35 .45], order 2, 1, 0;
    # the raw mean [150.5 251 103.5] orders 1, 0, 2, the mean rank [1.5 2.5 2] orders 1, 2, 0
    a, b = Ranking(np.array([1.0, 2.0, 7.0])), Ranking(np.array([300.0, 500.0, 200.0]))
    combined = combine_rankings([a, b])
    np.testing.assert_allclose(combined.scores, [0.2, 0.35, 0.45], rtol=1e-12)
    assert combined.order.tolist() == [2, 1, 0]
    assert combine_rankings([b, a]).order.tolist() == [2, 1, 0]  # whatever the order
    # a network whose scores are all zero counts every feature 1 / n
    zero = combine_rankings([a, Ranking(np.zeros(3))])
    np.testing.assert_allclose(zero.scores, (np.array([0.1, 0.2, 0.7]) + 1 / 3) / 2, rtol=1e-12)


def test_one_ranking_combined_is_itself_and_bad_ones_are_refused():
    scores = np.array([3.0, 1e-300, 2.0])
    assert combine_rankings([Ranking(scores)]).scores is scores
    for rankings, message in [([], "at least one ranking"),
                              ([Ranking(np.ones(3)), Ranking(np.ones(4))], r"\[3, 4\] features"),
                              ([Ranking(np.ones(3)), Ranking(np.array([1.0, -1.0, 1.0]))],
                               "non-negative"),
                              ([Ranking(np.ones(3)), Ranking(np.array([1.0, np.nan, 1.0]))],
                               "finite")]:
        with pytest.raises(ConfigError, match=message):
            combine_rankings(rankings)
