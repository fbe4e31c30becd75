"""The research studies: randomness in prune/grow, what weight importance depends on, what
tuning each algorithm (and combining them) is worth, and which features sparse training selects.

    metasparse study randomness scenarios/study-randomness.yaml
    metasparse study importance scenarios/study-importance.yaml
    metasparse study configuration scenarios/study-configuration.yaml
    metasparse study feature-selection scenarios/study-feature-selection.yaml

Each is a resumable grid of runs (one CSV row per finished run) followed by a report
in <output>/report/ (Markdown, PNG, CSV).
"""

from metasparse._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "_configuration_report": [
        "across", "blocks", "combination", "configurability", "difference", "rank", "verdict",
    ],
    "_importance": ["correlations", "curve_gaps", "measure"],
    "_randomness": ["best_fixed_ratio", "learning_speed", "summarize"],
    "_spec": [
        "ConfigurationStudy", "FeatureSelectionStudy", "ImportanceStudy", "RandomnessStudy",
        "load_study",
    ],
})

__all__ = [
    "ConfigurationStudy",
    "FeatureSelectionStudy",
    "ImportanceStudy",
    "RandomnessStudy",
    "across",
    "best_fixed_ratio",
    "blocks",
    "combination",
    "configurability",
    "correlations",
    "curve_gaps",
    "difference",
    "learning_speed",
    "load_study",
    "measure",
    "rank",
    "summarize",
    "verdict",
]
