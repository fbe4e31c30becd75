"""`metasparse select-features`: train one sparse network (or an ensemble, --ensemble N), rank its
input features, score the top K of it and of the baselines, and write the ranking, the
accuracies and their plot."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from metasparse.errors import ConfigError, OutputError
from metasparse.features._names import BASELINE_NAMES, CLASSIFIER_NAMES, IMPORTANCE_NAMES
from metasparse.results import csv_text

if TYPE_CHECKING:
    from metasparse.features._select import FeatureSelection

# The default method: the network method of best mean validation accuracy over the six shared
# datasets at K = 50 in results/reference/feature-selection-k50/ (runs.csv, seeds 0-4, 50
# epochs): NeuroFS ranked by attribution, 79.7% (SET by attribution 78.5, QuickSelection by
# neuron strength 76.6, WAST 76.2; no variant of QuickSelection won the search of
# results/reference/feature-selection-search/ over the preset). It is the worst of them on
# madelon (57.2% at K = 50, QuickSelection 67.5).
DEFAULT_PRESET = "neurofs"
DEFAULT_IMPORTANCE = "attribution"  # with --preset, the importance is neuron_strength
DEFAULT_CHANGES: dict[str, object] = {}  # what the default run changes in DEFAULT_PRESET
DEFAULT_EPOCHS = 50  # the study's (10 gave QuickSelection 61% on madelon, K = 20)
MAX_SEED = 2 ** 32 - 1  # the largest random_state that scikit-learn takes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="dataset name or data file path")
    parser.add_argument("--k", type=int, action="append", required=True, dest="ks",
                        metavar="K", help="number of selected features (repeatable)")
    parser.add_argument("--preset",
                        help="the sparse training to rank with, a preset as published "
                             f"(default: {_default_text()})")
    parser.add_argument("--set", dest="assignments", action="append", default=[],
                        metavar="KEY=VALUE", help="override one parameter (repeatable)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                        help=f"training epochs (default: {DEFAULT_EPOCHS})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--ensemble", type=int, default=1, metavar="N",
                        help="train N networks (seeds SEED, SEED+1000, ...) and rank the "
                             "features by the mean of their importances, each divided by its "
                             "sum: N times the training, a steadier ranking, not a better one "
                             "everywhere (5 seeds, SVM test accuracy with 5 against 1: "
                             "QuickSelection on madelon K = 20 81.5%% against 73.0%%, on six "
                             "datasets at K = 50 78.9%% against 77.5%%; the default NeuroFS on "
                             "those six 80.8%% against 81.0%%, arcene 68.5%% against 75.5%%) "
                             "(default: 1)")
    parser.add_argument("--importance",
                        help=f"how the network ranks features, one of {IMPORTANCE_NAMES} "
                             f"(default: {DEFAULT_IMPORTANCE} without --preset, "
                             "neuron_strength with it)")
    parser.add_argument("--classifier", default="svm",
                        help=f"downstream classifier, one of {CLASSIFIER_NAMES} (default: svm)")
    parser.add_argument("--baselines", nargs="*", default=[],
                        help=f"baseline rankings among {BASELINE_NAMES} (default: none)")
    parser.add_argument("--output", "--out", dest="out", type=Path,
                        help="directory for ranking.csv, results.csv and accuracy.png "
                             "(--out: the same)")
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--data-dir", help="data directory (default: $METASPARSE_DATA_DIR)")
    parser.add_argument("--json", action="store_true", help="print one JSON object, no progress")


def run(args: argparse.Namespace) -> int:
    from metasparse.data import load_dataset
    from metasparse.features._select import select_features
    from metasparse.space import get_preset, parse_assignment, resolve_config

    if args.epochs < 1:
        raise ConfigError(f"The 'epochs' parameter must be a positive integer; got {args.epochs}")
    if not 0 <= args.seed <= MAX_SEED:
        raise ConfigError(f"The 'seed' parameter must be an integer in 0..{MAX_SEED}; "
                          f"got {args.seed}")
    if args.out is not None:
        _check_out(args.out)
    config = get_preset(args.preset) if args.preset is not None \
        else {**get_preset(DEFAULT_PRESET), **DEFAULT_CHANGES}
    if args.importance is None:
        args.importance = "neuron_strength" if args.preset is not None else DEFAULT_IMPORTANCE
    for text in args.assignments:
        key, value = parse_assignment(text)
        config[key] = value
    config = resolve_config(config)
    dataset = load_dataset(args.dataset, data_dir=args.data_dir)
    selection = select_features(config, dataset, args.ks, args.epochs, args.seed,
                                classifier=args.classifier, baselines=args.baselines,
                                importance=args.importance, ensemble=args.ensemble,
                                progress=not args.json, device=args.device)
    if args.out is not None:
        _write(selection, args.out)
    result = selection.trained.result
    failed = [r.status for r in selection.results if r.status != "success"]
    # the network's own score: an autoencoder's is the R² of its reconstruction
    score = "r2" if config["task"] == "autoencoder" else "accuracy"
    summary = {
        "dataset": args.dataset, "seed": args.seed, "epochs": args.epochs,
        "classifier": args.classifier, "importance": args.importance, "ks": args.ks,
        "ensemble": args.ensemble,
        "status": failed[0] if failed else "success",  # of every network
        f"val_{score}": result.val_accuracy, f"test_{score}": result.test_accuracy,
        "density": result.density, "wall_time_s": result.wall_time_s,
        # every network of the ensemble (the first, seed --seed, is the one above)
        "members": [{"seed": seed, "status": r.status, f"val_{score}": r.val_accuracy,
                     f"test_{score}": r.test_accuracy, "wall_time_s": r.wall_time_s}
                    for seed, r in zip(selection.seeds, selection.results, strict=True)],
        "results": selection.rows, "ranking": selection.ranking.order.tolist(),
        "config": config,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        for row in selection.rows:
            print(f"{row['method']:>16}  k={row['k']:<5} val {row['val_accuracy']:.4f}  "
                  f"test {row['test_accuracy']:.4f}")
    return 0 if not failed else 1


def _default_text() -> str:
    changes = ", ".join(f"{key}={value}" for key, value in DEFAULT_CHANGES.items())
    method = f"{DEFAULT_PRESET} with {changes}" if changes else DEFAULT_PRESET
    return (f"{method} ranked by {DEFAULT_IMPORTANCE}: of the presets, the best mean validation "
            "accuracy over six datasets at K = 50")


def _check_out(out: Path) -> None:
    """Refuse (OutputError), before any work, an --out that is a file or under one, or whose
    nearest existing folder cannot be written in; nothing is created."""
    existing = out
    try:
        while not existing.exists():  # ends at '/' or '.'
            existing = existing.parent
        if not existing.is_dir():
            raise OutputError(f"cannot write the output directory {str(out)!r}: "
                              f"{str(existing)!r} is a file, not a directory")
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as exc:
        raise OutputError(f"cannot write the output directory {str(out)!r}: cannot create "
                          f"files in {str(existing)!r}: {exc.strerror or exc}") from None


def _write(selection: FeatureSelection, out: Path) -> None:
    """Write ranking.csv, results.csv and accuracy.png into `out`, each to a temporary file
    first: the files are replaced once all three are written, so a failed write (a full disk)
    leaves none of them half-written."""
    from metasparse.features._plot import plot_accuracy
    from metasparse.features._select import RESULT_COLUMNS

    ranking = selection.ranking
    ranks = [{"feature": int(feature), "score": float(ranking.scores[feature]), "rank": rank}
             for rank, feature in enumerate(ranking.order, start=1)]
    writers = {
        "ranking.csv": lambda path: path.write_text(csv_text(["feature", "score", "rank"], ranks)),
        "results.csv": lambda path: path.write_text(csv_text(RESULT_COLUMNS, selection.rows)),
        "accuracy.png": lambda path: plot_accuracy(selection.rows, path),
    }
    temporaries: dict[Path, Path] = {}
    target = out
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, write in writers.items():
            target = out / name
            temporaries[target] = out / f".{os.getpid()}.{name}"  # keeps the file's suffix
            write(temporaries[target])
        for target, temporary in temporaries.items():
            os.replace(temporary, target)
    except OSError as exc:
        for temporary in temporaries.values():
            temporary.unlink(missing_ok=True)
        raise OutputError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None
