"""The truly sparse layer equals a dense nn.Linear whose weight is masked, in value and gradient."""

import pytest
import torch
from torch import nn

from metasparse.sparse.csr import (
    INDEX_DTYPE,
    CSRLayout,
    SparseLinear,
    sparse_linear,
)

OUT, IN = 37, 53


def make_mask(density: float, seed: int = 0, shape: tuple[int, int] = (OUT, IN)) -> torch.Tensor:
    """A random mask with row 3 and column 5 empty (and, above density 0, row 0 non-empty)."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(shape, generator=gen) < density
    mask[3, :] = False
    mask[:, 5] = False
    return mask


def dense_pair(density: float, dtype: torch.dtype, seed: int = 0):
    torch.manual_seed(seed)
    dense = nn.Linear(IN, OUT).to(dtype)
    mask = make_mask(density, seed)
    with torch.no_grad():
        dense.weight.mul_(mask)
    return dense, mask, SparseLinear.from_dense(dense, mask)


def tolerance(dtype: torch.dtype) -> dict:
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else \
        {"rtol": 1e-12, "atol": 1e-12}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("density", [0.0, 0.02, 0.3, 1.0])
@pytest.mark.parametrize("batch", [1, 128])
def test_forward_and_gradients_equal_a_masked_dense_linear(dtype, density, batch):
    dense, mask, sparse = dense_pair(density, dtype, seed=batch)
    x = torch.randn(batch, IN, dtype=dtype)
    grad = torch.randn(batch, OUT, dtype=dtype)
    x_dense, x_sparse = x.clone().requires_grad_(), x.clone().requires_grad_()

    y_dense, y_sparse = dense(x_dense), sparse(x_sparse)
    y_dense.backward(grad)
    y_sparse.backward(grad)

    tol = tolerance(dtype)
    assert y_sparse.dtype == dtype and y_sparse.shape == (batch, OUT)
    torch.testing.assert_close(y_sparse, y_dense, **tol)
    torch.testing.assert_close(x_sparse.grad, x_dense.grad, **tol)
    torch.testing.assert_close(sparse.bias.grad, dense.bias.grad, **tol)
    # the values' gradient: dense, 1-D, aligned with values (CSR order = row-major mask order)
    assert sparse.values.grad.layout == torch.strided
    assert sparse.values.grad.shape == sparse.values.shape == (int(mask.sum()),)
    torch.testing.assert_close(sparse.values.grad, dense.weight.grad[mask], **tol)


def test_the_weight_gradient_does_not_depend_on_the_weights_even_non_finite_ones():
    dense, mask, sparse = dense_pair(0.3, torch.float64)
    with torch.no_grad():
        sparse.values[::7] = float("inf")
    x = torch.randn(8, IN, dtype=torch.float64)
    grad = torch.randn(8, OUT, dtype=torch.float64)
    sparse(x).backward(grad)
    dense(x).backward(grad)
    torch.testing.assert_close(sparse.values.grad, dense.weight.grad[mask])


def test_empty_row_and_column_get_no_weight_and_zero_input_gradient():
    _, _, sparse = dense_pair(0.3, torch.float64)
    x = torch.randn(8, IN, dtype=torch.float64, requires_grad=True)
    y = sparse(x)
    y.sum().backward()
    # row 3 holds no weight: its output is the bias alone; column 5 feeds nothing
    torch.testing.assert_close(y[:, 3], sparse.bias[3].detach().expand(8))
    assert torch.equal(x.grad[:, 5], torch.zeros(8, dtype=torch.float64))
    assert sparse.layout.crow[4] == sparse.layout.crow[3]
    assert sparse.layout.crow_t[6] == sparse.layout.crow_t[5]


def test_gradcheck_on_a_tiny_layer():
    mask = make_mask(0.5, seed=1, shape=(5, 7))
    layout = CSRLayout.from_mask(mask)
    values = torch.randn(layout.nnz, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(5, dtype=torch.float64, requires_grad=True)
    x = torch.randn(3, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, v, b: sparse_linear(x, v, layout, b),
                                    (x, values, bias))
    assert torch.autograd.gradcheck(lambda x, v: sparse_linear(x, v, layout), (x, values))


def test_more_than_two_dimensions_are_flattened_like_nn_linear():
    dense, _, sparse = dense_pair(0.2, torch.float64)
    x = torch.randn(2, 3, IN, dtype=torch.float64)
    torch.testing.assert_close(sparse(x), dense(x))


def test_round_trip_mask_to_sparse_linear_to_dense():
    torch.manual_seed(0)
    dense = nn.Linear(IN, OUT)
    mask = make_mask(0.1)
    sparse = SparseLinear.from_dense(dense, mask)
    assert torch.equal(sparse.to_dense(), dense.weight.detach() * mask)
    assert sparse.nnz == int(mask.sum())
    assert torch.equal(sparse.bias.detach(), dense.bias.detach())
    layout = sparse.layout
    for index in (layout.crow, layout.col, layout.crow_t, layout.col_t, layout.perm):
        assert index.dtype == INDEX_DTYPE == torch.int32


def test_a_state_dict_loads_into_a_layer_of_another_pattern():
    _, _, saved = dense_pair(0.1, torch.float32, seed=1)
    _, _, other = dense_pair(0.4, torch.float32, seed=2)
    values = other.values
    other.load_state_dict(saved.state_dict())
    assert other.values is values and other.nnz == saved.nnz
    assert torch.equal(other.to_dense(), saved.to_dense())
    x = torch.randn(4, IN)
    torch.testing.assert_close(other(x), saved(x))


def test_transposed_pattern_is_the_csr_of_the_transpose():
    mask = make_mask(0.2)
    layout = CSRLayout.from_mask(mask)
    values = torch.randn(layout.nnz, dtype=torch.float64)
    reference = layout.to_dense(values).t().to_sparse_csr()
    assert torch.equal(layout.crow_t.long(), reference.crow_indices())
    assert torch.equal(layout.col_t.long(), reference.col_indices())
    assert torch.equal(values[layout.perm.long()], reference.values())


def test_a_pattern_change_rebuilds_the_transpose():
    dense, _, sparse = dense_pair(0.2, torch.float64)
    values_param = sparse.values
    new_mask = make_mask(0.35, seed=7)
    rows, cols = new_mask.nonzero(as_tuple=True)
    shuffle = torch.randperm(rows.numel(), generator=torch.Generator().manual_seed(3))
    new_weight = torch.randn(OUT, IN, dtype=torch.float64) * new_mask
    given = new_weight[rows, cols][shuffle]

    order = sparse.set_pattern(rows[shuffle], cols[shuffle], given)

    # a new number of entries is a new Parameter: autograd pins a parameter's size while a
    # graph built on it lives (the optimizer is told by the topology)
    assert sparse.nnz != values_param.numel() and sparse.values is not values_param
    assert torch.equal(sparse.values.detach(), given[order])
    assert torch.equal(sparse.to_dense(), new_weight)
    fresh = CSRLayout.from_mask(new_mask)
    for name in ("crow", "col", "crow_t", "col_t", "perm"):
        assert torch.equal(getattr(sparse.layout, name), getattr(fresh, name)), name
    # and the layer computes with the new pattern, gradients included
    dense.weight.data = new_weight.clone()
    x = torch.randn(16, IN, dtype=torch.float64, requires_grad=True)
    x_dense = x.detach().clone().requires_grad_()
    sparse(x).sum().backward()
    dense(x_dense).sum().backward()
    torch.testing.assert_close(x.grad, x_dense.grad)
    torch.testing.assert_close(sparse.values.grad, dense.weight.grad[new_mask])
    # the same number of entries elsewhere keeps the Parameter: an optimizer keeps referring to it
    kept = sparse.values
    sparse.set_pattern(rows, (cols + 1) % IN, given)
    assert sparse.values is kept and sparse.values.grad is None


def test_from_coo_rejects_repeated_and_out_of_range_entries():
    with pytest.raises(ValueError, match="twice"):
        CSRLayout.from_coo(torch.tensor([0, 1, 0]), torch.tensor([2, 2, 2]), (3, 3))
    with pytest.raises(ValueError, match="outside"):
        CSRLayout.from_coo(torch.tensor([0, 3]), torch.tensor([0, 0]), (3, 3))
    with pytest.raises(ValueError, match="outside"):
        CSRLayout.from_coo(torch.tensor([0]), torch.tensor([-1]), (3, 3))


def test_indices_of_a_huge_matrix_never_make_it_dense():
    n = 1 << 20  # densely 2^40 weights: 4 TB
    rows = torch.tensor([5, n - 1, 0, 5])
    cols = torch.tensor([n - 1, 0, 7, 3])
    layout, order = CSRLayout.from_coo(rows, cols, (n, n))
    assert torch.equal(order, torch.tensor([2, 3, 0, 1]))
    assert torch.equal(layout.rows(), torch.tensor([0, 5, 5, n - 1]))
    x = torch.zeros(2, n)
    x[:, 3] = 1.0
    y = sparse_linear(x, torch.tensor([1.0, 2.0, 3.0, 4.0]), layout)
    assert y[:, 5].tolist() == [2.0, 2.0] and float(y.abs().sum()) == 4.0


def test_mask_blocks_give_the_same_layout_as_the_whole_mask():
    mask = make_mask(0.2)
    whole = CSRLayout.from_mask(mask)
    blocks = CSRLayout.from_mask_blocks(((s, mask[s:s + 6]) for s in range(0, OUT, 6)),
                                        (OUT, IN))
    for name in ("crow", "col", "crow_t", "col_t", "perm"):
        assert torch.equal(getattr(blocks, name), getattr(whole, name)), name


def test_optimizer_state_exists_only_for_active_weights_and_a_step_matches_masked_sgd():
    dense, mask, sparse = dense_pair(0.1, torch.float64)
    opt_sparse = torch.optim.SGD(sparse.parameters(), lr=0.1, momentum=0.9)
    opt_dense = torch.optim.SGD(dense.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(32, IN, dtype=torch.float64)
    for _ in range(3):
        for opt, layer in ((opt_sparse, sparse), (opt_dense, dense)):
            opt.zero_grad()
            layer(x).square().mean().backward()
            opt.step()
        with torch.no_grad():
            dense.weight.mul_(mask)  # what the masked trainer does after each step
    assert opt_sparse.state[sparse.values]["momentum_buffer"].shape == (sparse.nnz,)
    torch.testing.assert_close(sparse.to_dense(), dense.weight.detach())
    torch.testing.assert_close(sparse.bias, dense.bias)
