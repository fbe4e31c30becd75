"""What the network learns (the `task` axis): the classes, or its own input.

`classifier` maps inputs to class logits under cross-entropy. `autoencoder` is a denoising
autoencoder (QuickSelection's): the input, corrupted by Gaussian noise of standard deviation
`denoise_noise`, is mapped back to the clean input under the squared error, so its input layer
learns which features the others cannot stand in for, with no labels at all.

A task scores a split by a `score` in which higher is better: the accuracy of a classifier, and
the R² of an autoencoder's reconstruction (1 - its squared error / the split's variance about
its mean). The trainer reports it as `val_accuracy`, and 1 - it as `val_error`, for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import torch
from torch import nn

from metasparse._registry import Registry
from metasparse.errors import ConfigError

__all__ = ["TASKS", "Task", "make_task"]


class Task(Protocol):
    def n_outputs(self, n_features: int, n_classes: int) -> int: ...

    def batch(self, x: torch.Tensor, y: torch.Tensor,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(network input, target) of a training batch."""

    def loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...

    def evaluate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int,
                 device: torch.device) -> tuple[float, float]:
        """(mean loss, score) on a split."""


TASKS: Registry[type] = Registry("task")


@TASKS.register("classifier")
class Classifier:
    def __init__(self, config: Mapping[str, Any]) -> None:
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config["label_smoothing"])

    def n_outputs(self, n_features: int, n_classes: int) -> int:
        return n_classes

    def batch(self, x, y, generator):
        return x, y

    def loss(self, out, target):
        return self.criterion(out, target)

    @torch.no_grad()
    def evaluate(self, model, x, y, batch, device):
        loss_sum, correct = 0.0, 0
        for i in range(0, len(x), batch):
            xb, yb = x[i:i + batch].to(device), y[i:i + batch].to(device)
            out = model(xb)
            loss_sum += float(self.criterion(out, yb)) * len(xb)
            correct += int((out.argmax(dim=1) == yb).sum())
        return loss_sum / len(x), correct / len(x)


@TASKS.register("autoencoder")
class DenoisingAutoencoder:
    def __init__(self, config: Mapping[str, Any]) -> None:
        if config["model"] != "mlp":
            raise ConfigError("The 'task' autoencoder needs the 'model' mlp (its output is its "
                              f"flat input); got {config['model']!r}")
        self.noise = float(config["denoise_noise"])

    def n_outputs(self, n_features: int, n_classes: int) -> int:
        return n_features

    def batch(self, x, y, generator):
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + self.noise * noise, x

    def loss(self, out, target):
        # squared error summed over the features, averaged over the batch (QuickSelection's
        # scale: a per-element mean would shrink every gradient by the number of features)
        return nn.functional.mse_loss(out, target, reduction="sum") / len(out)

    @torch.no_grad()
    def evaluate(self, model, x, y, batch, device):
        squared, total = 0.0, 0.0
        mean = x.mean(dim=0)
        for i in range(0, len(x), batch):
            xb = x[i:i + batch].to(device)
            squared += float(((model(xb) - xb) ** 2).sum())
            total += float(((xb - mean.to(device)) ** 2).sum())
        loss = squared / len(x)  # the training loss's scale: summed over features
        return loss, 1.0 - squared / total if total > 0 else 0.0


def make_task(config: Mapping[str, Any]) -> Task:
    """The task that `config['task']` names, built from the configuration."""
    return TASKS[config["task"]](config)
