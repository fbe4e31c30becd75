"""A user's own model and training loop, made sparse by `metasparse.sparsify` and tuned by
metasparse as a scenario's `target` (scenario.yaml beside this file).

The model is a small convolutional network written here, not one of metasparse's; the data are
scikit-learn's bundled 8x8 digits (offline); the loop is a plain PyTorch loop with a DataLoader.
metasparse calls `train(config, budget, seed)` once per trial and seed: `config` is the whole
configuration (the searched values over the meta-space's defaults), `budget` the epochs.
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


def digits(seed: int) -> tuple[torch.utils.data.TensorDataset, torch.utils.data.TensorDataset]:
    """Training and validation splits of digits (the test split is never used for tuning)."""
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32).view(-1, 1, 8, 8)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    train, val = order[:1200], order[1200:1500]  # the last 297 would be the test split
    return (torch.utils.data.TensorDataset(x[train], torch.tensor(y[train])),
            torch.utils.data.TensorDataset(x[val], torch.tensor(y[val])))


def train(config: dict, budget: int, seed: int) -> dict[str, float]:
    torch.manual_seed(seed)
    train_set, val_set = digits(seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=int(config["batch_size"]),
                                         shuffle=True)
    model = SmallConvNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"],
                                momentum=config["momentum"], weight_decay=config["weight_decay"])
    sparsifier = metasparse.sparsify(model, optimizer, budget * len(loader),
                                     steps_per_epoch=len(loader), seed=seed, **config)
    for _ in range(budget):
        model.train()
        for x, y in loader:
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            sparsifier.step()
            optimizer.zero_grad()
    model.eval()
    x_val, y_val = val_set.tensors
    with torch.no_grad():
        out = model(x_val)
    accuracy = float((out.argmax(1) == y_val).float().mean())
    return {"val_error": 1.0 - accuracy, "val_accuracy": accuracy,
            "val_loss": float(nn.functional.cross_entropy(out, y_val)),
            "density": sparsifier.density()}
