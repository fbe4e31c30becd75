"""How one trial's time grows with the number of training samples and with the MLP's width.

Trains the RigL preset (2 hidden layers of the given width, density 0.1, fixed epochs) with
metasparse.train.run_config on nested subsets of one dataset, for every (samples, width) pair,
and prints seconds per trial (run_config's whole call: scaling, model, training and the
per-epoch validation, data already in memory) and per epoch (median time between epoch ends,
so the first epoch's warm-up is left out), then the growth exponents: the log-log
least-squares slope of seconds per epoch in samples (per width) and in width (per size), and a
joint fit  s/epoch ~ samples^a * width^b.

Data: a real dataset (--dataset, default madelon, from --data-dir: $METASPARSE_DATA_DIR, else
../shared/data beside the repository) when it holds enough samples for the largest size, else
Gaussian inputs with labels from a random linear teacher, of the real set's shape if it loaded
(784 features, 10 classes otherwise); the header says which. A subset of samples/0.6 points is
split 60/20/20 like every dataset, so the training split has about `samples` points and the
validation split grows with it. Run it on an idle machine: PyTorch's OpenMP threads spin-wait,
and another busy process slows them down many-fold (the trial runner of `metasparse optimize`
sets OMP_WAIT_POLICY=PASSIVE for its trials; export it here to time trials as they run there).

    python bench/scaling.py [--sizes 300 750 1500] [--widths 64 256 1024] [--epochs 3]
    python bench/scaling.py --quick     # a smoke run of a few seconds
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from trainer_overhead import teacher_arrays

from metasparse.data import dataset_from_arrays, load_dataset
from metasparse.errors import MetasparseError
from metasparse.space import get_preset
from metasparse.train import run_config

TRAIN_FRACTION = 0.6  # load_dataset's split: 60/20/20


def default_data_dir() -> str | None:
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return os.environ.get("METASPARSE_DATA_DIR") or (str(shared) if shared.is_dir() else None)


def arrays(args: argparse.Namespace, needed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """X, y of at least `needed` samples, and the header's description of where they came from."""
    features, classes = 784, 10
    try:
        d = load_dataset(args.dataset, data_dir=args.data_dir)
        x = torch.cat([d.X_train, d.X_val, d.X_test]).numpy()
        y = torch.cat([d.y_train, d.y_val, d.y_test]).numpy()
        if len(x) >= needed:
            return x, y, f"{args.dataset} ({len(x)} samples, {d.n_features} features, " \
                         f"{d.n_classes} classes), subsampled"
        features, classes = d.n_features, d.n_classes
        why = f"{args.dataset} has {len(x)} samples, {needed} needed"
    except MetasparseError as exc:
        why = f"{args.dataset}: {exc}"
    x, y = teacher_arrays(needed, features, classes)
    return x, y, f"synthetic Gaussian ({features} features, {classes} classes; {why})"


def timed(config: dict, data, epochs: int) -> dict:
    stamps: list[float] = []
    start = time.perf_counter()
    result = run_config(config, data, epochs, seed=0, evaluate_test=False,
                        report=lambda epoch, metrics: stamps.append(time.perf_counter()))
    trial = time.perf_counter() - start
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return {"trial": trial, "epoch": statistics.median(gaps) if gaps else trial / epochs,
            "updates": result.topology_updates, "val_acc": result.val_accuracy}


def slope(xs: list[float], ys: list[float]) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0]) if len(set(xs)) > 1 else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 750, 1500],
                        help="training samples")
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--layers", type=int, default=2, help="hidden layers")
    parser.add_argument("--density", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="median of this many runs")
    parser.add_argument("--dataset", default="madelon")
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: sizes 300 1200, widths 32 128, 2 epochs, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.widths, args.epochs, args.repeats = [300, 1200], [32, 128], 2, 1
    if args.threads:
        torch.set_num_threads(args.threads)

    totals = {n: math.ceil(n / TRAIN_FRACTION) for n in args.sizes}
    x, y, source = arrays(args, max(totals.values()))
    order = np.random.default_rng(0).permutation(len(x))  # nested subsets: a prefix per size
    base = dict(get_preset("rigl"), density=args.density)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, {device}, "
          f"{platform.processor() or platform.machine()}; data: {source}")
    print(f"# MLP {x.shape[1]}-{'x'.join(['W'] * args.layers)}-{int(y.max()) + 1}, rigl preset, "
          f"density {args.density}, batch {base['batch_size']}, dT {base['delta_t']}, "
          f"{args.epochs} epochs, median of {args.repeats}")
    print(f"{'samples':>7} {'width':>6} {'steps/ep':>8} {'updates':>7} {'s/trial':>8} "
          f"{'s/epoch':>8} {'val acc':>7}")
    per_epoch: dict[tuple[int, int], float] = {}
    per_trial: dict[tuple[int, int], float] = {}
    for i, n in enumerate(args.sizes):
        rows = order[:totals[n]]
        data = dataset_from_arrays(f"subset{n}", x[rows], y[rows])
        if i == 0:  # warm-up, untimed: the first run in a process pays one-off costs
            timed(dict(base, hidden_sizes=str(args.widths[0])), data, 1)
        train = len(data.X_train)
        for width in args.widths:
            config = dict(base, hidden_sizes=",".join([str(width)] * args.layers))
            runs = [timed(config, data, args.epochs) for _ in range(args.repeats)]
            per_trial[n, width] = statistics.median(r["trial"] for r in runs)
            per_epoch[n, width] = statistics.median(r["epoch"] for r in runs)
            accuracy = statistics.median(r["val_acc"] for r in runs)
            print(f"{train:>7} {width:>6} {math.ceil(train / base['batch_size']):>8} "
                  f"{runs[0]['updates']:>7} {per_trial[n, width]:>8.3f} "
                  f"{per_epoch[n, width]:>8.3f} {accuracy:>7.3f}")

    print("\ngrowth exponent of s/epoch (log-log slope; 1 = linear)")
    for width in args.widths:
        slope_n = slope(args.sizes, [per_epoch[n, width] for n in args.sizes])
        print(f"  in samples at width {width:>5}: {slope_n:5.2f}")
    for n in args.sizes:
        slope_w = slope(args.widths, [per_epoch[n, w] for w in args.widths])
        print(f"  in width at {n:>6} samples: {slope_w:5.2f}")
    keys = list(per_epoch)
    design = np.column_stack([np.ones(len(keys)), np.log([k[0] for k in keys]),
                              np.log([k[1] for k in keys])])
    for label, times in (("s/epoch", per_epoch), ("s/trial", per_trial)):
        (_, a, b), *_ = np.linalg.lstsq(design, np.log([times[k] for k in keys]), rcond=None)
        print(f"  joint fit: {label} ~ samples^{a:.2f} * width^{b:.2f}")


if __name__ == "__main__":
    main()
