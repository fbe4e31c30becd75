"""The one evaluation path outside tuning: validation, the ablation's and the Pareto plot's
trainings and the studies train through the trial runner too, one (configuration, dataset,
seed, epochs) run at a time, so that they get its isolation (a child process), its timeout and
its failure handling (every failure a recorded status and one-line error, never a traceback).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from metasparse.optimize._runner import PairResult, TrialRunner, default_threads

__all__ = ["evaluate_run"]


def evaluate_run(config: Mapping[str, Any], instance: str, seed: int, epochs: int, *,
                 data_dir: str | None = None, timeout: float | None = None,
                 evaluate_test: bool = True, target: str | None = None,
                 feature_selection: dict[str, Any] | None = None) -> PairResult:
    """Train `config` for `epochs` on `instance` with `seed` and (unless not `evaluate_test`:
    then only tuning's metrics come back) score it on the test split.

    Never raises for a failed run: its `status` says how it failed (crashed, diverged, timeout)
    and `error` why, in one line. `metrics` holds the TrialResult's metrics, test scores and
    validation curve included, for a run that finished (diverged or not). A scenario's
    `target` trains in place of the trainer (it may return test_accuracy and test_loss); its
    `feature_selection` adds the selection's fs_error (and fs_test_accuracy) to the metrics.
    """
    runner = TrialRunner(objectives=("val_error",), crash_costs=lambda: [math.nan],
                         data_dir=data_dir, timeout=timeout, threads=default_threads(1),
                         evaluation=evaluate_test, target=target,
                         feature_selection=feature_selection)
    outcome = runner.evaluate(dict(config), int(epochs), [(instance, int(seed))])
    pair = outcome.pairs[0] if outcome.pairs else PairResult(instance, int(seed), "crashed")
    pair.status, pair.error = outcome.status, pair.error or outcome.error
    return pair
