"""The networks that the sparse-training literature benchmarks on CIFAR: CIFAR-style ResNet-18
and -50 (He et al. 2016, a 3x3 stem without max pool as in kuangliu/pytorch-cifar, which RigL,
GraNet and MEST train), VGG-16 with batch normalization (the same repository's) and
WideResNet-28-10 (Zagoruyko & Komodakis 2016, pre-activation blocks).

They keep their own batch normalization; the configuration's `activation` replaces ReLU (its
default). Inputs are flat (N, C*H*W) rows reshaped to the image shape; any image size works
(max pools are left out once the map is smaller than 2 pixels). With 3 channels and 10 classes
their parameter counts are 11,173,962 / 23,520,842 / 14,728,266 / 36,479,194.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from metasparse.models._activations import make_activation

__all__ = ["VGG16", "ResNet", "WideResNet"]


class _Counter:
    """Numbers the activations from the input side (what make_activation takes)."""

    def __init__(self, activation: str) -> None:
        self.activation, self.index = activation, 0

    def __call__(self, features: int) -> nn.Module:
        self.index += 1
        return make_activation(self.activation, features, self.index)


def _conv3(n_in: int, n_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=False)


def _shortcut(n_in: int, n_out: int, stride: int) -> nn.Module:
    if stride == 1 and n_in == n_out:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(n_in, n_out, 1, stride=stride, bias=False),
                         nn.BatchNorm2d(n_out))


class _Basic(nn.Module):
    expansion = 1

    def __init__(self, n_in: int, width: int, stride: int, act: _Counter) -> None:
        super().__init__()
        self.conv1, self.bn1 = _conv3(n_in, width, stride), nn.BatchNorm2d(width)
        self.act1 = act(width)
        self.conv2, self.bn2 = _conv3(width, width), nn.BatchNorm2d(width)
        self.shortcut = _shortcut(n_in, width, stride)
        self.act2 = act(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act2(out + self.shortcut(x))


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, n_in: int, width: int, stride: int, act: _Counter) -> None:
        super().__init__()
        n_out = 4 * width
        self.conv1 = nn.Conv2d(n_in, width, 1, bias=False)
        self.bn1, self.act1 = nn.BatchNorm2d(width), act(width)
        self.conv2, self.bn2 = _conv3(width, width, stride), nn.BatchNorm2d(width)
        self.act2 = act(width)
        self.conv3 = nn.Conv2d(width, n_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(n_out)
        self.shortcut = _shortcut(n_in, n_out, stride)
        self.act3 = act(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.act2(self.bn2(self.conv2(out)))
        return self.act3(self.bn3(self.conv3(out)) + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR ResNet: 3x3 stem, four stages of 64-512 channels, global pool, classifier."""

    def __init__(self, image_shape: Sequence[int], depth: int, n_classes: int, *,
                 activation: str = "relu") -> None:
        super().__init__()
        block, counts = {18: (_Basic, (2, 2, 2, 2)), 50: (_Bottleneck, (3, 4, 6, 3))}[depth]
        self.image_shape = tuple(image_shape)
        act = _Counter(activation)
        self.stem = nn.Sequential(_conv3(image_shape[0], 64), nn.BatchNorm2d(64), act(64))
        stages, n_in = [], 64
        for width, count, stride in zip((64, 128, 256, 512), counts, (1, 2, 2, 2), strict=True):
            blocks = []
            for s in [stride] + [1] * (count - 1):
                blocks.append(block(n_in, width, s, act))
                n_in = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(n_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x.reshape(x.shape[0], *self.image_shape)))
        return self.classifier(torch.flatten(self.pool(x), 1))


VGG16_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M")


class VGG16(nn.Module):
    """VGG-16 with batch normalization, global pooling and one linear classifier (CIFAR)."""

    def __init__(self, image_shape: Sequence[int], n_classes: int, *,
                 activation: str = "relu") -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        act = _Counter(activation)
        layers: list[nn.Module] = []
        n_in, size = image_shape[0], min(image_shape[1:])
        for item in VGG16_LAYERS:
            if item == "M":
                if size >= 2:
                    layers.append(nn.MaxPool2d(2))
                    size //= 2
                continue
            layers += [nn.Conv2d(n_in, item, 3, padding=1), nn.BatchNorm2d(item), act(item)]
            n_in = item
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(n_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x.reshape(x.shape[0], *self.image_shape))
        return self.classifier(torch.flatten(self.pool(x), 1))


class _WideBlock(nn.Module):
    """Pre-activation: BN, activation, 3x3 conv, BN, activation, 3x3 conv; plus the shortcut."""

    def __init__(self, n_in: int, n_out: int, stride: int, act: _Counter) -> None:
        super().__init__()
        self.bn1, self.act1 = nn.BatchNorm2d(n_in), act(n_in)
        self.conv1 = _conv3(n_in, n_out, stride)
        self.bn2, self.act2 = nn.BatchNorm2d(n_out), act(n_out)
        self.conv2 = _conv3(n_out, n_out)
        self.shortcut = None if n_in == n_out and stride == 1 else \
            nn.Conv2d(n_in, n_out, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.act1(self.bn1(x))
        out = self.conv2(self.act2(self.bn2(self.conv1(pre))))
        return out + (x if self.shortcut is None else self.shortcut(pre))


class WideResNet(nn.Module):
    """WRN-depth-widen: a 16-channel stem and three groups of (depth - 4) / 6 blocks."""

    def __init__(self, image_shape: Sequence[int], depth: int, widen: int, n_classes: int, *,
                 activation: str = "relu") -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        act = _Counter(activation)
        per_group = (depth - 4) // 6
        self.stem = _conv3(image_shape[0], 16)
        groups, n_in = [], 16
        for width, stride in ((16 * widen, 1), (32 * widen, 2), (64 * widen, 2)):
            blocks = []
            for s in [stride] + [1] * (per_group - 1):
                blocks.append(_WideBlock(n_in, width, s, act))
                n_in = width
            groups.append(nn.Sequential(*blocks))
        self.groups = nn.Sequential(*groups)
        self.bn, self.act = nn.BatchNorm2d(n_in), act(n_in)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(n_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.groups(self.stem(x.reshape(x.shape[0], *self.image_shape)))
        return self.classifier(torch.flatten(self.pool(self.act(self.bn(x))), 1))
