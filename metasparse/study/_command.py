"""`metasparse study KIND STUDY.yaml`: run or resume a study, write its report."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from typing import Any

from metasparse.errors import ScenarioError
from metasparse.results import write_atomic


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["randomness", "importance", "configuration",
                                         "feature-selection"],
                        help="randomness: prune/grow randomness ratios; importance: weight "
                             "magnitude against measured importance; configuration: each "
                             "algorithm tuned against its preset, the combined space against "
                             "the best single one, which components matter, the optimizers; "
                             "feature-selection: the features that presets and a tuned "
                             "configuration select, against scikit-learn baselines")
    parser.add_argument("study", help="a study file (scenarios/study-*.yaml)")
    parser.add_argument("--output", help="output directory (default: the study's `output`, "
                                         "else results/<name>)")
    parser.add_argument("--data-dir", help="data directory (default: $METASPARSE_DATA_DIR)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--workers", type=_positive, default=1, metavar="N",
                        help="configuration study: run its grid's cells (tuning runs, test "
                             "runs) N at a time as tasks on a local Ray instance bound to "
                             "127.0.0.1 (default: 1, one after another in this process); each "
                             "training uses one thread either way, so the results are the same")
    parser.add_argument("--address", metavar="ADDRESS",
                        help="configuration study: run the cells on the Ray cluster at ADDRESS "
                             "(auto, host:port or ray://host:port), on all its CPUs; its nodes "
                             "need metasparse installed and the study's datasets")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


# What every finished run of a study depends on; lists (datasets, seeds, ratios...) may grow.
_FROZEN = ("preset", "fixed", "epochs")
_FROZEN_BY_KIND = {"configuration": ("n_trials", "min_epochs"),
                   "feature-selection": ("tuned_trials", "classifier", "tune_space",
                                         "tune_importance", "k", "dataset_k", "importances",
                                         "autoencoder_importances", "tune_seeds",
                                         "tune_held_out", "tune_facade")}


def check_unchanged(study) -> None:
    """Refuse to resume a study whose runs were made with other settings (a setting that a
    folder predates was its default there)."""
    path = study.output_dir / "study-settings.json"
    frozen = _FROZEN + _FROZEN_BY_KIND.get(study.kind, ())
    settings = _as_json({k: getattr(study, k) for k in frozen})
    if path.exists():
        before = json.loads(path.read_text())
        fields = type(study).model_fields
        for key in frozen:
            made = before[key] if key in before \
                else _as_json(fields[key].get_default(call_default_factory=True))
            if made != settings[key]:
                raise ScenarioError(
                    f"{study.output_dir} holds runs made with {key}={made!r}, not "
                    f"{settings[key]!r}: use another --output or restore the setting")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(settings, indent=2))


def _as_json(value: Any) -> Any:
    """`value` as study-settings.json holds it (what JSON cannot hold, as its string)."""
    return json.loads(json.dumps(value, default=str))


def run(args: argparse.Namespace) -> int:
    from metasparse.results import hold_directory
    from metasparse.study import (
        _configuration,
        _configuration_report,
        _feature_selection,
        _feature_selection_report,
        _importance,
        _randomness,
        _report,
        _tuned,
    )
    from metasparse.study._parallel import RayGrid
    from metasparse.study._spec import load_study

    study = load_study(args.study, args.kind, output=args.output, data_dir=args.data_dir)
    progress = not args.no_progress
    parallel = args.workers > 1 or args.address is not None
    if parallel and args.kind != "configuration":
        raise ScenarioError(f"--workers and --address run the configuration study's grid on "
                            f"Ray; the {args.kind} study runs in this process only")
    if args.kind == "configuration":  # every training on one thread, in this process or on
        os.environ["OMP_NUM_THREADS"] = "1"  # a worker: the same numbers either way
    try:
        # one study at a time in a directory (a second one would run the same grid points)
        with hold_directory(study.output_dir, "study", f"metasparse study {args.kind}"):
            check_unchanged(study)
            if args.kind == "randomness":
                runs = _randomness.run(study, progress)
                tuned = _tuned.compare(study, runs, progress) if study.tuned_trials else None
                path = _report.randomness_report(study, runs, tuned)
            elif args.kind == "feature-selection":
                path = _feature_selection_report.feature_selection_report(
                    study, *_feature_selection.run(study, progress))
            elif args.kind == "configuration":
                with RayGrid(args.workers, args.address) if parallel else \
                        contextlib.nullcontext() as grid:
                    results = _configuration.run(study, progress, grid)
                for name in _configuration.stale_presets(study, results[1]):
                    print(f"note: the test runs of preset {name} in {study.output_dir} trained "
                          "another configuration than it is today (spaces/presets.yaml or the "
                          "space changed since); they are kept: delete their rows from "
                          "evaluation.csv to train them again")
                path = _configuration_report.configuration_report(study, *results)
                for line in _configuration_report.silent_notes(path.parent):
                    print(line)
            else:
                path = _report.importance_report(study, _importance.run(study, progress))
    except KeyboardInterrupt:
        raise ScenarioError(f"interrupted: finished runs are kept in {study.output_dir}; rerun "
                            "the same command to resume") from None
    print(f"report: {path}")
    return 0
