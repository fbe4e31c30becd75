"""A CNN trained on the `sparse` path (SparseConv2d: unfold + CSR product) against its dense
version and the `masked` path, side by side in one process.

The project's `cnn` model (3x3 conv -> batch norm -> ReLU -> 2x2 max pool per channel count,
then global average pooling and a linear head) on random CIFAR-shaped batches (3 x 32 x 32,
10 classes). Per run: the median CPU time (`time.process_time`) of one training step (forward,
loss, backward, optimizer step), topology updates excluded (update_every: never), and its ratio
to the dense model's step (target: <= 0.5 at density 0.1). On the CPU it then profiles the dense
step: the share of its convolutions bounds what any sparse convolution can save.

    OMP_NUM_THREADS=1 python bench/sparse_conv.py [--channels 32,64,128] [--batch 64]
        [--densities 0.1,0.05] [--steps 6] [--device cpu]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from torch import nn

from metasparse.models import build_model
from metasparse.space import get_preset, resolve_config
from metasparse.train import OPTIMIZERS, build_topology

IMAGE = (3, 32, 32)


def _setup(channels: str, density: float, execution: str, batch: int, steps: int,
           device: str):
    """A model (density 1.0: the plain dense one), its optimizer and one batch."""
    torch.manual_seed(0)
    config = resolve_config({**get_preset("rigl"), "model": "cnn", "channels": channels,
                             "execution": execution, "density": min(density, 0.99),
                             "distribution": "uniform", "dense_first_layer": False,
                             "dense_last_layer": False, "update_every": "never",
                             "normalization": "batch", "dropout": 0.0})
    n_features = IMAGE[0] * IMAGE[1] * IMAGE[2]
    dense = density >= 1.0
    meta = not dense and execution == "sparse"
    with torch.device("meta" if meta else device):
        model = build_model(config, n_features, 10, IMAGE)
    if dense:
        model.to(device)
        optimizer = OPTIMIZERS[config["optimizer"]](
            [{"params": list(model.parameters()), "lr": config["lr"]}], config)
    else:
        generator = torch.Generator(device=device).manual_seed(0)
        topology = build_topology(config, model, steps, steps, generator)
        if meta:
            from metasparse.models import materialize
            materialize(model, torch.device(device))
        model.to(device)
        optimizer = OPTIMIZERS[config["optimizer"]](
            topology.param_groups(model, config["lr"], config["lr_scaling"]), config)
        topology.attach(optimizer)
    data = torch.Generator(device=device).manual_seed(1)
    x = torch.randn(batch, n_features, generator=data, device=device)
    y = torch.randint(10, (batch,), generator=data, device=device)
    return model, optimizer, x, y


def _step(model, optimizer, x, y) -> None:
    optimizer.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


def step_seconds(channels: str, density: float, execution: str, batch: int, steps: int,
                 device: str = "cpu") -> float:
    """Median seconds of one training step; density 1.0 is the plain dense model."""
    model, optimizer, x, y = _setup(channels, density, execution, batch, steps, device)
    times = []
    for _ in range(steps):
        start = time.process_time() if device == "cpu" else time.perf_counter()
        _step(model, optimizer, x, y)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append((time.process_time() if device == "cpu" else time.perf_counter()) - start)
    return statistics.median(times[1:])


def convolution_share(channels: str, batch: int, steps: int) -> float:
    """The share of the dense model's step (CPU, torch.profiler's self times) spent in its
    convolutions, forward and backward: 1 - share is what a sparse CNN costs at best, relative
    to dense, if its convolutions cost nothing (batch norm, ReLU, pooling, the head and the
    optimizer stay dense)."""
    from torch.profiler import ProfilerActivity, profile

    model, optimizer, x, y = _setup(channels, 1.0, "masked", batch, steps, "cpu")
    _step(model, optimizer, x, y)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            _step(model, optimizer, x, y)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    conv = sum(e.self_cpu_time_total for e in events if "convolution" in e.key)
    return conv / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", default="32,64,128")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--densities", default="0.1,0.05")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), cnn channels {args.channels}, batch "
          f"{args.batch}, input {IMAGE}, device {args.device}")
    dense = step_seconds(args.channels, 1.0, "masked", args.batch, args.steps, args.device)
    print("| path | density | step s | / dense |")
    print("|---|---|---|---|")
    print(f"| dense | 1.0 | {dense:.4f} | 1.00 |", flush=True)
    for density in (float(d) for d in args.densities.split(",")):
        for execution in ("sparse", "masked"):
            s = step_seconds(args.channels, density, execution, args.batch, args.steps,
                             args.device)
            print(f"| {execution} | {density} | {s:.4f} | {s / dense:.2f} |", flush=True)
    if args.device == "cpu":
        share = convolution_share(args.channels, args.batch, args.steps)
        print(f"\nconvolutions (forward and backward): {share:.0%} of the dense step; the rest "
              f"(batch norm, ReLU, pooling, head, optimizer) {1 - share:.2f}x dense is the "
              "floor of a sparse CNN whose convolutions cost nothing")


if __name__ == "__main__":
    main()
