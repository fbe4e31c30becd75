"""Which parameters dynamic sparse training masks."""

from __future__ import annotations

from torch import nn

__all__ = ["sparsifiable_parameters"]


def sparsifiable_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The weight matrices that dynamic sparse training masks, from input to output.

    These are the weights of every nn.Linear and nn.Conv2d, the input-to-hidden and
    hidden-to-hidden (and projection) weights of every nn.LSTM, and the input projections of
    every nn.MultiheadAttention (its output projection is an nn.Linear), named as in
    `model.named_parameters()`. Biases, normalization parameters and activation parameters are
    never included. The order is that in which the modules are registered, which for the
    models of this package is the order of the forward pass: the first entry is the input layer
    and the last the classifier. A parameter shared by several modules is listed once.
    """
    found: list[tuple[str, nn.Parameter]] = []
    seen: set[int] = set()
    for prefix, module in model.named_modules():
        for attribute in _weight_names(module):
            parameter = getattr(module, attribute, None)
            if isinstance(parameter, nn.Parameter) and id(parameter) not in seen:
                seen.add(id(parameter))
                found.append((f"{prefix}.{attribute}" if prefix else attribute, parameter))
    return found


def _weight_names(module: nn.Module) -> list[str]:
    if isinstance(module, nn.Linear | nn.Conv2d):
        return ["weight"]
    if isinstance(module, nn.MultiheadAttention):  # its out_proj is an nn.Linear
        return ["in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"]
    if isinstance(module, nn.LSTM):
        directions = ["", "_reverse"] if module.bidirectional else [""]
        kinds = ["ih", "hh", "hr"] if module.proj_size > 0 else ["ih", "hh"]
        return [
            f"weight_{kind}_l{layer}{direction}"
            for layer in range(module.num_layers)
            for direction in directions
            for kind in kinds
        ]
    return []
