"""The multilayer perceptron: ``depth`` linear layers, each followed by its slot's activation."""

from __future__ import annotations

import torch
from torch import nn

from actlab._validate import MAX_DEPTH, MAX_WIDTH, integer
from actlab.models.plan import Plan, SlotModel


class MLP(SlotModel):
    """``depth`` linear layers of ``width`` units, each followed by its slot's activation.

    With ``depth=5``: Linear -> input -> Linear -> hidden_1 -> ... -> hidden_3 -> Linear -> output.
    """

    def __init__(self, in_features: int, n_classes: int, activations: Plan = "relu", width: int = 64, depth: int = 3):
        super().__init__()
        depth = integer("mlp depth", depth, 2, MAX_DEPTH)  # 2: an input and an output layer
        width = integer("mlp width", width, 1, MAX_WIDTH)
        self.slots = ("input", *(f"hidden_{i}" for i in range(1, depth - 1)), "output")
        dims = [in_features] + [width] * (depth - 1) + [n_classes]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self._init_acts(activations, dict(zip(self.slots, self.linears, strict=True)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for slot, lin in zip(self.slots, self.linears, strict=True):
            x = self.acts[slot](lin(x))
        return x
