"""Models by name: ``build(name, input_shape, n_classes, activations, **options)``; each model's
builder checks the kind of input it needs and says so in one line. A name of the form
``path/to/file.py:build`` or ``package.module:build`` is a user's model (:mod:`actlab.models.user`),
found by the same lookup as the built-in ones."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from actlab._errors import ActlabError
from actlab._refs import is_ref
from actlab.models.convnets import CNN1D, ResNet, SeedCNN
from actlab.models.mlp import MLP
from actlab.models.plan import Plan, SlotModel
from actlab.models.transformer import Transformer
from actlab.models.user import build_user

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


def lookup(name: str) -> Callable[..., SlotModel]:
    """The builder of a model: a built-in one by name, or a user's named ``file.py:build`` or
    ``package.module:build`` (its module imported when the model is built)."""
    if is_ref(name):
        return functools.partial(build_user, name)
    make = MODELS.get(name) if isinstance(name, str) else None
    if make is None:
        close = difflib.get_close_matches(str(name), MODELS, n=2)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise ActlabError(
            f"unknown model {name!r}; {hint}choose one of: {', '.join(MODELS)}, or your own as "
            "path/to/file.py:function or package.module:function"
        )
    return make


def build(
    name: str, input_shape: Sequence[int], n_classes: int, activations: Plan = "relu", **options: Any
) -> SlotModel:
    """Build a model by name (``mlp``, ``seed-cnn``, ``resnet``, ``cnn1d``, ``transformer``, or a
    user's ``file.py:build``)."""
    make = lookup(name)
    try:
        return make(tuple(input_shape), n_classes, activations, **options)
    except TypeError as e:
        raise ActlabError(f"model {name!r}: {e}") from None


def slot_names(name: str, input_shape: Sequence[int], n_classes: int, **options: Any) -> tuple[str, ...]:
    """The activation slots of a model, without building its activations."""
    return build(name, input_shape, n_classes, "linear", **options).slots


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_summary(name: str, input_shape: Sequence[int], n_classes: int, **options: Any) -> str:
    """``model NAME: N parameters; slots a, b, c``: the model built once (with ReLU), so that a
    model that cannot be built for this data says so in one line before any training."""
    model = build(name, input_shape, n_classes, "relu", **options)
    slots = ", ".join(model.slots)
    return f"model {name}: {count_parameters(model):,} parameters; slots {slots}"
