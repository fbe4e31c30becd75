"""An LSTM whose two gate matrices are `SparseLinear` layers: the `sparse` path's nn.LSTM.

It computes what a single-layer, unidirectional, batch-first nn.LSTM computes (gates in
nn.LSTM's order i, f, g, o; biases b_ih and b_hh) and returns the same (output, (h_n, c_n)),
so a model swaps one for the other. The input projection of the whole sequence is one sparse
product; the recurrent one is a sparse product per time step. Each backward pass of the
recurrent matrix therefore adds one (input, output gradient) pair per step to its capture list:
the dense gradient of a gate matrix is the sum over those pairs, as nn.LSTM's is over time.
"""

from __future__ import annotations

import torch
from torch import nn

from metasparse.errors import ConfigError
from metasparse.sparse.csr import SparseLinear

__all__ = ["SparseLSTM"]


class SparseLSTM(nn.Module):
    """`ih` (4·hidden × input) and `hh` (4·hidden × hidden) hold only their active weights."""

    def __init__(self, ih: SparseLinear, hh: SparseLinear) -> None:
        super().__init__()
        hidden = hh.in_features
        if ih.out_features != 4 * hidden or hh.out_features != 4 * hidden:
            raise ValueError(f"gate matrices must have 4 x {hidden} rows; got "
                             f"{ih.out_features} and {hh.out_features}")
        self.input_size, self.hidden_size = ih.in_features, hidden
        self.ih, self.hh = ih, hh

    @classmethod
    def like(cls, lstm: nn.LSTM, device: torch.device, dtype: torch.dtype) -> SparseLSTM:
        """An empty SparseLSTM of `lstm`'s sizes (no active weight; biases as nn.LSTM's)."""
        if lstm.num_layers != 1 or lstm.bidirectional or lstm.proj_size or not lstm.batch_first \
                or not lstm.bias:
            raise ConfigError(
                "The 'execution' parameter 'sparse' runs single-layer, unidirectional, "
                "batch-first LSTMs with biases and no projection; use execution=masked")
        h = lstm.hidden_size
        return cls(SparseLinear(lstm.input_size, 4 * h, device=device, dtype=dtype),
                   SparseLinear(h, 4 * h, device=device, dtype=dtype))

    def forward(self, sequence: torch.Tensor
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        batch, steps, _ = sequence.shape
        projected = self.ih(sequence)  # (batch, steps, 4 * hidden): one product for all steps
        h = sequence.new_zeros(batch, self.hidden_size)
        c = sequence.new_zeros(batch, self.hidden_size)
        outputs = []
        for t in range(steps):
            i, f, g, o = (projected[:, t] + self.hh(h)).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h.unsqueeze(0), c.unsqueeze(0))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, batch_first=True"
