"""Models by name: ``build(name, input_shape, n_classes, activations, **options)``; each model's
builder checks the kind of input it needs and says so in one line."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from actlab._errors import ActlabError
from actlab.models.convnets import CNN1D, ResNet, SeedCNN
from actlab.models.mlp import MLP
from actlab.models.plan import Plan, SlotModel
from actlab.models.transformer import Transformer

Shape = tuple[int, ...]  # one example's shape


def _prod(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _need(shape: Sequence[int], dims: int, model: str, hint: str) -> None:
    if len(shape) != dims:
        raise ActlabError(f"model '{model}' needs {hint} input, but the data has examples of shape {tuple(shape)}")


def _mlp(shape: Shape, k: int, acts: Plan, width: int = 64, depth: int = 3) -> MLP:
    return MLP(_prod(shape), k, acts, width=width, depth=depth)


def _seed_cnn(shape: Shape, k: int, acts: Plan) -> SeedCNN:
    _need(shape, 3, "seed-cnn", "image (C, H, W)")
    return SeedCNN(shape, k, acts)


def _resnet(shape: Shape, k: int, acts: Plan) -> ResNet:
    _need(shape, 3, "resnet", "image (C, H, W)")
    return ResNet(shape, k, acts)


def _cnn1d(shape: Shape, k: int, acts: Plan, channels: int = 32) -> CNN1D:
    _need(shape, 2, "cnn1d", "signal (C, L)")
    return CNN1D(shape, k, acts, channels=channels)


def _transformer(shape: Shape, k: int, acts: Plan, **options: Any) -> Transformer:
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


def build(
    name: str, input_shape: Sequence[int], n_classes: int, activations: Plan = "relu", **options: Any
) -> SlotModel:
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


def slot_names(name: str, input_shape: Sequence[int], n_classes: int, **options: Any) -> tuple[str, ...]:
    """The activation slots of a model, without building its activations."""
    return build(name, input_shape, n_classes, "linear", **options).slots


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
