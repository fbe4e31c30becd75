"""What one topology update (RigL's, or another preset's) costs on the `sparse` path, in sparse
training steps.

An MLP `width -> width -> width -> 10` (two width x width layers and a small head, every
layer sparse at `density`, uniform distribution) trains on random data with the rigl preset on
the `sparse` execution path. In one process, side by side, per (width, density):

- step s: the median CPU time of one training step (forward, loss, backward, optimizer step);
- update s: the median CPU time of one topology update (`Topology.update`: prune and grow every
  layer, RigL's growth scoring every inactive position by the dense gradient of the update
  step's batch), the update step's own forward and backward pass excluded;
- ratio: update s / step s, the update's cost in training steps (target: <= 10).

CPU time (`time.process_time`), so that other processes on a loaded machine count less; run
with OMP_NUM_THREADS=1 for one core.

    OMP_NUM_THREADS=1 python bench/update_cost.py [--widths 1024,4096,16384]
        [--densities 0.01,0.05] [--batch 128] [--repeats 3] [--grow gradient]
        [--block-elements 4194304,262144] [--presets rigl,srigl,chase]

`--presets` measures other algorithms' updates with the same network and settings: srigl
(constant fan-in and neuron ablation), chase (RigL's growth after removing the lowest-UMM units
at every update); each keeps its own zeta.

`--block-elements` lists sizes of the dense row blocks that growth scores at once (the
topology's `block_elements`, default metasparse.sparse.csr.BLOCK_ELEMENTS); each is measured in
turn, side by side, for every (width, density).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from torch import nn

from metasparse.space import get_preset, resolve_config
from metasparse.sparse.csr import BLOCK_ELEMENTS
from metasparse.train import OPTIMIZERS, build_topology


def _model(width: int, classes: int = 10) -> nn.Module:
    return nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, classes))


def measure(width: int, density: float, batch: int, repeats: int, grow: str,
            device: str = "cpu", block_elements: int | None = None,
            preset: str = "rigl") -> dict[str, float]:
    """Median seconds of a training step and of a topology update, in this process (CPU time
    on the CPU, wall time after a synchronisation on CUDA)."""
    torch.manual_seed(0)
    config = resolve_config({**get_preset(preset), "execution": "sparse", "density": density,
                             "distribution": "uniform", "dense_first_layer": False,
                             "dense_last_layer": False, "update_every": "steps",
                             "delta_t": 2, "grow_score": grow, "lr": 0.01})
    with torch.device("meta"):
        model = _model(width)
    generator = torch.Generator(device=device).manual_seed(0)
    total = 4 * (repeats + 2)
    topology = build_topology(config, model, total, total, generator)
    if block_elements is not None:
        topology.block_elements = block_elements
    model.to(device)
    optimizer = OPTIMIZERS[config["optimizer"]](
        topology.param_groups(model, config["lr"], config["lr_scaling"]), config)
    topology.attach(optimizer)
    data = torch.Generator(device=device).manual_seed(1)
    x = torch.randn(batch, width, generator=data, device=device)
    y = torch.randint(10, (batch,), generator=data, device=device)
    criterion = nn.CrossEntropyLoss()
    steps: list[float] = []
    updates: list[float] = []
    clock = time.process_time if device == "cpu" else time.perf_counter
    for step in range(1, total + 1):
        start = clock()
        with topology.observe(step):
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(x), y)
            loss.backward()
        optimizer.step()
        _sync(device)
        if not topology._is_update(step):
            steps.append(clock() - start)
            continue
        start = clock()
        topology.update(step)
        _sync(device)
        updates.append(clock() - start)
    step_s = statistics.median(steps[2:])
    update_s = statistics.median(updates[1:] if len(updates) > 2 else updates)
    return {"step_s": step_s, "update_s": update_s, "ratio": update_s / step_s}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="1024,4096,16384")
    parser.add_argument("--densities", default="0.01,0.05")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--grow", default="gradient")
    parser.add_argument("--block-elements", default=str(BLOCK_ELEMENTS))
    parser.add_argument("--presets", default="rigl", help="comma-separated preset names")
    args = parser.parse_args()
    blocks = [int(b) for b in args.block_elements.split(",")]
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), batch {args.batch}, grow {args.grow}")
    print("| width | density | preset | block elements | step s | update s | update / step |")
    print("|---|---|---|---|---|---|---|")
    for width in (int(w) for w in args.widths.split(",")):
        for density in (float(d) for d in args.densities.split(",")):
            for preset in args.presets.split(","):
                for block in blocks:
                    r = measure(width, density, args.batch, args.repeats, args.grow,
                                block_elements=block, preset=preset)
                    print(f"| {width} | {density} | {preset} | {block} | {r['step_s']:.4f} | "
                          f"{r['update_s']:.4f} | {r['ratio']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
