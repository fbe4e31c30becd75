"""The standard CIFAR training augmentation, in torch (torchvision stays optional)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["crop_flip"]


def crop_flip(x: torch.Tensor, image_shape: Sequence[int], generator: torch.Generator,
              padding: int = 4) -> torch.Tensor:
    """Random crops of the images padded by `padding` zeros on each side, each flipped
    horizontally with probability 1/2 (as torchvision's RandomCrop(32, padding=4) and
    RandomHorizontalFlip). `x` holds flat (N, C*H*W) rows and so does the result; one gather
    does both for the whole batch."""
    n = x.shape[0]
    c, h, w = image_shape
    padded = torch.nn.functional.pad(x.reshape(n, c, h, w), (padding,) * 4)
    device = generator.device
    top = torch.randint(2 * padding + 1, (n, 1), generator=generator, device=device)
    left = torch.randint(2 * padding + 1, (n, 1), generator=generator, device=device)
    flip = torch.rand((n, 1), generator=generator, device=device) < 0.5
    rows = top + torch.arange(h, device=device)
    ahead = torch.arange(w, device=device)
    cols = left + torch.where(flip, w - 1 - ahead, ahead)
    batch = torch.arange(n, device=device)[:, None, None, None]
    channel = torch.arange(c, device=device)[None, :, None, None]
    out = padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]
    return out.reshape(n, -1)
