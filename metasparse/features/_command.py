"""`metasparse select-features`: train one sparse network, rank its input features, score the top
K of it and of the baselines, and write the ranking, the accuracies and their plot."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from metasparse.features._baselines import BASELINES
from metasparse.features._evaluate import CLASSIFIERS
from metasparse.features._plot import plot_accuracy
from metasparse.features._ranking import IMPORTANCES
from metasparse.features._select import RESULT_COLUMNS, FeatureSelection, select_features

DEFAULT_PRESET = "quickselection"  # SET on a denoising autoencoder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="dataset name or data file path")
    parser.add_argument("--k", type=int, action="append", required=True, dest="ks",
                        metavar="K", help="number of selected features (repeatable)")
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help=f"the sparse training to rank with (default: {DEFAULT_PRESET})")
    parser.add_argument("--set", dest="assignments", action="append", default=[],
                        metavar="KEY=VALUE", help="override one parameter (repeatable)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default: 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--importance", default="neuron_strength",
                        help=f"how the network ranks features, one of {IMPORTANCES.names()} "
                             "(default: neuron_strength)")
    parser.add_argument("--classifier", default="svm",
                        help=f"downstream classifier, one of {CLASSIFIERS.names()} (default: svm)")
    parser.add_argument("--baselines", nargs="*", default=[],
                        help=f"baseline rankings among {BASELINES.names()} (default: none)")
    parser.add_argument("--out", type=Path,
                        help="directory for ranking.csv, results.csv and accuracy.png")
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--data-dir", help="data directory (default: $METASPARSE_DATA_DIR)")
    parser.add_argument("--json", action="store_true", help="print one JSON object, no progress")


def run(args: argparse.Namespace) -> int:
    from metasparse.data import load_dataset
    from metasparse.space import get_preset, parse_assignment, resolve_config

    config = get_preset(args.preset)
    for text in args.assignments:
        key, value = parse_assignment(text)
        config[key] = value
    config = resolve_config(config)
    dataset = load_dataset(args.dataset, data_dir=args.data_dir)
    selection = select_features(config, dataset, args.ks, args.epochs, args.seed,
                                classifier=args.classifier, baselines=args.baselines,
                                importance=args.importance,
                                progress=not args.json, device=args.device)
    if args.out is not None:
        _write(selection, args.out)
    result = selection.trained.result
    summary = {
        "dataset": args.dataset, "seed": args.seed, "epochs": args.epochs,
        "classifier": args.classifier, "importance": args.importance, "ks": args.ks,
        "status": result.status,
        "val_accuracy": result.val_accuracy, "test_accuracy": result.test_accuracy,
        "density": result.density, "wall_time_s": result.wall_time_s,
        "results": selection.rows, "ranking": selection.ranking.order.tolist(),
        "config": config,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        for row in selection.rows:
            print(f"{row['method']:>16}  k={row['k']:<5} val {row['val_accuracy']:.4f}  "
                  f"test {row['test_accuracy']:.4f}")
    return 0 if result.status == "success" else 1


def _write(selection: FeatureSelection, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ranking = selection.ranking
    with (out / "ranking.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["feature", "score", "rank"])
        for rank, feature in enumerate(ranking.order, start=1):
            writer.writerow([int(feature), float(ranking.scores[feature]), rank])
    with (out / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(selection.rows)
    plot_accuracy(selection.rows, out / "accuracy.png")
