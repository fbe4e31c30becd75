"""A 2-D convolution that stores only its active weights: im2col plus a sparse matrix product.

The weight (out_channels, in_channels, kh, kw) is the sparse matrix W of shape
(out_channels, in_channels * kh * kw) held by a `SparseLinear` (`linear`): a flat position of
the dense weight is the same flat position of W (torch's `unfold` orders a patch's entries as
channel, kernel row, kernel column, the weight's own order), so the masked path's masks and this
path's patterns are the same flat sets. The forward pass unfolds the input into patches
(N * H_out * W_out rows of in_channels * kh * kw), multiplies them by W through `sparse_linear`
(whose backward gives the gradient of the active weights only, and whose captured (patches,
grad_out) pairs give the dense gradient that RigL's growth reads), and folds the rows back into
an (N, out_channels, H_out, W_out) map. The topology prunes and grows `linear` as any other
layer of the sparse path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from metasparse.errors import ConfigError
from metasparse.sparse.csr import SparseLinear


class SparseConv2d(nn.Module):
    """nn.Conv2d (groups 1, zero padding) with a sparse weight; see the module docstring."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int],
                 stride: tuple[int, int] = (1, 1), padding: tuple[int, int] = (0, 0),
                 dilation: tuple[int, int] = (1, 1), bias: bool = True,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        """An empty pattern (no active weight); its bias as nn.Linear draws one for the patch
        size (the topology draws the bias anew)."""
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = tuple(kernel_size), tuple(stride)
        self.padding, self.dilation = tuple(padding), tuple(dilation)
        patch = in_channels * self.kernel_size[0] * self.kernel_size[1]
        self.linear = SparseLinear(patch, out_channels, bias=bias, device=device, dtype=dtype)

    @staticmethod
    def check(conv: nn.Conv2d) -> None:
        """Raise the one-line ConfigError for a convolution this module cannot run."""
        if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ConfigError(
                "The 'execution' parameter 'sparse' runs Conv2d layers with groups=1 and "
                f"explicit zero padding only (got groups={conv.groups}, padding={conv.padding!r}"
                f", padding_mode={conv.padding_mode!r}): use execution=masked for this model")

    @classmethod
    def like(cls, conv: nn.Conv2d, device: torch.device | str | None,
             dtype: torch.dtype) -> SparseConv2d:
        """An empty SparseConv2d with `conv`'s geometry."""
        cls.check(conv)
        return cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                   conv.padding, conv.dilation, bias=conv.bias is not None, device=device,
                   dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        h_out, w_out = (
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, p, d, k, s in zip(x.shape[2:], self.padding, self.dilation,
                                        self.kernel_size, self.stride, strict=True))
        patches = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
        # (patch, N * L) contiguous: the sparse product's right operand as it wants it
        columns = patches.transpose(0, 1).reshape(patches.shape[1], -1)
        out_t = self.linear(columns.t()).t()  # (out_channels, N * L), contiguous
        return out_t.view(self.out_channels, n, h_out * w_out).transpose(0, 1).reshape(
            n, self.out_channels, h_out, w_out)

    def to_dense(self) -> torch.Tensor:
        """The dense weight (out_channels, in_channels, kh, kw), zeros where inactive."""
        return self.linear.to_dense().view(self.out_channels, self.in_channels,
                                           *self.kernel_size)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}")
