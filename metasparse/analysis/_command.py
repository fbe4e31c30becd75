"""`metasparse analyze RESULTS [RESULTS ...] [--from PRESET] [--evaluate] [--seeds N] [--presets]`.

One directory: its report goes to RESULTS/report/. Several directories of the same scenario
(other backends or seeds): one report over all of them, in the first one's report/. The directory
of a scenario with a list of spaces: a report for each space's run, and an index beside them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from metasparse.errors import MetasparseError
from metasparse.results import hold_directories

if TYPE_CHECKING:
    from metasparse.analysis._analysis import Analysis


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", type=Path,
                        help="results directories of one scenario (the first gets the report)")
    parser.add_argument("--from", dest="reference", metavar="PRESET",
                        help="preset the ablation path starts from (default: the run's "
                             "reference preset)")
    real = parser.add_mutually_exclusive_group()
    real.add_argument("--evaluate", dest="evaluate", action="store_const", const="greedy",
                      help="train the ablation path instead of predicting it with the "
                           "surrogate: every candidate change of every step (up to n(n+1)/2 "
                           "configurations for n differing parameters; slow)")
    real.add_argument("--evaluate-path", dest="evaluate", action="store_const", const="path",
                      help="let the surrogate pick the order of the ablation path and train "
                           "each of its n+1 configurations")
    parser.add_argument("--seeds", type=int,
                        help="seeds per instance for --evaluate (default: the scenario's, at "
                             "least 2)")
    parser.add_argument("--presets", action="store_true",
                        help="also train every preset on the tuning instances, to place the "
                             "presets against the trials (and the Pareto front)")
    parser.add_argument("--output", type=Path, help="report directory (default: RESULTS/report)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from metasparse.analysis._results import find_runs
    from metasparse.space import preset_names

    if args.reference is not None and args.reference not in preset_names(relative=True):
        raise MetasparseError(f"--from must be one of {preset_names(relative=True)}; got "
                              f"{args.reference!r}")
    if args.seeds is not None and args.seeds < 1:
        raise MetasparseError(f"--seeds must be a positive integer; got {args.seeds}")
    groups = [find_runs(path) for path in args.results]
    if not args.evaluate:
        return _run(args, groups)
    # --evaluate trains for a while and writes into the results directories: not beside a run
    with hold_directories([d for group in groups for d in group],
                          "metasparse analyze --evaluate"):
        return _run(args, groups)


def _run(args: argparse.Namespace, groups: list[list[Path]]) -> int:
    from metasparse.analysis._report import write_report
    from metasparse.analysis._results import load_results

    if len(groups) == 1 and len(groups[0]) > 1:
        return _per_space(args, args.results[0], groups[0])
    if any(len(group) > 1 for group in groups):
        raise MetasparseError("give either one directory of a scenario with several spaces, "
                              "or results directories of single runs")
    runs = [load_results(group[0]) for group in groups]
    analysis = _analyze(args, runs)
    report = write_report(analysis, args.output)
    _print_summary(analysis, report)
    return 0


def _analyze(args: argparse.Namespace, runs) -> Analysis:
    from metasparse.analysis._analysis import analyze

    analysis = analyze(runs, reference=args.reference, evaluate=args.evaluate or False,
                       seeds=args.seeds,
                       presets=args.presets, progress=not args.no_progress)
    for note in analysis.notes:
        print(f"note: {note}")
    return analysis


def _per_space(args: argparse.Namespace, parent: Path, directories: list[Path]) -> int:
    from metasparse.analysis._report import write_index, write_report
    from metasparse.analysis._results import load_results

    analyses, reports = [], []
    for directory in directories:
        analysis = _analyze(args, [load_results(directory)])
        report = write_report(analysis, args.output / directory.name if args.output else None)
        _print_summary(analysis, report)
        analyses.append(analysis)
        reports.append(report)
    index = write_index(analyses, reports, args.output or parent / "report",
                        title=f"Analysis of `{parent.name}`: one run per space")
    print(f"index of the {len(analyses)} runs: {index}")
    return 0


def _print_summary(analysis: Analysis, report: Path) -> None:
    from metasparse.analysis._analysis import top_parameters

    top = top_parameters(analysis.importance.main, 5)
    print(f"{analysis.main.name}: report written to {report}")
    print("  most important: " + ", ".join(
        f"{p} {100 * v:.1f}%" for p, v in zip(top["parameter"], top["importance"], strict=True)))
    if len(analysis.ablation) > 1:
        steps = analysis.ablation.iloc[1:]
        print(f"  ablation {analysis.ablation_source} -> incumbent: " + " -> ".join(
            f"{p} ({g:+.4f})" for p, g in zip(steps["parameter"], steps["gain"], strict=True)))
