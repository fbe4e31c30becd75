"""The names in the feature-selection registries (IMPORTANCES, CLASSIFIERS, BASELINES), for the
help of `metasparse select-features` without importing torch and scikit-learn, which the
registries' entries need; tests/features/test_command.py checks that they agree."""

IMPORTANCE_NAMES = ["neuron_strength", "attribution", "wast"]
CLASSIFIER_NAMES = ["svm", "extra_trees"]
BASELINE_NAMES = ["all", "mutual_info", "random_forest", "l1_logistic"]
