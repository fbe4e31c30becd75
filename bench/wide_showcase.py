"""A network far too wide to exist densely, trained on this machine by the `sparse` path.

An MLP with 3 hidden layers of 65,536 units (densely 8.6 billion weights: 35 GB for the weights
alone) at density 0.001 trains for a few epochs on a real dataset with SET (random growth,
updates at each epoch end); beside it, for reference, dense MLPs of 3 x 1000 units. Each run is
a fresh process; printed per run: active weights, seconds per epoch (training only), peak
resident memory, and validation and test accuracy.

    python bench/wide_showcase.py [--dataset madelon] [--width 65536] [--density 0.001]
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from metasparse.space import get_preset


def train(dataset: str, width: int, density: float, execution: str, epochs: int,
          seed: int) -> dict:
    from metasparse.train import fit

    config = dict(get_preset("set"), hidden_sizes=",".join([str(width)] * 3), density=density,
                  execution=execution, update_every="never" if density >= 1 else "epoch")
    stamps: list[float] = []
    epoch_end: list[int] = []
    trained = fit(config, dataset, epochs, seed=seed,
                  on_step=lambda step, topology, optimizer: stamps.append(time.perf_counter()),
                  report=lambda epoch, metrics: epoch_end.append(len(stamps)))
    starts = [0, *epoch_end[:-1]]
    epoch_s = [stamps[end - 1] - stamps[start] for start, end in zip(starts, epoch_end,
                                                                      strict=True)]
    r = trained.result
    return {"active": sum(layer.active for layer in trained.topology.layers),
            "dense_weights": trained.topology.total, "epoch_s": epoch_s,
            "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "val_accuracy": r.val_accuracy, "test_accuracy": r.test_accuracy,
            "wall_s": r.wall_time_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="madelon")
    parser.add_argument("--width", type=int, default=65536)
    parser.add_argument("--density", type=float, default=0.001)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}; {args.dataset}, SET, "
          f"{args.epochs} epochs, seed {args.seed}")
    print(f"{'network':<22} {'execution':<9} {'active':>11} {'dense size':>14} "
          f"{'s/epoch':>8} {'peak GB':>8} {'val acc':>7} {'test acc':>8}")
    runs = [(args.width, args.density, "sparse"), (1000, 1.0, "masked"), (1000, 0.1, "masked")]
    context = multiprocessing.get_context("forkserver")
    for width, density, execution in runs:
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            r = pool.submit(train, args.dataset, width, density, execution, args.epochs,
                            args.seed).result()
        later = r["epoch_s"][1:] or r["epoch_s"]
        print(f"{f'3x{width} d={density:g}':<22} {execution:<9} {r['active']:>11,} "
              f"{r['dense_weights']:>14,} {sum(later) / len(later):>8.1f} "
              f"{r['peak_gb']:>8.2f} {r['val_accuracy']:>7.3f} {r['test_accuracy']:>8.3f}",
              flush=True)


if __name__ == "__main__":
    main()
