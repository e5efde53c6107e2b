"""A small pre-LN transformer encoder for signals and vectors, whose MLP activations are its slots
(a gated unit, such as SwiGLU, replaces the MLP's first layer and activation together)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from actlab._errors import ActlabError
from actlab._validate import MAX_DEPTH, MAX_WIDTH, integer
from actlab.catalogue.learnable import GatedUnit
from actlab.models.plan import Plan, SlotModel, slot_modules


class _EncoderBlock(nn.Module):
    """Pre-LN transformer block: ``x + MHA(LN(x))``, then ``x + fc2(act(fc1(LN(x))))``; the
    activation is the model's slot module, given at each call."""

    def __init__(self, width: int, heads: int, hidden: int, gated: bool):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(width)
        self.fc1 = nn.Identity() if gated else nn.Linear(width, hidden)  # a gated unit is its own first layer
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor, act: nn.Module) -> torch.Tensor:
        y = self.ln1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        y = self.ln2(x).flatten(0, 1)  # (batch * tokens, width): features on dim 1 for the activation
        return x + self.fc2(act(self.fc1(y))).view_as(x)


class Transformer(SlotModel):
    """A small pre-LN transformer encoder for signals ``(C, L)`` (MNIST-1D: (1, 40)) and vectors
    ``(d,)`` (read as ``(1, d)``).

    The signal is cut into patches of ``patch`` steps (the last zero-padded), each patch of
    ``C * patch`` values embedded by a Linear to ``width``, plus a learned position embedding;
    ``depth`` blocks of multi-head self-attention and an MLP, each with a residual connection and
    layer norm before it; then the mean over tokens, a layer norm and a linear head.

    Each block's MLP is ``Linear(width, hidden) -> activation -> Linear(hidden, width)`` with
    ``hidden = mlp_ratio * width``. A gated unit (``swiglu``, ``geglu``, ``reglu``) replaces the
    first Linear and the activation together, as in real transformers: ``GatedUnit(width ->
    h) -> Linear(h, width)``, with ``h = 2/3 hidden`` (rounded) so that the MLP keeps about the
    same number of parameters (Shazeer 2020).

    Slots: ``input`` (the first block's MLP), ``hidden_1`` ... (the next blocks'), ``output``
    (after the head). An activation sees ``(batch * tokens, features)``: per-feature parameters
    and diagnostics count features.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        n_classes: int,
        activations: Plan = "relu",
        width: int = 32,
        depth: int = 2,
        heads: int = 4,
        patch: int = 4,
        mlp_ratio: int = 2,
    ):
        super().__init__()
        width = integer("transformer width", width, 1, MAX_WIDTH)
        depth = integer("transformer depth", depth, 1, MAX_DEPTH)
        heads = integer("transformer heads", heads, 1, width)
        mlp_ratio = integer("transformer mlp_ratio", mlp_ratio, 1, 64)
        if width % heads:
            raise ActlabError(f"transformer width {width} must be a multiple of heads {heads}")
        c, length = input_shape
        self.patch = integer("transformer patch", patch, 1, length)
        tokens = -(-length // self.patch)
        self.slots = ("input", *(f"hidden_{i}" for i in range(1, depth)), "output")
        acts = slot_modules(activations, self.slots)
        hidden = mlp_ratio * width
        self.embed = nn.Linear(c * self.patch, width)
        self.pos = nn.Parameter(torch.randn(1, tokens, width) * 0.02)
        blocks: list[_EncoderBlock] = []
        layers: dict[str, nn.Module] = {}
        for slot in self.slots[:-1]:
            act = acts[slot]
            if isinstance(act, GatedUnit):
                if act.in_features is None:  # from a spec: sized here, as the MLP's first layer
                    act = acts[slot] = GatedUnit(act.gate, width, max(1, round(2 * hidden / 3)))
                assert act.out_features is not None  # sized: given with its input width, or just now
                block = _EncoderBlock(width, heads, act.out_features, gated=True)
                layers[slot] = act
            else:
                block = _EncoderBlock(width, heads, hidden, gated=False)
                layers[slot] = block.fc1
            blocks.append(block)
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(width)
        self.fc = nn.Linear(width, n_classes)
        layers["output"] = self.fc
        self._init_acts(activations, layers, acts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # vectors (N, d) as one-channel signals
            x = x.unsqueeze(1)
        n, c, length = x.shape
        x = F.pad(x, (0, (-length) % self.patch))
        x = x.reshape(n, c, -1, self.patch).transpose(1, 2).flatten(2)  # (N, tokens, C * patch)
        x = self.embed(x) + self.pos
        for slot, block in zip(self.slots, self.blocks, strict=False):  # the output slot has no block
            x = block(x, self.acts[slot])
        return self.acts["output"](self.fc(self.norm(x.mean(1))))
