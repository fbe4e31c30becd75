"""Masked DST against dense training over MLP widths, densities and grow scores, in one run.

For each width, a dense run and one DST run per (density, grow score) train the same MLP
(1024 inputs, 3 hidden layers of that width, 20 classes, batch 128) with the real trainer loop
for a few dozen steps, each in a fresh process so that its peak memory can be read. Per run:

- ms/step: median time between optimizer steps (the first steps are warm-up and left out);
- mask ms: the per-step re-masking (`after_step` on steps without an update);
- ms/update: one prune/grow update (zeta 0.3 constant, the largest update of a RigL run);
- upd/step: one update against one dense-equivalent step (dst_step - mask);
- ratio@dT: DST epoch time over dense epoch time with updates every `--dt` steps, computed as
  (dT * dst_step + update) / (dT * dense_step) from the measured times;
- ratio(own): the same from the DST run alone, 1 + (mask + update / dT) / (dst_step - mask):
  forward, backward and optimizer step are the same dense operations on both sides (the masks
  live in the weights), so a DST step less its masking is a dense step; this keeps the noise
  between two processes on a shared machine out of the ratio (the dense row cross-checks it);
- update %: the share of DST training time spent in updates at dT;
- state MB: weights, gradients, optimizer state and masks (a dense layer holds no mask);
- peak MB: the run's peak resident memory above what it held before building the model
  (the state, activations, and the allocator's and thread pools' own memory).

Timing does not depend on the data's values: inputs are Gaussian with labels from a random
linear teacher. bench/trainer_overhead.py times whole epochs at one width as a cross-check.

    python bench/trainer_sweep.py [--widths 256 1024 4096] [--densities 0.5 0.1 0.01]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import platform
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from metasparse.space import get_preset
from metasparse.sparse import GROW_SCORES

BATCH = 128


def _rss_mb() -> float:
    """Current resident memory (Linux /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(width: int, density: float, grow: str, steps: int, delta_t: int) -> dict:
    """One training run in this (fresh) process; returns its timings and peak memory."""
    from trainer_overhead import synthetic

    from metasparse.train import fit

    data = synthetic(BATCH * steps + 200, 1024, 20)
    dense = density >= 1.0
    config = dict(get_preset("rigl"), hidden_sizes=",".join([str(width)] * 3), batch_size=BATCH,
                  dropout=0.0, delta_t=delta_t, zeta=0.3, zeta_decay="constant", t_end=1.0,
                  density=density, grow_score=grow, dense_first_layer=False,
                  dense_last_layer=False, update_every="never" if dense else "steps")
    stamps: list[float] = []
    after: list[tuple[float, bool]] = []  # (seconds in after_step, whether it updated)

    def on_step(step, topology, optimizer) -> None:
        stamps.append(time.perf_counter())
        if step == 1:  # time the real per-step hook of the loop from now on
            inner = topology.after_step

            def timed(s: int) -> None:
                before, start = topology.stats.updates, time.perf_counter()
                inner(s)
                after.append((time.perf_counter() - start, topology.stats.updates > before))

            topology.after_step = timed

    base_mb = _rss_mb()
    trained = fit(config, data, 1, seed=0, evaluate_test=False, on_step=on_step)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base_mb
    result, topology = trained.result, trained.topology
    # the interval ending at step s+1 contains after_step(s+1), the s-th entry of `after`
    steps = [(b - a, updated) for (a, b), (_, updated)
             in zip(itertools.pairwise(stamps), after, strict=True)]
    plain = [s for s, updated in steps if not updated][2:]
    mask = [s for s, updated in after if not updated][2:]
    return {"step_s": statistics.median(plain),
            "mask_s": statistics.median(mask) if mask else 0.0,
            "update_s": result.update_time_s / max(result.topology_updates, 1),
            "updates": result.topology_updates, "peak_mb": peak_mb,
            "state_mb": _state_bytes(trained.model, topology) / 2**20}


def _state_bytes(model, topology) -> int:
    """Bytes of the training state: weights, gradients, optimizer state and masks."""
    tensors = [*model.parameters(), *(p.grad for p in model.parameters())]
    tensors += [v for state in topology.optimizer.state.values() for v in state.values()]
    # a dense layer's mask is a view of a single 1 (stride 0) and holds no memory
    tensors += [t for la in topology.layers for t in (la.mask, la.ever_active)
                if t is not None and t.is_contiguous()]
    return sum(t.nbytes for t in tensors if isinstance(t, torch.Tensor))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--densities", type=float, nargs="+", default=[0.5, 0.1, 0.01])
    parser.add_argument("--grow", nargs="+", default=GROW_SCORES.names(),
                        choices=GROW_SCORES.names())
    parser.add_argument("--steps", type=int, default=40, help="training steps per run")
    parser.add_argument("--delta-t", type=int, default=10,
                        help="steps between updates within a run (more updates to time)")
    parser.add_argument("--dt", type=int, default=100,
                        help="the update period the ratios are reported for")
    args = parser.parse_args()

    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}; MLP 1024-3xWIDTH-20, batch {BATCH}, "
          f"{args.steps} steps per run, ratios for dT={args.dt}")
    print(f"{'width':>5} {'density':>7} {'grow':<8} {'ms/step':>8} {'mask ms':>7} "
          f"{'ms/update':>9} {'upd/step':>8} {'ratio@dT':>8} {'ratio(own)':>10} "
          f"{'update %':>8} {'state MB':>8} {'peak MB':>8} {'peak ratio':>10}")
    context = multiprocessing.get_context("forkserver")
    dt = args.dt
    for width in args.widths:
        runs = [(1.0, "random")] + [(d, g) for d in args.densities for g in args.grow]
        dense = None
        for density, grow in runs:
            # a fresh process per run: peak memory is per run, and no run inherits another's heap
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                r = pool.submit(measure, width, density, grow, args.steps, args.delta_t).result()
            if dense is None:
                dense = r
                print(f"{width:>5} {'1':>7} {'dense':<8} {1000 * r['step_s']:>8.2f} "
                      f"{'':>7} {'':>9} {'':>8} {'':>8} {'':>10} {'':>8} "
                      f"{r['state_mb']:>8.1f} {r['peak_mb']:>8.0f}", flush=True)
                continue
            d_step = dense["step_s"]
            ratio = (dt * r["step_s"] + r["update_s"]) / (dt * d_step)
            own_step = r["step_s"] - r["mask_s"]  # the dense-equivalent step of this run
            ratio_own = 1 + (r["mask_s"] + r["update_s"] / dt) / own_step
            share = r["update_s"] / (dt * r["step_s"] + r["update_s"])
            print(f"{width:>5} {density:>7g} {grow:<8} {1000 * r['step_s']:>8.2f} "
                  f"{1000 * r['mask_s']:>7.2f} {1000 * r['update_s']:>9.1f} "
                  f"{r['update_s'] / own_step:>8.2f} {ratio:>8.3f} {ratio_own:>10.3f} "
                  f"{100 * share:>7.2f}% {r['state_mb']:>8.1f} {r['peak_mb']:>8.0f} "
                  f"{r['peak_mb'] / dense['peak_mb']:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
