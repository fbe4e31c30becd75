"""Both execution paths on one device in a few minutes: equivalence first, then timings.

1. Equivalence: RigL and SET train an MLP (64,64 and 512,512: the latter wide enough for
   RigL's growth by threshold) and a CNN (16,32 channels) on digits, on the `masked` and the
   `sparse` path; the masks must be equal at every update and the validation accuracies within
   0.005 (what tests/sparse/test_execution_equivalence.py checks on the CPU).
2. Timings: one RigL update against one sparse training step (bench/update_cost.py) and a CNN
   step on each path against the dense model's (bench/sparse_conv.py).

Exits 1 if an equivalence check fails.

    python bench/gpu_check.py                      # cuda
    python bench/gpu_check.py --device cpu --quick # the CPU fallback, about a minute
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sparse_conv
import update_cost

from metasparse.space import get_preset
from metasparse.train import run_config

CASES = [
    ("rigl", {"hidden_sizes": "64,64"}),
    ("set", {"hidden_sizes": "64,64"}),
    ("rigl", {"hidden_sizes": "512,512"}),
    ("rigl", {"model": "cnn", "channels": "16,32", "optimizer": "adam", "lr": 0.01,
              "density": 0.3}),
    ("set", {"model": "cnn", "channels": "16,32", "optimizer": "adam", "lr": 0.01,
             "density": 0.3}),
]


def _pattern(layer) -> torch.Tensor:
    """A layer's mask as a flat bool tensor on the CPU, on either path."""
    if hasattr(layer, "linear"):
        return layer.linear.layout.to_dense(
            torch.ones(layer.active, device=layer.linear.values.device)).bool().cpu().flatten()
    return layer.mask.detach().bool().cpu().flatten()


def train(preset: str, execution: str, device: str, **model) -> tuple[float, list]:
    """Validation accuracy and the masks after every update of a 2-epoch digits run."""
    config = {**get_preset(preset), "hidden_sizes": "64,64", "execution": execution,
              "delta_t": 10, "batch_size": 32, "dropout": 0.0, **model}
    masks: list[list[torch.Tensor]] = []

    def record(step, topology, optimizer) -> None:
        if topology.stats.updates > len(masks):
            masks.append([_pattern(layer) for layer in topology.layers])

    result = run_config(config, "digits", epochs=2, seed=3, on_step=record, device=device)
    return result.val_accuracy, masks


def equivalence(device: str) -> bool:
    ok = True
    for preset, model in CASES:
        masked_accuracy, masked_masks = train(preset, "masked", device, **model)
        sparse_accuracy, sparse_masks = train(preset, "sparse", device, **model)
        same = len(masked_masks) == len(sparse_masks) > 0 and all(
            torch.equal(a, b) for ours, theirs in zip(sparse_masks, masked_masks, strict=True)
            for a, b in zip(ours, theirs, strict=True))
        close = abs(masked_accuracy - sparse_accuracy) <= 0.005
        ok &= same and close
        print(f"| {preset} | {model} | {len(masked_masks)} | {same} | {masked_accuracy:.4f} | "
              f"{sparse_accuracy:.4f} |", flush=True)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="small widths only")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --device cpu for the CPU fallback")
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"# {name}, torch {torch.__version__}")
    start = time.perf_counter()
    print("| preset | model | updates | same masks | masked acc | sparse acc |")
    print("|---|---|---|---|---|---|")
    ok = equivalence(args.device)
    widths = [1024] if args.quick else [1024, 4096, 16384]
    print("\n| width | density | step s | update s | update / step |")
    print("|---|---|---|---|---|")
    for width in widths:
        for density in (0.01, 0.05):
            r = update_cost.measure(width, density, 128, 2, "gradient", args.device)
            print(f"| {width} | {density} | {r['step_s']:.4f} | {r['update_s']:.4f} | "
                  f"{r['ratio']:.1f} |", flush=True)
    channels = "8,16" if args.quick else "32,64,128"
    dense = sparse_conv.step_seconds(channels, 1.0, "masked", 64, 4, args.device)
    print(f"\n| cnn {channels} | density | step s | / dense |\n|---|---|---|---|\n"
          f"| dense | 1.0 | {dense:.4f} | 1.00 |")
    for execution in ("sparse", "masked"):
        s = sparse_conv.step_seconds(channels, 0.1, execution, 64, 4, args.device)
        print(f"| {execution} | 0.1 | {s:.4f} | {s / dense:.2f} |", flush=True)
    print(f"\n# {time.perf_counter() - start:.0f} s; equivalence {'ok' if ok else 'FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
