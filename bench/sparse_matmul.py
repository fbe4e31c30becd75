"""Truly sparse execution against the masked dense path, for one MLP layer, forward + backward.

For each density, times y = x @ W^T and its backward on (a) a dense weight with a mask applied
after the step (what the trainer does) and (b) torch.sparse (CSR weight, torch.sparse.mm), side by
side in one run, and prints the ratio sparse/dense; the crossover is the density below which
the sparse path is faster. CUDA is measured too when available.

    python bench/sparse_matmul.py [--width 4096] [--batch 128]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def _time(fn, device: torch.device, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(width: int, batch: int, density: float, device: torch.device, repeats: int):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, width, generator=gen).to(device)
    mask = (torch.rand(width, width, generator=gen) < density).float().to(device)
    weight = (torch.randn(width, width, generator=gen).to(device) * mask).requires_grad_()
    grad_out = torch.randn(batch, width, generator=gen).to(device)

    def dense_step():
        weight.grad = None
        (x @ weight.t()).backward(grad_out)
        with torch.no_grad():
            weight.mul_(mask)

    sparse_w = weight.detach().to_sparse_coo().coalesce().requires_grad_()

    def sparse_step():
        sparse_w.grad = None
        out = torch.sparse.mm(sparse_w, x.t()).t()
        out.backward(grad_out)

    return _time(dense_step, device, repeats), _time(sparse_step, device, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        print(f"# {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"layer {args.width}x{args.width}, batch {args.batch}")
        print(f"{'density':>8} {'masked ms':>10} {'sparse ms':>10} {'sparse/masked':>14}")
        for density in (0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.001):
            d, s = measure(args.width, args.batch, density, device, args.repeats)
            print(f"{density:>8} {1000 * d:>10.2f} {1000 * s:>10.2f} {s / d:>14.2f}")


if __name__ == "__main__":
    main()
