"""`metasparse export RESULTS --to optuna [--output FILE] [--study NAME]`."""

from __future__ import annotations

import argparse
from pathlib import Path

FORMATS = ("optuna",)
DEFAULT_FILE = "optuna-export.journal"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Write a results directory in another tool's format. optuna: an Optuna study in a "
        "journal file (one Optuna trial per trial, its active parameters, costs as values, "
        "metrics as user attributes), which `optuna-dashboard FILE` and optuna.load_study open.")
    parser.add_argument("results", type=Path, help="a results directory of `metasparse optimize`")
    parser.add_argument("--to", required=True, choices=FORMATS, help="the format")
    parser.add_argument("--output", type=Path,
                        help=f"the file to write (default: RESULTS/{DEFAULT_FILE}); it must not "
                             "exist")
    parser.add_argument("--study", help="the study's name (default: the run's name)")


def run(args: argparse.Namespace) -> int:
    import optuna

    from metasparse.analysis._export import export_optuna
    from metasparse.analysis._results import load_results

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = load_results(args.results)
    output = args.output or args.results / DEFAULT_FILE
    export_optuna(results, output, args.study)
    print(f"{len(results.trials)} trials of {results.name!r} written to {output} as the Optuna "
          f"study {args.study or results.name!r} (open it with: optuna-dashboard {output})")
    return 0
