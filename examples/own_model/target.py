"""A user's own model and training loop, made sparse by `metasparse.sparsify` and tuned by
metasparse as a scenario's `target` (scenario.yaml beside this file).

The model is a small convolutional network written here, not one of metasparse's; the data are
scikit-learn's bundled 8x8 digits (offline); the loop is a plain PyTorch loop with a DataLoader.
metasparse calls `train(config, budget, seed, report)` once per trial and seed: `config` is the
whole configuration (the searched values over the meta-space's defaults), `budget` the epochs,
`report(epoch, metrics)` takes the validation error after every epoch (so that a pruner can stop
a bad trial early). It returns the metrics; metasparse tunes on `val_error` and never records the
test scores while tuning.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn

import metasparse


class SmallConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU(),
                                        nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def digits(seed: int) -> list[torch.utils.data.TensorDataset]:
    """Training, validation and test splits of digits."""
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32).view(-1, 1, 8, 8)
    y = torch.tensor(y)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    return [torch.utils.data.TensorDataset(x[part], y[part])
            for part in (order[:1200], order[1200:1500], order[1500:])]


@torch.no_grad()
def scores(model: nn.Module, split: torch.utils.data.TensorDataset) -> tuple[float, float]:
    """(error, loss) on a split."""
    model.eval()
    x, y = split.tensors
    out = model(x)
    return float((out.argmax(1) != y).float().mean()), float(nn.functional.cross_entropy(out, y))


def train(config: dict, budget: int, seed: int, report=None) -> dict[str, float]:
    torch.manual_seed(seed)
    train_set, val_set, test_set = digits(seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=int(config["batch_size"]),
                                         shuffle=True)
    model = SmallConvNet()
    sparsifier = metasparse.sparsify(model, None, budget * len(loader),
                                     steps_per_epoch=len(loader), seed=seed, **config)
    # the optimizer from the sparsifier's groups: a searched lr_scaling sets per-layer lrs
    optimizer = torch.optim.SGD(sparsifier.param_groups(config["lr"]), lr=config["lr"],
                                momentum=config["momentum"], weight_decay=config["weight_decay"])
    sparsifier.attach(optimizer)
    for epoch in range(1, budget + 1):
        model.train()
        for x, y in loader:
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            sparsifier.step()
            optimizer.zero_grad()
        val_error, val_loss = scores(model, val_set)
        if report is not None:
            report(epoch, {"val_error": val_error})
    # test scores reach only evaluations outside tuning (`metasparse validate`): tuning never
    # records them
    test_error, test_loss = scores(model, test_set)
    return {"val_error": val_error, "val_accuracy": 1.0 - val_error, "val_loss": val_loss,
            "test_accuracy": 1.0 - test_error, "test_loss": test_loss,
            "density": sparsifier.density()}
