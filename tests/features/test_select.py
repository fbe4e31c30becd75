"""`select_features`: one network, or an ensemble whose networks differ by their seeds only."""

from __future__ import annotations

import numpy as np
import pytest

from metasparse.data import load_dataset
from metasparse.errors import ConfigError
from metasparse.features import (
    combine_rankings,
    evaluate_selection,
    fit_evolving,
    member_seeds,
    rank_features,
    select_features,
)
from metasparse.space import get_preset

TINY = {**get_preset("quickselection"), "hidden_sizes": "16"}


@pytest.fixture(scope="module")
def wine():
    return load_dataset("wine")


def test_member_seeds_start_at_the_seed_and_step_by_1000():
    assert member_seeds(7, 1) == [7]
    assert member_seeds(7, 3) == [7, 1007, 2007]
    for bad in (0, -1, 2.0):
        with pytest.raises(ConfigError, match="The 'ensemble' parameter must be a positive "
                                              f"integer; got {bad!r}"):
            member_seeds(0, bad)


def test_an_ensemble_of_one_is_the_single_network_bit_for_bit(wine):
    trained = fit_evolving(TINY, wine, 2, 3, k=5)
    alone = rank_features(trained, "attribution")
    selection = select_features(TINY, wine, [5], 2, 3, importance="attribution",
                                progress=False)
    assert selection.seeds == [3]
    assert np.array_equal(selection.ranking.scores, alone.scores)
    scores = evaluate_selection(trained.data, alone, 5, "svm", 3)
    assert selection.rows == [{"method": "sparse_training", "k": 5, "classifier": "svm",
                               "val_accuracy": scores.val_accuracy,
                               "test_accuracy": scores.test_accuracy}]


def test_an_ensemble_combines_networks_trained_with_the_member_seeds(wine):
    selection = select_features(TINY, wine, [4], 2, 5, ensemble=3, baselines=["mutual_info"],
                                progress=False)
    assert selection.seeds == [5, 1005, 2005] and len(selection.results) == 3
    # each member is the network of its own seed, retrained here; the members differ
    for seed, ranking in zip(selection.seeds, selection.rankings, strict=True):
        alone = rank_features(fit_evolving(TINY, wine, 2, seed, k=4))
        assert np.array_equal(ranking.scores, alone.scores)
    assert not np.array_equal(selection.rankings[0].scores, selection.rankings[1].scores)
    assert not np.array_equal(selection.rankings[1].scores, selection.rankings[2].scores)
    assert np.array_equal(selection.ranking.scores,
                          combine_rankings(selection.rankings).scores)
    assert selection.trained.result == selection.results[0]  # the first network is kept
    # the classifier and the baselines are seeded by the seed itself
    ours, baseline = selection.rows
    scores = evaluate_selection(selection.trained.data, selection.ranking, 4, "svm", 5)
    assert (ours["val_accuracy"], ours["test_accuracy"]) == (scores.val_accuracy,
                                                             scores.test_accuracy)
    assert baseline["method"] == "mutual_info"
