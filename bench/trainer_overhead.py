"""Masked DST training against dense training of the same MLP, measured side by side.

Prints, per grow score: the training time per epoch relative to dense (target <= 1.05 with
delta_t=100), the share of training time spent in topology updates (target <= 1%), and the cost
of one update relative to one training step. Runs alternate (dense, dst, dense, dst, ...) and the
median of the repeats is reported, so that a noisy shared machine affects both sides alike.

Timing does not depend on the data's values, so the inputs are Gaussian with labels from a
random linear teacher (a real dataset with 100 steps per epoch does not exist offline here).

    python bench/trainer_overhead.py [--width 1000] [--layers 3] [--density 0.1] [--epochs 3]
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import time

import numpy as np
import torch

from metasparse.data import dataset_from_arrays
from metasparse.space import get_preset
from metasparse.sparse import GROW_SCORES
from metasparse.train import run_config


def teacher_arrays(n: int, features: int, classes: int, seed: int = 0):
    """Gaussian inputs labelled by a random linear teacher (X float32, y int64)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    teacher = rng.standard_normal((features, classes)).astype(np.float32)
    return x, (x @ teacher).argmax(axis=1).astype(np.int64)


def synthetic(n: int, features: int, classes: int, seed: int = 0):
    x, y = teacher_arrays(n, features, classes, seed)
    return dataset_from_arrays("bench", x, y, val_fraction=0.05, test_fraction=0.05)


def timed_run(config: dict, data, epochs: int) -> dict:
    stamps: list[float] = []
    result = run_config(config, data, epochs, seed=0, evaluate_test=False,
                        report=lambda epoch, m: stamps.append(time.perf_counter()))
    # first epoch excluded (warm-up); evaluation time is inside each epoch for both sides alike
    per_epoch = statistics.median(b - a for a, b in itertools.pairwise(stamps))
    return {"epoch_s": per_epoch, "update_s": result.update_time_s,
            "updates": result.topology_updates, "wall_s": result.wall_time_s,
            "val_acc": result.val_accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--density", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--samples", type=int, default=128 * 100 + 1500)
    args = parser.parse_args()

    data = synthetic(args.samples, 1024, 20)
    hidden = ",".join([str(args.width)] * args.layers)
    base = dict(get_preset("rigl"), hidden_sizes=hidden, batch_size=args.batch_size,
                delta_t=100, t_end=1.0, dropout=0.0)
    dense = dict(base, density=1.0, update_every="never")  # the same training, no masks
    steps = len(data.X_train) // args.batch_size
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}; MLP 1024-{hidden}-20, "
          f"density {args.density}, batch {args.batch_size}, {steps} steps/epoch, dT=100")
    print(f"{'grow_score':<10} {'dense s/ep':>10} {'dst s/ep':>9} {'ratio':>6} "
          f"{'update %':>8} {'ms/update':>9} {'update/step':>11}")
    for grow in GROW_SCORES.names():
        config = dict(base, grow_score=grow, density=args.density)
        dense_runs, dst_runs = [], []
        for _ in range(args.repeats):
            dense_runs.append(timed_run(dense, data, args.epochs))
            dst_runs.append(timed_run(config, data, args.epochs))
        d = statistics.median(r["epoch_s"] for r in dense_runs)
        s = statistics.median(r["epoch_s"] for r in dst_runs)
        share = statistics.median(r["update_s"] / r["wall_s"] for r in dst_runs)
        per_update = statistics.median(r["update_s"] / max(r["updates"], 1) for r in dst_runs)
        step = d / steps
        print(f"{grow:<10} {d:>10.3f} {s:>9.3f} {s / d:>6.3f} {100 * share:>7.2f}% "
              f"{1000 * per_update:>9.1f} {per_update / step:>11.2f}")


if __name__ == "__main__":
    main()
