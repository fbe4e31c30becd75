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
from metasparse.errors import ConfigError
from metasparse.models import VISION_MODELS, build_model, materialize
from metasparse.space import resolve_config
from metasparse.sparse import DECAYS, EXECUTIONS, Topology, fitting_dense_layers
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
    not fit is a ConfigError. The sparsifier is closed (its hooks removed) however fit ends.
    A configuration with an `input_evolution` is a ConfigError here: it trains through
    `metasparse.features.fit_evolving`, which adds the evolution's step hook.
    """
    c = resolve_config(config)
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"The 'epochs' parameter must be a positive integer; got {epochs!r}")
    evolution = c["input_evolution"]
    if evolution != "none" and getattr(on_step, "input_evolution", None) != evolution:
        raise ConfigError(f"input_evolution={evolution!r} runs as a step hook that "
                          "metasparse.features.fit_evolving adds (`metasparse select-features`); "
                          "fit alone would train without it")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    data = dataset if isinstance(dataset, Dataset) else load_dataset(dataset, data_dir=data_dir)
    data = scale_inputs(data, c["input_scaling"])
    start = time.perf_counter()
    run = _build(c, data, epochs, seed, device, fit_dense_layers)
    try:
        _start(run, seed)
        progress = _Progress()
        for epoch in range(1, epochs + 1):
            if not (_train_epoch(run, progress, epoch, on_step)
                    and _validate(run, progress, epoch)):
                break
            if report is not None:
                report(epoch, {"val_error": 1.0 - progress.val_accuracy,
                               "val_accuracy": progress.val_accuracy,
                               "val_loss": progress.val_loss})
        result = _result(run, progress, evaluate_test, start)
    finally:
        run.sparsifier.close()
    return Trained(run.model, run.sparsifier.topology, data, result, run.config)


@dataclass
class _Run:
    """What one training works with: `_build` makes it, `_start` adds the optimizer."""

    config: dict[str, Any]
    data: Dataset
    task: Task
    model: nn.Module
    sparsifier: Sparsifier
    device: torch.device
    x_train: torch.Tensor
    y_train: torch.Tensor
    batch_size: int
    total_steps: int
    batches: torch.Generator  # the stream of the batches, their augmentation and noise
    optimizer: torch.optim.Optimizer | None = None
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None


@dataclass
class _Progress:
    """What the epochs so far measured."""

    train_flops: float = 0.0
    val_loss: float = math.inf
    val_accuracy: float = 0.0
    val_curve: list[float] = field(default_factory=list)
    status: str = "success"  # or "diverged", with the reason in `error`
    error: str = ""

    def diverged(self, why: str) -> bool:
        """Mark the run diverged; False, to stop it."""
        self.status, self.error = "diverged", why
        return False


def _build(c: dict[str, Any], data: Dataset, epochs: int, seed: int, device: torch.device,
           fit_dense_layers: bool) -> _Run:
    """The model, the training data on `device` and the sparsifier (made last: nothing here
    needs closing if an earlier step raises)."""
    torch.manual_seed(seed)
    batches = torch.Generator(device=device).manual_seed(seed)
    # the topology's own stream: its draws differ in number between execution paths, so
    # batches and dropout must not share it (both paths then see the same ones)
    topology_generator = torch.Generator(device=device).manual_seed(seed + 1)
    # a path that replaces the sparsified layers builds on the meta device: they never exist
    # densely
    on_meta = EXECUTIONS[c["execution"]].replaces_weights
    task = make_task(c)
    with torch.device("meta") if on_meta else contextlib.nullcontext():
        model = build_model(c, data.n_features, task.n_outputs(data.n_features, data.n_classes),
                            data.image_shape)
    model = model if on_meta else model.to(device)
    x_train, y_train = data.X_train.to(device), data.y_train.to(device)
    batch_size = min(int(c["batch_size"]), len(x_train))
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    layers = find_layers(model)
    if fit_dense_layers:
        first, last = fitting_dense_layers(
            [tuple(w.shape) for _, w in layers], target_density(c, layers),
            c["dense_first_layer"], c["dense_last_layer"])
        c = {**c, "dense_first_layer": first, "dense_last_layer": last}
    sparsifier = Sparsifier(model, None, c, epochs * steps_per_epoch, layers=layers,
                            steps_per_epoch=steps_per_epoch, generator=topology_generator)
    return _Run(c, data, task, model, sparsifier, device, x_train, y_train, batch_size,
                epochs * steps_per_epoch, batches)


def _start(run: _Run, seed: int) -> None:
    """Make the layers built on the meta device real, then the optimizer and its learning-rate
    schedule, followed by the sparsifier; count how often each weight is used per sample."""
    c = run.config
    if EXECUTIONS[c["execution"]].replaces_weights:
        materialize(run.model, run.device)
    torch.manual_seed(seed)  # dropout's stream, whatever building the model drew
    run.optimizer = OPTIMIZERS[c["optimizer"]](run.sparsifier.param_groups(c["lr"]), c)
    lr_factor = LR_SCHEDULES[c["lr_schedule"]]
    run.scheduler = torch.optim.lr_scheduler.LambdaLR(
        run.optimizer, lambda s: lr_factor(s / run.total_steps))
    run.sparsifier.attach(run.optimizer)
    run.sparsifier.topology.measure_uses(run.model, run.x_train[:run.batch_size])


def _train_epoch(run: _Run, progress: _Progress, epoch: int, on_step: StepHook | None) -> bool:
    """One pass over the training data; False (and the run diverged) if its loss is not
    finite."""
    model, task, sparsifier, optimizer = run.model, run.task, run.sparsifier, run.optimizer
    topology, image_shape = sparsifier.topology, run.data.image_shape
    # the CIFAR networks train with the literature's standard augmentation
    augment = run.config["model"] in VISION_MODELS and image_shape is not None
    model.train()
    loss_sum = torch.zeros((), device=run.device)
    for xb, yb in _batches(run.x_train, run.y_train, run.batch_size, run.batches):
        optimizer.zero_grad(set_to_none=True)
        if augment:
            xb = crop_flip(xb, image_shape, run.batches)
        xb, target = task.batch(xb, yb, run.batches)
        loss = task.loss(model(xb), target)
        loss.backward()
        optimizer.step()
        run.scheduler.step()
        sparsifier.step()
        if on_step is not None:
            on_step(sparsifier.steps, topology, optimizer)
        loss_sum += loss.detach()
        progress.train_flops += 3.0 * len(xb) * topology.forward_flops_per_sample()
    if not torch.isfinite(loss_sum):
        return progress.diverged(f"training loss is not finite in epoch {epoch}")
    return True


def _validate(run: _Run, progress: _Progress, epoch: int) -> bool:
    """The validation loss and score after an epoch; False (and the run diverged) if the score
    is not finite (an autoencoder's R² of a reconstruction gone wild)."""
    progress.val_loss, progress.val_accuracy = evaluate(run.model, run.data.X_val,
                                                        run.data.y_val, run.task, run.device)
    if not math.isfinite(progress.val_accuracy):
        return progress.diverged(f"validation score is not finite in epoch {epoch}")
    progress.val_curve.append(progress.val_accuracy)
    return True


def _result(run: _Run, progress: _Progress, evaluate_test: bool, start: float) -> TrialResult:
    """The TrialResult of the run, with the test split's score if asked (and not diverged)."""
    test_loss = test_acc = None
    if evaluate_test and progress.status == "success":
        test_loss, test_acc = evaluate(run.model, run.data.X_test, run.data.y_test, run.task,
                                       run.device)
    topology = run.sparsifier.topology
    return TrialResult(
        status=progress.status, val_accuracy=progress.val_accuracy,
        val_error=1.0 - progress.val_accuracy, val_loss=progress.val_loss,
        test_accuracy=test_acc, test_loss=test_loss, density=topology.density(),
        target_density=topology.sparsity.density, layer_densities=topology.layer_densities(),
        train_flops=progress.train_flops, inference_flops=topology.forward_flops_per_sample(),
        wall_time_s=time.perf_counter() - start, topology_updates=topology.stats.updates,
        connections_moved=topology.stats.moved, update_time_s=topology.stats.seconds,
        val_curve=progress.val_curve, epochs=len(progress.val_curve), error=progress.error,
    )


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
