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
        cls.check(lstm)
        h = lstm.hidden_size
        return cls(SparseLinear(lstm.input_size, 4 * h, device=device, dtype=dtype),
                   SparseLinear(h, 4 * h, device=device, dtype=dtype))

    @staticmethod
    def check(lstm: nn.LSTM) -> None:
        """Raise the one-line ConfigError for an nn.LSTM that a SparseLSTM cannot replace."""
        if lstm.num_layers != 1 or lstm.bidirectional or lstm.proj_size or not lstm.batch_first \
                or not lstm.bias:
            raise ConfigError(
                "The 'execution' parameter 'sparse' runs single-layer, unidirectional, "
                "batch-first LSTMs with biases and no projection; use execution=masked")

    def forward(self, sequence: torch.Tensor
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        batch, steps, _ = sequence.shape
        # The sparse kernels return (out_features x rows) products: the states are kept in that
        # transposed layout (hidden x batch), so that the gate arithmetic runs on contiguous
        # memory, and the inputs are projected time-major, so that a step's projection is one
        # block of columns. `split` (not indexing per step) keeps the backward pass from
        # filling a zero gradient of the whole projection at every step (that made the path
        # 3-7x slower: bench/README.md).
        projected = self.ih(sequence.transpose(0, 1).reshape(steps * batch, -1)).t()
        h = sequence.new_zeros(self.hidden_size, batch)
        c = sequence.new_zeros(self.hidden_size, batch)
        outputs = []
        for step_input in projected.split(batch, dim=1):
            gates = step_input + self.hh(h.t()).t()
            i, f, g, o = gates.chunk(4, dim=0)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        output = torch.stack(outputs).permute(2, 0, 1)  # (batch, steps, hidden)
        return output, (h.t().unsqueeze(0), c.t().unsqueeze(0))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, batch_first=True"
