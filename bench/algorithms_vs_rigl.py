"""The 2021-2026 algorithms against RigL at the same density and budget, on real datasets.

Each method is RigL's preset with the method's own axes changed (so the comparison isolates the
method), and also its own preset as published; a few epochs, several seeds, one thread.
Prints one row per (dataset, method): mean and standard deviation of validation and test
accuracy, and the mean wall time.

    PYTHONPATH=. .venv/bin/python bench/algorithms_vs_rigl.py --datasets coil20 madelon
"""

from __future__ import annotations

import argparse
import statistics

import torch
from tqdm import tqdm

from metasparse.space import get_preset
from metasparse.train import run_config

METHODS = {  # method -> what it changes in RigL's preset
    "rigl": {},
    "gse": {"grow_candidates": "sampled", "grow_subset": 1.0},
    "chts": {"grow_score": "ch2_l3n", "grow_selection": "multinomial"},
    "cht (top)": {"grow_score": "ch2_l3n"},
    "srigl": {"fan_in": "constant", "min_salient_weights_per_neuron": 0.3},
    "granet (layer)": {"sparsity_schedule": "gradual", "initial_density": 0.5,
                       "prune_scope": "layer"},
    "granet (global)": {"sparsity_schedule": "gradual", "initial_density": 0.5,
                        "prune_scope": "global"},
    "snfs (fixed)": {"grow_score": "momentum"},
    "snfs (redistributed)": {"grow_score": "momentum", "redistribution": "momentum"},
    "chase": {"channel_prune": "umm"},  # half the hidden units removed by 0.8125 of training
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["coil20", "madelon"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--density", type=float, default=0.05)
    parser.add_argument("--hidden", default="1000,1000,1000")
    parser.add_argument("--delta-t", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = {**get_preset("rigl"), "hidden_sizes": args.hidden, "density": args.density,
            "delta_t": args.delta_t}
    runs = [(d, m, s) for d in args.datasets for m in args.methods for s in args.seeds]
    results: dict[tuple[str, str], list] = {}
    for dataset, method, seed in tqdm(runs):
        r = run_config({**base, **METHODS[method]}, dataset, args.epochs, seed)
        results.setdefault((dataset, method), []).append(r)
    print(f"density {args.density}, MLP {args.hidden}, {args.epochs} epochs, dT {args.delta_t}, "
          f"seeds {args.seeds}")
    print("| dataset | method | val acc | test acc | wall s | update s |")
    print("|---|---|---|---|---|---|")
    for (dataset, method), rs in results.items():
        val = [r.val_accuracy for r in rs]
        test = [r.test_accuracy for r in rs]
        print(f"| {dataset} | {method} | {statistics.mean(val):.3f} ± {statistics.stdev(val):.3f}"
              f" | {statistics.mean(test):.3f} ± {statistics.stdev(test):.3f}"
              f" | {statistics.mean(r.wall_time_s for r in rs):.1f}"
              f" | {statistics.mean(r.update_time_s for r in rs):.1f} |")


if __name__ == "__main__":
    main()
