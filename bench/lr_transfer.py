"""Does a tuned learning rate carry across densities? With SmuPar's scaling (lr_scaling=density,
sparse_kaiming init) and without it (lr_scaling=none).

For each density and scaling, sweeps the learning rate (Adam), picks the best by validation
accuracy (mean over seeds), and prints the best learning rate and how much validation accuracy
the densest setting's best learning rate loses when used at that density instead (the transfer
loss). A rule under which the learning rate transfers has the same best lr at every density and
a transfer loss near zero.

    PYTHONPATH=. .venv/bin/python bench/lr_transfer.py --dataset coil20
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch
from tqdm import tqdm

from metasparse.train import run_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="coil20")
    parser.add_argument("--densities", type=float, nargs="+", default=[1.0, 0.2, 0.05, 0.01])
    parser.add_argument("--lrs", type=float, nargs="+",
                        default=[float(x) for x in np.logspace(-5, -1, 9)])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--hidden", default="256,256")
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = {"hidden_sizes": args.hidden, "optimizer": "adam", "weight_decay": 0.0,
            "distribution": "uniform", "weight_init": "sparse_kaiming", "batch_size": 64,
            "update_every": "never", "lr_schedule": "cosine"}
    runs = [(d, s, lr, seed) for d in args.densities
            for s in (["none"] if d == 1.0 else ["none", "density"])
            for lr in args.lrs for seed in args.seeds]
    acc: dict[tuple[float, str, float], list[float]] = {}
    for density, scaling, lr, seed in tqdm(runs):
        r = run_config({**base, "density": density, "lr": lr, "lr_scaling": scaling},
                       args.dataset, args.epochs, seed)
        acc.setdefault((density, scaling, lr), []).append(r.val_accuracy)
    mean = {key: statistics.mean(v) for key, v in acc.items()}
    densest = max(args.densities)
    reference = max(args.lrs, key=lambda lr: mean[(densest, "none", lr)])
    print(f"{args.dataset}, Adam, MLP {args.hidden}, {args.epochs} epochs, seeds {args.seeds}; "
          f"best lr at density {densest}: {reference:.2g}")
    print("| density | lr_scaling | best lr | best val acc | val acc at the densest best lr |"
          " transfer loss |")
    print("|---|---|---|---|---|---|")
    for density in args.densities:
        for scaling in (["none"] if density == 1.0 else ["none", "density"]):
            best = max(args.lrs, key=lambda lr: mean[(density, scaling, lr)])
            top, there = mean[(density, scaling, best)], mean[(density, scaling, reference)]
            print(f"| {density} | {scaling} | {best:.2g} | {top:.3f} | {there:.3f} |"
                  f" {top - there:.3f} |")


if __name__ == "__main__":
    main()
