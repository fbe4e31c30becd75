"""Convolutions on the sparse path (metasparse.sparse.sparse_conv): the same output and
gradients as a dense convolution with the masked weight, and the same training as the masked
path (masks at every update, accuracy) for a CNN under RigL, SET, CTRE and CHTs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from metasparse.errors import ConfigError
from metasparse.sparse.compressed import check_installable
from metasparse.sparse.sparse_conv import SparseConv2d


def _sparse_conv(conv: nn.Conv2d, density: float, seed: int = 0) -> SparseConv2d:
    """A SparseConv2d holding conv's weight at a random `density` of its positions."""
    g = torch.Generator().manual_seed(seed)
    sparse = SparseConv2d.like(conv, "cpu", torch.float32)
    weight = conv.weight.detach().reshape(conv.out_channels, -1)
    flat = torch.randperm(weight.numel(), generator=g)[:int(density * weight.numel())]
    n_in = weight.shape[1]
    sparse.linear.set_pattern(flat // n_in, flat % n_in, weight.reshape(-1)[flat])
    if conv.bias is not None:
        sparse.linear.bias.data.copy_(conv.bias.detach())
    return sparse


@pytest.mark.parametrize("geometry", [
    {"kernel_size": 3, "padding": 1},
    {"kernel_size": (3, 2), "stride": 2, "padding": (0, 1)},
    {"kernel_size": 3, "dilation": 2, "padding": 2, "bias": False},
    {"kernel_size": 1},
])
def test_forward_and_backward_match_a_dense_convolution_with_the_masked_weight(geometry):
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, **geometry)
    sparse = _sparse_conv(conv, 0.4)
    weight = sparse.to_dense().requires_grad_(True)
    x = torch.randn(4, 3, 9, 11, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    bias = None if conv.bias is None else sparse.linear.bias.detach().clone().requires_grad_(True)
    ours = sparse(x)
    theirs = F.conv2d(x_ref, weight, bias, conv.stride, conv.padding, conv.dilation)
    torch.testing.assert_close(ours, theirs)
    upstream = torch.randn_like(theirs)
    ours.backward(upstream)
    theirs.backward(upstream)
    torch.testing.assert_close(x.grad, x_ref.grad)
    active = sparse.linear.layout.to_dense(torch.ones(sparse.linear.nnz)).bool()
    torch.testing.assert_close(sparse.linear.values.grad,  # sums of 4 x 99 products
                               weight.grad.reshape(active.shape)[active], rtol=1e-4, atol=1e-4)
    if bias is not None:
        torch.testing.assert_close(sparse.linear.bias.grad, bias.grad)


def test_the_captured_pairs_give_the_dense_weight_gradient():
    torch.manual_seed(1)
    conv = nn.Conv2d(2, 4, 3, padding=1)
    sparse = _sparse_conv(conv, 0.3)
    sparse.linear.capture_io = True
    weight = sparse.to_dense().requires_grad_(True)
    x = torch.randn(3, 2, 6, 6)
    sparse(x).square().sum().backward()
    F.conv2d(x, weight, sparse.linear.bias.detach(), padding=1).square().sum().backward()
    (patches, grad_out), = sparse.linear.captured
    torch.testing.assert_close(grad_out.t() @ patches, weight.grad.reshape(4, -1))


def test_grouped_and_same_padded_convolutions_are_refused_with_one_line():
    for conv in (nn.Conv2d(4, 4, 3, groups=2), nn.Conv2d(4, 4, 3, padding="same"),
                 nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect")):
        model = nn.Sequential(conv)
        with pytest.raises(ConfigError, match=r"^The 'execution' parameter 'sparse' runs Conv2d "
                                              r"layers with groups=1 .*use execution=masked"):
            check_installable(model, "0.weight")
    check_installable(nn.Sequential(nn.Conv2d(4, 4, 3, stride=2)), "0.weight")


def test_a_sparse_convolution_keeps_the_dtype_and_the_bias_it_is_given():
    conv = nn.Conv2d(2, 3, 3).double()
    sparse = SparseConv2d.like(conv, "cpu", torch.float64)
    assert sparse.linear.bias is not None and sparse.linear.bias.dtype == torch.float64
    assert sparse(torch.zeros(1, 2, 5, 5, dtype=torch.float64)).dtype == torch.float64
    assert SparseConv2d(2, 3, (3, 3), (1, 1), (0, 0)).linear.bias is not None  # bias by default
    assert SparseConv2d.like(nn.Conv2d(2, 3, 3, bias=False), "cpu", torch.float32).linear.bias \
        is None


# ctre: cosine growth sees a convolution's blocks in the weight's 4-D shape on both paths
@pytest.mark.parametrize("preset", ["rigl", "set", "ctre", "chts"])
def test_both_paths_train_the_same_cnn(preset):
    from test_execution_equivalence import train

    cnn = {"model": "cnn", "channels": "16,32", "optimizer": "adam", "lr": 0.01,
           "density": 0.3}
    masked_accuracy, masked_masks = train(preset, "masked", **cnn)
    sparse_accuracy, sparse_masks = train(preset, "sparse", **cnn)
    assert len(sparse_masks) == len(masked_masks) > 0
    for update, (ours, theirs) in enumerate(zip(sparse_masks, masked_masks, strict=True)):
        assert all(torch.equal(a.reshape(b.shape), b)
                   for a, b in zip(ours, theirs, strict=True)), update
    assert sparse_accuracy == pytest.approx(masked_accuracy, abs=0.005)
    assert masked_accuracy > 0.3  # the network learns: the comparison is not between two failures
