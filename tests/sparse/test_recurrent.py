"""SparseLSTM computes nn.LSTM with masked gate matrices; the sparse path runs LSTMs, and refuses
the ones it cannot run with a clear error."""

import math

import pytest
import torch
from scipy import stats
from torch import nn

from metasparse.errors import ConfigError
from metasparse.models import build_model
from metasparse.space import resolve_config
from metasparse.sparse import SparseLSTM
from metasparse.sparse.csr import SparseLinear
from metasparse.sparse.gradient_growth import gradient_rows
from metasparse.train import build_topology, run_config


def _pair(input_size=5, hidden=7, density=0.4, seed=0):
    """An nn.LSTM with masked gate matrices and the SparseLSTM holding its active weights."""
    torch.manual_seed(seed)
    dense = nn.LSTM(input_size, hidden, batch_first=True)
    masks = {}
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0"):
            weight = getattr(dense, name)
            masks[name] = torch.rand(weight.shape) < density
            weight.mul_(masks[name])

    def linear(kind):
        layer = nn.Linear(*reversed(getattr(dense, f"weight_{kind}_l0").shape))
        with torch.no_grad():
            layer.weight.copy_(getattr(dense, f"weight_{kind}_l0"))
            layer.bias.copy_(getattr(dense, f"bias_{kind}_l0"))
        return SparseLinear.from_dense(layer, masks[f"weight_{kind}_l0"])

    return dense, SparseLSTM(linear("ih"), linear("hh")), masks


def test_forward_and_gradients_match_a_masked_lstm():
    dense, sparse, masks = _pair()
    x = torch.randn(3, 6, 5)
    x_dense, x_sparse = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_d, (h_d, c_d) = dense(x_dense)
    out_s, (h_s, c_s) = sparse(x_sparse)
    torch.testing.assert_close(out_s, out_d)
    torch.testing.assert_close(h_s, h_d)
    torch.testing.assert_close(c_s, c_d)
    weights = torch.randn_like(out_d)
    ((out_d * weights).sum() + c_d.sum()).backward()
    ((out_s * weights).sum() + c_s.sum()).backward()
    torch.testing.assert_close(x_sparse.grad, x_dense.grad)
    for kind, linear in (("ih", sparse.ih), ("hh", sparse.hh)):
        mask = masks[f"weight_{kind}_l0"]
        dense_grad = getattr(dense, f"weight_{kind}_l0").grad
        torch.testing.assert_close(linear.values.grad, dense_grad[mask])
        torch.testing.assert_close(linear.bias.grad, getattr(dense, f"bias_{kind}_l0").grad)


def test_captured_pairs_sum_to_the_dense_gate_gradient():
    """The recurrent matrix is applied once per time step: the dense gradient that growth reads
    is the sum of every captured (input, output gradient) pair, as nn.LSTM's gradient is."""
    dense, sparse, _ = _pair()
    sparse.hh.capture_io = True
    x = torch.randn(4, 5, 5)
    dense(x)[0].square().sum().backward()
    sparse(x)[0].square().sum().backward()
    assert len(sparse.hh.captured) == 5  # one per time step
    summed = gradient_rows(sparse.hh.captured, 0, sparse.hh.out_features)  # what growth reads
    torch.testing.assert_close(summed, dense.weight_hh_l0.grad)


def _initial_lstm(execution: str, global_seed: int) -> nn.Module:
    """The initial LSTM of one path: global stream `global_seed`, topology stream seed 0."""
    config = resolve_config({"model": "lstm", "hidden_sizes": "64", "density": 0.2,
                             "execution": execution})
    torch.manual_seed(global_seed)
    model = build_model(config, 64, 10, None)
    build_topology(config, model, 10, 100, torch.Generator().manual_seed(0))
    return model.last


def test_both_paths_start_from_the_same_lstm_with_torchs_bias_law():
    masked, sparse = _initial_lstm("masked", 1), _initial_lstm("sparse", 2)
    bound = 1.0 / math.sqrt(64)  # nn.LSTM draws every bias from U(+-1/sqrt(hidden_size))
    for kind, linear in (("ih", sparse.ih), ("hh", sparse.hh)):
        torch.testing.assert_close(linear.to_dense(), getattr(masked, f"weight_{kind}_l0"),
                                   rtol=0, atol=0)
        bias = getattr(masked, f"bias_{kind}_l0").detach()
        assert torch.equal(linear.bias.detach(), bias)
        law = stats.kstest(bias.double().numpy(), "uniform", args=(-bound, 2 * bound))
        assert law.pvalue > 1e-3


def test_an_lstm_with_stacked_layers_trains_on_the_sparse_path():
    config = {"model": "lstm", "hidden_sizes": "32,32", "execution": "sparse", "density": 0.3,
              "optimizer": "adam", "lr": 0.01, "delta_t": 10}
    result = run_config(config, "digits", epochs=4, seed=0)
    assert result.status == "success"
    assert result.val_accuracy > 0.3  # chance is 0.1


def test_gate_matrices_of_the_wrong_height_are_refused():
    with pytest.raises(ValueError, match="gate matrices must have 4 x 7 rows; got 27 and 28"):
        SparseLSTM(SparseLinear(5, 27), SparseLinear(7, 28))
    with pytest.raises(ValueError, match="got 28 and 27"):
        SparseLSTM(SparseLinear(5, 28), SparseLinear(7, 27))


@pytest.mark.parametrize("options", [{"num_layers": 2}, {"bidirectional": True},
                                     {"proj_size": 2}, {"batch_first": False}, {"bias": False}])
def test_an_lstm_it_cannot_run_is_refused_with_the_way_out(options):
    lstm = nn.LSTM(5, 4, **{"batch_first": True, **options})
    with pytest.raises(ConfigError, match=r"single-layer.*use execution=masked"):
        SparseLSTM.like(lstm, torch.device("cpu"), torch.float32)
    SparseLSTM.like(nn.LSTM(5, 4, batch_first=True), torch.device("cpu"), torch.float32)
