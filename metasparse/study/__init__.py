"""The two research studies: randomness in prune/grow, and what weight importance depends on.

    metasparse study randomness scenarios/study-randomness.yaml
    metasparse study importance scenarios/study-importance.yaml

Both are resumable grids of training runs (one CSV row per finished run) followed by a report
in <output>/report/ (Markdown, PNG, CSV).
"""

from metasparse.study._importance import correlations, curve_gaps, measure
from metasparse.study._randomness import best_fixed_ratio, learning_speed, summarize
from metasparse.study._spec import ImportanceStudy, RandomnessStudy, load_study

__all__ = [
    "ImportanceStudy",
    "RandomnessStudy",
    "best_fixed_ratio",
    "correlations",
    "curve_gaps",
    "learning_speed",
    "load_study",
    "measure",
    "summarize",
]
