"""`metasparse study randomness|importance STUDY.yaml`: run or resume a study, write its report."""

from __future__ import annotations

import argparse

from metasparse.errors import ScenarioError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["randomness", "importance"],
                        help="randomness: prune/grow randomness ratios; importance: weight "
                             "magnitude against measured importance")
    parser.add_argument("study", help="a study file (scenarios/study-*.yaml)")
    parser.add_argument("--output", help="output directory (default: the study's `output`, "
                                         "else results/<name>)")
    parser.add_argument("--data-dir", help="data directory (default: $METASPARSE_DATA_DIR)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from metasparse.study import _importance, _randomness, _report, _tuned
    from metasparse.study._spec import load_study

    study = load_study(args.study, args.kind)
    updates = {k: v for k, v in (("output", args.output), ("data_dir", args.data_dir)) if v}
    study = study.model_copy(update=updates)
    progress = not args.no_progress
    try:
        if args.kind == "randomness":
            runs = _randomness.run(study, progress)
            tuned = _tuned.compare(study, runs, progress) if study.tuned_trials else None
            path = _report.randomness_report(study, runs, tuned)
        else:
            path = _report.importance_report(study, _importance.run(study, progress))
    except KeyboardInterrupt:
        raise ScenarioError(f"interrupted: finished runs are kept in {study.output_dir}; rerun "
                            "the same command to resume") from None
    print(f"report: {path}")
    return 0
