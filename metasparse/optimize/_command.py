"""`metasparse optimize SCENARIO [--n-trials N] [--walltime S] [--output DIR] [--n-workers K]
[--backend NAME]`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from metasparse.optimize._backends import backend_names

if TYPE_CHECKING:
    from metasparse.optimize._optimize import RunSummary

EXIT_INTERRUPTED = 130


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", default="quickstart",
                        help="a scenario YAML file or a shipped scenario name "
                             "(default: quickstart)")
    parser.add_argument("--n-trials", type=int, metavar="N",
                        help="finished trials to reach (raise it to extend a finished run)")
    parser.add_argument("--walltime", type=float, metavar="S",
                        help="seconds in which this command may start trials")
    parser.add_argument("--output", metavar="DIR",
                        help="results directory (default: results/<name>)")
    parser.add_argument("--n-workers", type=int, metavar="K", help="trials run at a time")
    names = backend_names()
    parser.add_argument("--backend", choices=names, metavar="NAME",
                        help="another backend than the scenario's: "
                             f"{', '.join(names[:-1])} or {names[-1]} (results then go to "
                             "results/<name>-<backend> unless --output is given)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from metasparse.optimize._scenario import load_scenario

    scenario = load_scenario(args.scenario, n_trials=args.n_trials, walltime=args.walltime,
                             output=args.output, n_workers=args.n_workers, backend=args.backend)
    # imported once the scenario is read: an error in it costs no import of what the search needs
    from metasparse.optimize._optimize import OptimizationInterrupted, optimize

    try:
        summaries = optimize(scenario, progress=not args.no_progress)
    except OptimizationInterrupted as stop:
        print(f"interrupted: {stop.n_trials} trials kept in {stop.directory}; "
              "rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    for summary in summaries:
        print(summary.table())
        print()
    if len(summaries) > 1:
        print(comparison(summaries))
        print()
    print(next_steps(summaries, bool(scenario.heldout_instances)))
    return 0


def next_steps(summaries: list[RunSummary], heldout: bool) -> str:
    """What to do with the runs: explore, report, and (with held-out datasets) test."""
    directory = summaries[0].directory if len(summaries) == 1 else summaries[0].directory.parent
    lines = ["next:",
             f"  metasparse dashboard {directory}     # explore the trials in the browser",
             f"  metasparse analyze {summaries[0].directory}     # report.html: importance, "
             "ablation, the incumbent against the presets"]
    if heldout:
        lines.append(f"  metasparse validate {summaries[0].directory}     # test the incumbent "
                     "and the presets on the held-out datasets")
    return "\n".join(lines)


def comparison(summaries: list[RunSummary]) -> str:
    """One line per run of a multi-space scenario: the best cost and the reference's."""
    width = max(len(s.name) for s in summaries)
    best_label = "best " + ("val error" if summaries[0].objective == "val_error" else "fs error")
    lines = [f"{'run':<{width}}  trials  {best_label}  reference"]
    for s in summaries:
        best = f"{s.incumbent['cost']:.4f}" if s.incumbent else "-"
        ref = f"{s.reference['cost']:.4f} ({s.reference['preset']})" if s.reference else "-"
        lines.append(f"{s.name:<{width}}  {s.n_trials:>6}  {best:>14}  {ref}")
    return "\n".join(lines)
