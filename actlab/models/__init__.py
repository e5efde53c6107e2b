"""Models with named activation slots.

Every model puts each of its activation functions in a named *slot*: ``input`` (after the
first layer), ``hidden_1``, ``hidden_2``, ... and ``output`` (after the last layer; identity by
default, so the model returns logits). An activation plan is

* one spec for every slot but ``output`` (``"relu"``);
* a list, one spec per slot in order (without or with ``output``);
* a mapping of slot names or groups: ``{"input": "selu", "hidden": "relu", "output": None}``
  (``hidden`` means every hidden slot; a specific ``hidden_3`` wins over ``hidden``).

Every slot owns its activation module (:func:`slot_modules`): a spec (a name, a spec with arguments,
``expr:``, ``pexpr:``, a callable, ``None``) makes a new module per slot. A module instance given for
one slot is used as it is, so the model holds the very module given; one given for several slots
is a template that each of them gets a deep copy of (the instance itself stays out of the model),
so no two slots ever share a module, its parameters or its diagnostics.

``build(name, input_shape, n_classes, activations, **options)`` makes any model by name.
Models that need a kind of input say so in one line: ``seed-cnn`` and ``resnet`` images
``(C, H, W)``, ``cnn1d`` signals ``(C, L)``, ``transformer`` signals ``(C, L)`` or vectors ``(d,)``;
``mlp`` takes anything (flattened).
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from actlab._errors import ActlabError, first_line
from actlab._validate import MAX_DEPTH, MAX_WIDTH, integer
from actlab.catalogue import get
from actlab.catalogue.learnable import GatedUnit

Plan = Any  # str | Sequence | Mapping | None


def resolve_plan(plan: Plan, slots: Sequence[str]) -> dict[str, Any]:
    """Map an activation plan onto slot names -> spec (``output`` defaults to identity)."""
    hidden = [s for s in slots if s.startswith("hidden")]
    if plan is None or isinstance(plan, (str, nn.Module)) or callable(plan) and not isinstance(plan, Mapping):
        return {s: (None if s == "output" else plan) for s in slots}
    if isinstance(plan, Mapping):
        unknown = [k for k in plan if k not in slots and k != "hidden"]
        if unknown:
            raise ActlabError(
                f"unknown activation slot {unknown[0]!r}; this model's slots are: {', '.join(slots)} (or 'hidden')"
            )
        out = {}
        for s in slots:
            if s in plan:
                out[s] = plan[s]
            elif s in hidden and "hidden" in plan:
                out[s] = plan["hidden"]
            elif s == "output":
                out[s] = None
            else:
                raise ActlabError(f"no activation given for slot {s!r}; give every slot of: {', '.join(slots)}")
        return out
    plan = list(plan)
    body = [s for s in slots if s != "output"]
    if len(plan) == len(body):
        return {**dict(zip(body, plan)), "output": None} if "output" in slots else dict(zip(body, plan))
    if len(plan) == len(slots):
        return dict(zip(slots, plan))
    raise ActlabError(
        f"{len(plan)} activations given for a model with {len(body)} slots "
        f"({', '.join(body)}) plus 'output'; give {len(body)} or {len(slots)}"
    )


def slot_modules(plan: Plan, slots: Sequence[str]) -> dict[str, nn.Module]:
    """Each slot's own activation module for a plan (see the module docstring): specs are made
    anew per slot, in slot order; a module given for one slot is used as it is, one given for
    several slots is deep-copied for each."""
    specs = resolve_plan(plan, slots)
    uses: dict[int, list[str]] = {}
    for s in slots:
        if isinstance(specs[s], nn.Module):
            uses.setdefault(id(specs[s]), []).append(s)

    def own(s: str) -> nn.Module:
        shared = uses.get(id(specs[s]), ())
        return copy_activation(specs[s], f"slots {', '.join(shared)}") if len(shared) > 1 else get(specs[s])

    return {s: own(s) for s in slots}


def copy_activation(module: nn.Module, given_for: str) -> nn.Module:
    """A deep copy of an activation module that is ``given_for`` several places (``"slots input,
    hidden_1"``); one line when it cannot be copied."""
    try:
        return copy.deepcopy(module)
    except Exception as e:  # whatever a module's state refuses (locks, open files, non-leaf tensors)
        raise ActlabError(
            f"activation module {type(module).__name__} is given for {given_for} but cannot be copied "
            f"for each ({first_line(e)}); give each a module of its own"
        ) from None


class SlotModel(nn.Module):
    """Base class: activation modules live in ``self.acts[slot]``; ``self.slot_layers[slot]``
    is the parametrised layer whose output the slot's activation receives."""

    slots: tuple[str, ...] = ()

    def _init_acts(
        self, plan: Plan, layers: Mapping[str, nn.Module], acts: Mapping[str, nn.Module] | None = None
    ) -> None:
        """Give each slot its own activation from the plan (or take it from ``acts``, made by
        :func:`slot_modules` from the same plan) and remember which layer feeds it."""
        specs = resolve_plan(plan, self.slots)
        self.acts = nn.ModuleDict(acts if acts is not None else slot_modules(specs, self.slots))
        self.specs = {s: _spec_text(specs[s]) for s in self.slots}
        self._slot_layer_names = {s: _name_in(self, m) for s, m in layers.items()}

    def slot_layers(self) -> dict[str, nn.Module]:
        return {s: self.get_submodule(n) for s, n in self._slot_layer_names.items()}


def _name_in(root: nn.Module, target: nn.Module) -> str:
    for name, m in root.named_modules():
        if m is target:
            return name
    raise ValueError("layer is not part of the model")


def _spec_text(spec: Any) -> str:
    if spec is None:
        return "linear"
    if isinstance(spec, str):
        return spec
    return getattr(spec, "__name__", None) or type(spec).__name__


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
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self._init_acts(activations, dict(zip(self.slots, self.linears)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for slot, lin in zip(self.slots, self.linears):
            x = self.acts[slot](lin(x))
        return x


class SeedCNN(SlotModel):
    """The CNN of the article "SELU vs ReLU on CIFAR-10", exactly:
    Conv2D(32, 3x3) -> act -> MaxPool(2) -> Conv2D(64, 3x3) -> act -> MaxPool(2) -> Flatten ->
    Dense(10). 42,442 trainable parameters on 32x32x3 input. (Keras applied softmax in the last
    Dense; here the output slot is identity and the loss takes the logits.)"""

    slots = ("input", "hidden_1", "output")

    def __init__(self, input_shape: Sequence[int], n_classes: int, activations: Plan = "relu"):
        super().__init__()
        c, h, w = input_shape
        self.conv1 = nn.Conv2d(c, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.pool = nn.MaxPool2d(2)
        oh, ow = ((h - 2) // 2 - 2) // 2, ((w - 2) // 2 - 2) // 2
        if oh < 1 or ow < 1:
            raise ActlabError(f"seed-cnn needs images of at least 10x10, got {h}x{w}")
        self.fc = nn.Linear(64 * oh * ow, n_classes)
        self._init_acts(activations, {"input": self.conv1, "hidden_1": self.conv2, "output": self.fc})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.acts["input"](self.conv1(x)))
        x = self.pool(self.acts["hidden_1"](self.conv2(x)))
        return self.acts["output"](self.fc(x.flatten(1)))


class _Block(nn.Module):
    """A basic residual block; its two activations are the model's slot modules, given at each
    call (held only in the model's ``acts``, so that each is registered once)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = (
            nn.Sequential()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor, act_mid: nn.Module, act_out: nn.Module) -> torch.Tensor:
        y = act_mid(self.bn1(self.conv1(x)))
        return act_out(self.bn2(self.conv2(y)) + self.short(x))


class ResNet(SlotModel):
    """A small residual CNN (stem + one basic block per stage, widths 16-32-64), where spatial
    activations such as FReLU make sense. Slots: ``input`` (stem), ``hidden_{2i-1}`` inside and
    ``hidden_{2i}`` after block i, ``output``."""

    def __init__(
        self,
        input_shape: Sequence[int],
        n_classes: int,
        activations: Plan = "relu",
        widths: Sequence[int] = (16, 32, 64),
    ):
        super().__init__()
        c = input_shape[0]
        self.slots = ("input", *(f"hidden_{i}" for i in range(1, 2 * len(widths) + 1)), "output")
        self.stem = nn.Sequential(nn.Conv2d(c, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]))
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            blocks.append(_Block(cin, w, 1 if i == 0 else 2))
            cin = w
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(cin, n_classes)
        layers = {"input": self.stem[0], "output": self.fc}
        for i, b in enumerate(self.blocks):
            layers[f"hidden_{2 * i + 1}"] = b.conv1
            layers[f"hidden_{2 * i + 2}"] = b.conv2
        self._init_acts(activations, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.acts["input"](self.stem(x))
        for i, b in enumerate(self.blocks):
            x = b(x, self.acts[f"hidden_{2 * i + 1}"], self.acts[f"hidden_{2 * i + 2}"])
        return self.acts["output"](self.fc(x.mean((2, 3))))


class CNN1D(SlotModel):
    """A 1-D CNN for MNIST-1D-like signals (N, C, L): three Conv1d(32) layers (the last two
    with stride 2), then a linear classifier. Slots: input, hidden_1, hidden_2, output."""

    slots = ("input", "hidden_1", "hidden_2", "output")

    def __init__(self, input_shape: Sequence[int], n_classes: int, activations: Plan = "relu", channels: int = 32):
        super().__init__()
        c, length = input_shape
        self.conv1 = nn.Conv1d(c, channels, 5, padding=2)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        out_len = (length + 1) // 2
        out_len = (out_len + 1) // 2
        self.fc = nn.Linear(channels * out_len, n_classes)
        self._init_acts(
            activations, {"input": self.conv1, "hidden_1": self.conv2, "hidden_2": self.conv3, "output": self.fc}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.acts["input"](self.conv1(x))
        x = self.acts["hidden_1"](self.conv2(x))
        x = self.acts["hidden_2"](self.conv3(x))
        return self.acts["output"](self.fc(x.flatten(1)))


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
        blocks, layers = [], {}
        for slot in self.slots[:-1]:
            act = acts[slot]
            gated = isinstance(act, GatedUnit)
            if gated and act.in_features is None:  # from a spec: sized here, as the MLP's first layer
                act = acts[slot] = GatedUnit(act.gate, width, max(1, round(2 * hidden / 3)))
            block = _EncoderBlock(width, heads, act.out_features if gated else hidden, gated)
            blocks.append(block)
            layers[slot] = act if gated else block.fc1
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
        for slot, block in zip(self.slots, self.blocks):
            x = block(x, self.acts[slot])
        return self.acts["output"](self.fc(self.norm(x.mean(1))))


def _prod(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _need(shape: Sequence[int], dims: int, model: str, hint: str) -> None:
    if len(shape) != dims:
        raise ActlabError(f"model '{model}' needs {hint} input, but the data has examples of shape {tuple(shape)}")


def _mlp(shape, k, acts, width: int = 64, depth: int = 3):
    return MLP(_prod(shape), k, acts, width=width, depth=depth)


def _seed_cnn(shape, k, acts):
    _need(shape, 3, "seed-cnn", "image (C, H, W)")
    return SeedCNN(shape, k, acts)


def _resnet(shape, k, acts):
    _need(shape, 3, "resnet", "image (C, H, W)")
    return ResNet(shape, k, acts)


def _cnn1d(shape, k, acts, channels: int = 32):
    _need(shape, 2, "cnn1d", "signal (C, L)")
    return CNN1D(shape, k, acts, channels=channels)


def _transformer(shape, k, acts, **options):
    if len(shape) not in (1, 2):
        raise ActlabError(
            f"model 'transformer' needs signal (C, L) or vector (d,) input, but the data has examples of "
            f"shape {tuple(shape)}; load images flat (--shape flat) or choose another model"
        )
    return Transformer(shape if len(shape) == 2 else (1, shape[0]), k, acts, **options)


MODELS: dict[str, Callable[..., SlotModel]] = {
    "mlp": _mlp,
    "seed-cnn": _seed_cnn,
    "resnet": _resnet,
    "cnn1d": _cnn1d,
    "transformer": _transformer,
}


def names() -> list[str]:
    return list(MODELS)


def build(name: str, input_shape: Sequence[int], n_classes: int, activations: Plan = "relu", **options) -> SlotModel:
    """Build a model by name (``mlp``, ``seed-cnn``, ``resnet``, ``cnn1d``, ``transformer``)."""
    make = MODELS.get(name)
    if make is None:
        close = difflib.get_close_matches(name, MODELS, n=2)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise ActlabError(f"unknown model {name!r}; {hint}choose one of: {', '.join(MODELS)}")
    try:
        return make(tuple(input_shape), n_classes, activations, **options)
    except TypeError as e:
        raise ActlabError(f"model {name!r}: {e}") from None


def slot_names(name: str, input_shape: Sequence[int], n_classes: int, **options) -> tuple[str, ...]:
    """The activation slots of a model, without building its activations."""
    return build(name, input_shape, n_classes, "linear", **options).slots


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "CNN1D",
    "MLP",
    "MODELS",
    "ResNet",
    "SeedCNN",
    "SlotModel",
    "Transformer",
    "build",
    "copy_activation",
    "count_parameters",
    "names",
    "resolve_plan",
    "slot_modules",
    "slot_names",
]
