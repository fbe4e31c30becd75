"""`metasparse validate RESULTS [--seeds N] [--instances NAME ...] [--presets NAME ...]`.

Trains the incumbent and every preset in both forms, published and relative
(`<name>-relative`), with the scenario's fixed settings on the held-out instances, writes
RESULTS/validation.csv (one row per run, saved after every run; a rerun reuses the rows it finds
there) and prints the summary table, and a note for each preset whose published schedule made
no topology update on an instance. For the directory of a scenario with a list of spaces, each
space's run is validated in turn, reusing the presets' runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from metasparse.errors import MetasparseError
from metasparse.results import VALIDATION, JobTable, hold_directories, write_atomic

if TYPE_CHECKING:
    import pandas as pd


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, help="a results directory of `metasparse optimize`")
    parser.add_argument("--seeds", type=int, default=3,
                        help="seeds per held-out instance (default: 3)")
    parser.add_argument("--instances", nargs="+", metavar="NAME",
                        help="datasets to validate on instead of the scenario's "
                             "heldout_instances")
    parser.add_argument("--presets", nargs="+", metavar="NAME",
                        help="presets to compare with (default: every preset, in both "
                             "forms: published and <name>-relative)")
    parser.add_argument("--data-dir", help="data directory (default: the scenario's, else "
                                           "$METASPARSE_DATA_DIR)")
    parser.add_argument("--rerun", action="store_true",
                        help="train everything again instead of reusing validation.csv rows")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from metasparse.analysis._results import find_runs
    from metasparse.space import preset_names

    if args.seeds < 1:
        raise MetasparseError(f"--seeds must be a positive integer; got {args.seeds}")
    names = preset_names(relative=True)
    unknown = [p for p in args.presets or [] if p not in names]
    if unknown:
        raise MetasparseError(f"--presets must be among {names}; got {unknown[0]!r}")
    directories = find_runs(args.results)
    # it trains for a while and writes validation.csv into each directory: not beside a run
    with hold_directories(directories, "metasparse validate"):
        return _validate(args, directories)


def _validate(args: argparse.Namespace, directories: list[Path]) -> int:
    from metasparse.analysis._results import load_results
    from metasparse.analysis._validate import never_updated, validate, validation_summary
    from metasparse.space import relative_hint

    runs = [load_results(d) for d in directories]
    for results in runs:
        target = results.directory / VALIDATION
        previous = None if args.rerun else _previous(directories)

        def save(frame: pd.DataFrame, target: Path = target) -> None:
            write_atomic(target, frame.to_csv(index=False))

        frame = validate(results, seeds=args.seeds, instances=args.instances,
                         presets=args.presets, data_dir=args.data_dir,
                         progress=not args.no_progress, previous=previous, on_run=save)
        save(frame)
        print(f"{results.name}: {len(frame)} runs written to {target}")
        print(_text_table(validation_summary(frame)))
        for row in never_updated(frame).itertuples():
            hint = relative_hint(row.candidate)
            print(f"note: {row.candidate} made no topology update on {row.instance} in "
                  f"{row.runs} runs (its schedule: {row.schedule}, longer than the training "
                  "there)" + (f"; {hint}" if hint else ""))
        print()
    return 0


def _previous(directories: list[Path]) -> pd.DataFrame | None:
    import pandas as pd

    frames = [JobTable(d / VALIDATION).frame() for d in directories
              if (d / VALIDATION).is_file()]
    return pd.concat(frames, ignore_index=True) if frames else None


def _text_table(frame: pd.DataFrame) -> str:
    """The summary as aligned text."""
    shown = frame.rename(columns={"gain_of_incumbent": "incumbent gain"})
    cells = [[str(c) for c in shown.columns]]
    for row in shown.itertuples(index=False, name=None):
        cells.append([_fmt(v) for v in row])
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
                     for r in cells)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.4g}"
    return str(value)
