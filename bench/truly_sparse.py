"""The `sparse` and `masked` execution paths against dense training, side by side in one run.

An MLP with 3 hidden layers of 4096 units trains on a real dataset (madelon by default) with
SET's topology updates at each epoch end, at each density, on both paths, each run in a fresh
process (so that its peak memory is its own). Per run:

- epoch s: the median training time of the epochs after the first (the first warms up), each
  from its first step to its last, validation excluded;
- ratio: epoch time over the dense run's;
- state MB: weights, gradients, optimizer state, masks and index buffers at the end;
- state/dense: over the dense run's state, against the target 2 x density;
- peak MB: the run's peak resident memory above what the process held before training.

Targets (DESIGN.md): `sparse` epoch <= 0.5x dense at density 0.05 and <= 0.25x at 0.01; its
training state <= 2 x density x dense plus a constant.

    python bench/truly_sparse.py [--dataset madelon] [--width 4096] [--epochs 3]
    python bench/truly_sparse.py --model lstm --layers 1 --width 1024   # the LSTM gates
    python bench/truly_sparse.py --widths 2048 4096 8192 16384 --densities 0.01 \
        --executions sparse --no-dense     # the sparse path's cost per active weight by width

`s/M active` is the epoch time per million active weights (the topology's, every layer) and
`vs first` its ratio to the first width's row of the same density and execution: the sparse
path's cost per active weight should stay constant across widths (DESIGN.md).
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from metasparse.space import get_preset


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def measure(dataset: str, model: str, layers: int, width: int, density: float, execution: str,
            epochs: int, grow: str) -> dict:
    """One training run in this (fresh) process."""
    from metasparse.data import load_dataset
    from metasparse.train import fit

    data = load_dataset(dataset)
    dense = density >= 1.0
    config = dict(get_preset("set"), model=model, hidden_sizes=",".join([str(width)] * layers),
                  density=density,
                  execution=execution, grow_score=grow, dropout=0.0, batch_size=128,
                  update_every="never" if dense else "epoch")
    stamps: list[float] = []
    epoch_end: list[float] = []
    base_mb = _rss_mb()
    trained = fit(config, data, epochs, seed=0, evaluate_test=False,
                  on_step=lambda step, topology, optimizer: stamps.append(time.perf_counter()),
                  report=lambda epoch, metrics: epoch_end.append(len(stamps)))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base_mb
    starts = [0, *epoch_end[:-1]]
    times = [stamps[end - 1] - stamps[start] for start, end in zip(starts, epoch_end,
                                                                     strict=True)]
    return {"epoch_s": statistics.median(times[1:]), "peak_mb": peak_mb,
            "state_mb": _state_bytes(trained) / 2**20,
            "active": sum(layer.active for layer in trained.topology.layers),
            "val_accuracy": trained.result.val_accuracy}


def _state_bytes(trained) -> int:
    """Bytes of weights, gradients, optimizer state and the topology's masks and indices."""
    model, topology = trained.model, trained.topology
    tensors = [*model.parameters(), *(p.grad for p in model.parameters())]
    tensors += [t for t in model.buffers()]  # the sparse path's CSR indices
    tensors += [v for state in topology.optimizer.state.values() for v in state.values()]
    for layer in topology.layers:  # the masked path's masks (a dense layer's holds no memory)
        mask = getattr(layer, "mask", None)
        if mask is not None and mask.is_contiguous():
            tensors.append(mask)
    return sum(t.nbytes for t in tensors if isinstance(t, torch.Tensor))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="madelon")
    parser.add_argument("--model", default="mlp", choices=["mlp", "lstm"])
    parser.add_argument("--layers", type=int, default=3, help="hidden layers")
    parser.add_argument("--width", type=int, default=4096)
    parser.add_argument("--widths", type=int, nargs="+", help="several widths (default: --width)")
    parser.add_argument("--densities", type=float, nargs="+",
                        default=[0.2, 0.1, 0.05, 0.01, 0.001])
    parser.add_argument("--executions", nargs="+", default=["masked", "sparse"],
                        choices=["masked", "sparse"])
    parser.add_argument("--no-dense", action="store_true",
                        help="skip the dense run (its memory and time at large widths)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--grow", default="random", help="grow score (SET: random)")
    args = parser.parse_args()
    widths = args.widths or [args.width]

    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}; {args.dataset}, "
          f"{args.model} {args.layers}x{'/'.join(map(str, widths))}, "
          f"batch 128, SET updates each epoch (grow {args.grow}), {args.epochs} epochs per run")
    print(f"{'width':>6} {'density':>8} {'execution':<9} {'epoch s':>8} {'ratio':>6} "
          f"{'state MB':>9} {'state/dense':>11} {'2 x density':>11} {'peak MB':>8} "
          f"{'val acc':>7} {'active':>10} {'s/M active':>10} {'vs first':>8}")
    context = multiprocessing.get_context("forkserver")
    first: dict[tuple[float, str], float] = {}
    for width in widths:
        runs = [] if args.no_dense else [(1.0, "masked")]
        runs += [(d, e) for d in args.densities for e in args.executions]
        dense = None
        for density, execution in runs:
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                r = pool.submit(measure, args.dataset, args.model, args.layers, width, density,
                                execution, args.epochs, args.grow).result()
            if density >= 1.0:
                dense = r
            per_m = r["epoch_s"] / r["active"] * 1e6
            key = (density, execution if density < 1 else "dense")
            base = first.setdefault(key, per_m)
            ratio = f"{r['epoch_s'] / dense['epoch_s']:>6.3f}" if dense else f"{'-':>6}"
            state = f"{r['state_mb'] / dense['state_mb']:>11.4f}" if dense else f"{'-':>11}"
            print(f"{width:>6} {density:>8g} {key[1]:<9} {r['epoch_s']:>8.3f} {ratio} "
                  f"{r['state_mb']:>9.1f} {state} {min(1.0, 2 * density):>11.4f} "
                  f"{r['peak_mb']:>8.0f} {r['val_accuracy']:>7.3f} {r['active']:>10,} "
                  f"{per_m:>10.4f} {per_m / base:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
