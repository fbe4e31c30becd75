"""One training run of one configuration: `run_config(config, dataset, epochs, seed)`.

A plain PyTorch loop over in-memory tensors, made sparse by the same public `Sparsifier` that
users put in their own loops (`metasparse.sparsify`): its `step()` after every optimizer step
re-applies the masks and runs the prune/grow update when scheduled.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from metasparse._registry import Registry
from metasparse.data import Dataset, crop_flip, load_dataset, scale_inputs
from metasparse.models import VISION_MODELS, build_model, materialize
from metasparse.space import resolve_config
from metasparse.sparse import DECAYS, Topology, fitting_dense_layers
from metasparse.sparsifier import Sparsifier, build_topology, find_layers, target_density
from metasparse.tasks import Task, make_task

__all__ = [
    "OPTIMIZERS", "Trained", "TrialResult", "build_topology", "evaluate", "fit", "run_config",
]

OPTIMIZERS: Registry = Registry("optimizer")
LR_SCHEDULES: Registry = Registry("lr_schedule")
EVAL_BATCH = 2048

Reporter = Callable[[int, dict[str, float]], None]
StepHook = Callable[[int, Topology, torch.optim.Optimizer], None]


@OPTIMIZERS.register("sgd")
def _sgd(params, c: Mapping[str, Any]) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=c["lr"], momentum=c["momentum"], nesterov=c["nesterov"],
                           weight_decay=c["weight_decay"])


@OPTIMIZERS.register("adam")
def _adam(params, c: Mapping[str, Any]) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=c["lr"], weight_decay=c["weight_decay"])


@OPTIMIZERS.register("adamw")
def _adamw(params, c: Mapping[str, Any]) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=c["lr"], weight_decay=c["weight_decay"])


# the learning rate decays like zeta does: the same constant and cosine curves
LR_SCHEDULES.register("constant")(DECAYS["constant"])
LR_SCHEDULES.register("cosine")(DECAYS["cosine"])


@LR_SCHEDULES.register("step")
def _step_lr(progress: float) -> float:
    """x0.1 at half and at three quarters of training."""
    return 0.1 ** ((progress >= 0.5) + (progress >= 0.75))


@dataclass
class TrialResult:
    """What one run reports (accuracies in [0, 1], FLOPs as counts)."""

    status: str  # "success" or "diverged"
    val_accuracy: float
    val_error: float
    val_loss: float
    test_accuracy: float | None
    test_loss: float | None
    density: float
    target_density: float
    layer_densities: dict[str, float]
    train_flops: float
    inference_flops: float
    wall_time_s: float
    topology_updates: int
    connections_moved: int
    update_time_s: float
    val_curve: list[float] = field(default_factory=list)
    epochs: int = 0
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Trained:
    """A trained network with its masks, the (scaled) data it saw and its result."""

    model: nn.Module
    topology: Topology
    data: Dataset
    result: TrialResult
    config: dict[str, Any]


def run_config(config: Mapping[str, Any], dataset: str | Dataset, epochs: int, seed: int = 0,
               **options: Any) -> TrialResult:
    """Train one configuration and return its result; `options` are those of `fit`."""
    return fit(config, dataset, epochs, seed, **options).result


def fit(
    config: Mapping[str, Any],
    dataset: str | Dataset,
    epochs: int,
    seed: int = 0,
    *,
    report: Reporter | None = None,
    device: str | torch.device | None = None,
    data_dir: str | None = None,
    evaluate_test: bool = True,
    on_step: StepHook | None = None,
    fit_dense_layers: bool = False,
) -> Trained:
    """Train one configuration; errors in the configuration raise, divergence is a result.

    Returns the trained model, its topology, the scaled data and the TrialResult.
    `report(epoch, metrics)` gets the validation metrics after every epoch (what it raises, such
    as a pruner's stop signal, propagates). `on_step(step, topology, optimizer)` runs after
    every optimizer step and topology update, for tests and studies that inspect the masks.
    `fit_dense_layers` keeps a dense first or last layer only where it fits the density's
    budget on this dataset (`fitting_dense_layers`), as searches do; otherwise one that does
    not fit is a ConfigError.
    """
    c = resolve_config(config)
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"The 'epochs' parameter must be a positive integer; got {epochs!r}")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    data = dataset if isinstance(dataset, Dataset) else load_dataset(dataset, data_dir=data_dir)
    data = scale_inputs(data, c["input_scaling"])
    start = time.perf_counter()

    torch.manual_seed(seed)
    generator = torch.Generator(device=device).manual_seed(seed)  # batches
    # the topology's own stream: its draws differ in number between execution paths, so
    # batches and dropout must not share it (both paths then see the same ones)
    topology_generator = torch.Generator(device=device).manual_seed(seed + 1)
    # the sparse path builds on the meta device: its sparsified layers never exist densely
    sparse = c["execution"] == "sparse"
    task = make_task(c)
    with torch.device("meta") if sparse else contextlib.nullcontext():
        model = build_model(c, data.n_features, task.n_outputs(data.n_features, data.n_classes),
                            data.image_shape)
    model = model if sparse else model.to(device)
    x_train, y_train = data.X_train.to(device), data.y_train.to(device)
    batch_size = min(int(c["batch_size"]), len(x_train))
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    total_steps = epochs * steps_per_epoch
    layers = find_layers(model)
    if fit_dense_layers:
        first, last = fitting_dense_layers(
            [tuple(w.shape) for _, w in layers], target_density(c, layers),
            c["dense_first_layer"], c["dense_last_layer"])
        c = {**c, "dense_first_layer": first, "dense_last_layer": last}
    sparsifier = Sparsifier(model, None, c, total_steps, layers=layers,
                            steps_per_epoch=steps_per_epoch, generator=topology_generator)
    topology = sparsifier.topology
    if sparse:
        materialize(model, device)
    torch.manual_seed(seed)  # dropout's stream, whatever building the model drew
    optimizer = OPTIMIZERS[c["optimizer"]](sparsifier.param_groups(c["lr"]), c)
    lr_factor = LR_SCHEDULES[c["lr_schedule"]]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s / total_steps))
    sparsifier.attach(optimizer)
    topology.measure_uses(model, x_train[:batch_size])
    # the CIFAR networks train with the literature's standard augmentation
    augment = c["model"] in VISION_MODELS and data.image_shape is not None

    train_flops, val_curve = 0.0, []
    val_loss, val_acc, status, error = math.inf, 0.0, "success", ""
    for epoch in range(1, epochs + 1):
        model.train()
        loss_sum = torch.zeros((), device=device)
        for xb, yb in _batches(x_train, y_train, batch_size, generator):
            optimizer.zero_grad(set_to_none=True)
            if augment:
                xb = crop_flip(xb, data.image_shape, generator)
            xb, target = task.batch(xb, yb, generator)
            loss = task.loss(model(xb), target)
            loss.backward()
            optimizer.step()
            scheduler.step()
            sparsifier.step()
            if on_step is not None:
                on_step(sparsifier.steps, topology, optimizer)
            loss_sum += loss.detach()
            train_flops += 3.0 * len(xb) * topology.forward_flops_per_sample()
        if not torch.isfinite(loss_sum):
            status, error = "diverged", f"training loss is not finite in epoch {epoch}"
            break
        val_loss, val_acc = evaluate(model, data.X_val, data.y_val, task, device)
        if not math.isfinite(val_acc):  # an autoencoder's R² of a reconstruction gone wild
            status, error = "diverged", f"validation score is not finite in epoch {epoch}"
            break
        val_curve.append(val_acc)
        if report is not None:
            report(epoch, {"val_error": 1.0 - val_acc, "val_accuracy": val_acc,
                           "val_loss": val_loss})

    test_loss = test_acc = None
    if evaluate_test and status == "success":
        test_loss, test_acc = evaluate(model, data.X_test, data.y_test, task, device)
    result = TrialResult(
        status=status, val_accuracy=val_acc, val_error=1.0 - val_acc, val_loss=val_loss,
        test_accuracy=test_acc, test_loss=test_loss, density=topology.density(),
        target_density=topology.sparsity.density, layer_densities=topology.layer_densities(),
        train_flops=train_flops, inference_flops=topology.forward_flops_per_sample(),
        wall_time_s=time.perf_counter() - start, topology_updates=topology.stats.updates,
        connections_moved=topology.stats.moved, update_time_s=topology.stats.seconds,
        val_curve=val_curve, epochs=len(val_curve), error=error,
    )
    sparsifier.close()
    return Trained(model, topology, data, result, c)


def _batches(x: torch.Tensor, y: torch.Tensor, batch_size: int,
             generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled mini-batches of in-memory tensors (no DataLoader: no per-batch overhead)."""
    order = torch.randperm(len(x), generator=generator, device=generator.device)
    for i in range(0, len(x), batch_size):
        idx = order[i:i + batch_size]
        yield x[idx], y[idx]


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, task: Task,
             device: torch.device) -> tuple[float, float]:
    """(mean loss, score) on a split: the score is the task's (the accuracy of a classifier);
    the model's train/eval mode is left as it was."""
    was_training = model.training
    model.eval()
    loss, score = task.evaluate(model, x, y, EVAL_BATCH, device)
    model.train(was_training)
    return (loss if math.isfinite(loss) else math.inf), score
