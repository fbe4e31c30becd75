"""What report.md (_report.py) and report.html (_html.py) both say in words about an `Analysis`,
which holds plain values (_analysis.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metasparse.results import OBJECTIVES

if TYPE_CHECKING:
    from metasparse.analysis._analysis import Analysis
    from metasparse.analysis._results import Results

__all__ = ["ablation_description", "ablation_label", "instance_title"]

_ABLATION_LABELS = {"surrogate": "surrogate", "greedy": "trained",
                    "path": "surrogate order, trained"}


def instance_title(run: Results) -> str:
    """What a per-instance figure shows: the first objective's label."""
    return f"{OBJECTIVES[run.objectives[0]].label} per tuning instance"


def ablation_label(analysis: Analysis) -> str:
    """The ablation's mode in a few words, for titles."""
    return _ABLATION_LABELS[analysis.ablation_mode]


def ablation_description(analysis: Analysis) -> str:
    """How the costs of the ablation path were had, in a sentence."""
    forest = (f"random forest on {analysis.surrogate.n_trials} trials, predicting the validation "
              "error")
    if analysis.ablation_mode == "surrogate":
        return f"surrogate: {forest}"
    main = analysis.main
    trained = (f"mean validation error over {len(main.tuning_instances)} tuning instance(s) x "
               f"seeds {analysis.ablation_seeds} at {main.epochs} epochs")
    if analysis.ablation_mode == "greedy":
        return f"trained: every candidate of every step, {trained}"
    return f"order from the {forest}; each step trained: {trained}"
