"""Which dense weights the `sparse` execution path can replace, and the replacing: a Linear's
or a Conv2d's weight by a SparseLinear (a Conv2d's inside a SparseConv2d), an LSTM's gate
matrices by a SparseLSTM's."""

from __future__ import annotations

import torch
from torch import nn

from metasparse.errors import ConfigError
from metasparse.sparse.csr import SparseLinear
from metasparse.sparse.recurrent import SparseLSTM
from metasparse.sparse.sparse_conv import SparseConv2d

__all__ = ["check_installable", "install", "owner_of"]


def owner_of(model: nn.Module, name: str) -> nn.Module:
    return model.get_submodule(name.rpartition(".")[0])  # "" is the model itself


def check_installable(model: nn.Module, name: str) -> None:
    """Raise the one-line ConfigError if the sparse path cannot run the dense weight `name`
    of `model`: it runs the weights of nn.Linear layers and the gate matrices of LSTMs that
    SparseLSTM can replace."""
    attribute = name.rpartition(".")[2]
    owner = owner_of(model, name)
    if isinstance(owner, nn.LSTM):
        SparseLSTM.check(owner)
    if isinstance(owner, nn.Conv2d):
        SparseConv2d.check(owner)
    if not ((isinstance(owner, nn.Linear | nn.Conv2d) and attribute == "weight")
            or (isinstance(owner, nn.LSTM) and attribute in ("weight_ih_l0", "weight_hh_l0"))):
        raise ConfigError(
            f"The 'execution' parameter 'sparse' runs Linear, Conv2d and LSTM layers only; "
            f"{name} "
            f"belongs to a {type(owner).__name__}: use execution=masked for this model")


def install(model: nn.Module, name: str, device: torch.device,
             dtype: torch.dtype) -> tuple[SparseLinear, nn.Module]:
    """Put an empty SparseLinear in place of the dense weight `name` of `model` (one that
    `check_installable` accepts); return it and the module that now owns `name` (the
    SparseLinear, the SparseConv2d around it, or the SparseLSTM of an LSTM's gates)."""
    owner_name, _, attribute = name.rpartition(".")
    owner = owner_of(model, name)
    if isinstance(owner, nn.Conv2d):
        conv = SparseConv2d.like(owner, device, dtype)
        _replace(model, owner_name, conv)
        return conv.linear, conv
    if isinstance(owner, nn.Linear):
        linear = SparseLinear(owner.in_features, owner.out_features,
                              bias=owner.bias is not None, device=device, dtype=dtype)
        _replace(model, owner_name, linear)
        return linear, linear
    if isinstance(owner, nn.LSTM):
        owner = SparseLSTM.like(owner, device, dtype)
        _replace(model, owner_name, owner)
    return (owner.ih if attribute == "weight_ih_l0" else owner.hh), owner


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent), child, module)
