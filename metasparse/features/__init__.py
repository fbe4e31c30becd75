"""Feature selection with sparse training: rank the input features of a trained sparse network
by an importance (the strength of their input neurons, as QuickSelection, or the attribution of
the outputs to them), rank them by scikit-learn baselines, and score the top K with a downstream
classifier.

    trained = fit(get_preset("set"), "madelon", epochs=5)
    ranking = rank_features(trained)
    scores = evaluate_selection(trained.data, ranking, k=20, classifier="svm")

An ensemble ranks by the combined importances of several networks (`combine_rankings`;
`select_features(..., ensemble=5)`, whose networks train with the seeds `member_seeds`).
"""

from metasparse._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "_baselines": ["ALL_FEATURES", "BASELINES"],
    "_evaluate": ["CLASSIFIERS", "Selection", "evaluate_selection"],
    "_evolution": ["INPUT_EVOLUTIONS", "check_evolution", "fit_evolving"],
    "_ranking": ["IMPORTANCES", "Ranking", "check_k", "combine_rankings", "rank_features"],
    "_select": ["ENSEMBLE_SEED_STEP", "RESULT_COLUMNS", "FeatureSelection", "member_seeds",
                "select_features"],
})

__all__ = [
    "ALL_FEATURES",
    "BASELINES",
    "CLASSIFIERS",
    "ENSEMBLE_SEED_STEP",
    "IMPORTANCES",
    "INPUT_EVOLUTIONS",
    "RESULT_COLUMNS",
    "FeatureSelection",
    "Ranking",
    "Selection",
    "check_evolution",
    "check_k",
    "combine_rankings",
    "evaluate_selection",
    "fit_evolving",
    "member_seeds",
    "rank_features",
    "select_features",
]
