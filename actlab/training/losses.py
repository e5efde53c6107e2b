"""Classification losses of the Keras overview (BRIEF §2), all taking logits.

Every loss receives the model's raw output (logits) and applies softmax or sigmoid itself,
exactly once, so no model ever needs a softmax layer before its loss. Targets are class
indices; losses defined on one-hot targets build them internally. ``mape`` and ``msle`` are
regression losses and are refused with an explanation.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import torch
import torch.nn.functional as F

from actlab._errors import ActlabError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _onehot(y: torch.Tensor, k: int, dtype: torch.dtype) -> torch.Tensor:
    return F.one_hot(y, k).to(dtype)


def cross_entropy(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(z, y)


def binary_crossentropy(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One sigmoid per class against the one-hot target (one-vs-rest)."""
    return F.binary_cross_entropy_with_logits(z, _onehot(y, z.shape[1], z.dtype))


def hinge(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Keras hinge with one-hot targets mapped to +-1: mean(max(0, 1 - t z))."""
    t = 2 * _onehot(y, z.shape[1], z.dtype) - 1
    return torch.relu(1 - t * z).mean()


def squared_hinge(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    t = 2 * _onehot(y, z.shape[1], z.dtype) - 1
    return (torch.relu(1 - t * z) ** 2).mean()


def mse(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(torch.softmax(z, 1), _onehot(y, z.shape[1], z.dtype))


def mae(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(torch.softmax(z, 1), _onehot(y, z.shape[1], z.dtype))


def kl_divergence(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.kl_div(torch.log_softmax(z, 1), _onehot(y, z.shape[1], z.dtype), reduction="batchmean")


def poisson(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    p = torch.softmax(z, 1)
    return (p - _onehot(y, z.shape[1], z.dtype) * torch.log(p + 1e-7)).mean()


def cosine(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Keras' cosine-similarity loss: minus the cosine between probabilities and the one-hot target."""
    return -F.cosine_similarity(torch.softmax(z, 1), _onehot(y, z.shape[1], z.dtype), dim=1).mean()


LOSSES: dict[str, LossFn] = {
    "cross_entropy": cross_entropy,
    "binary_crossentropy": binary_crossentropy,
    "hinge": hinge,
    "squared_hinge": squared_hinge,
    "mse": mse,
    "mae": mae,
    "kl_divergence": kl_divergence,
    "poisson": poisson,
    "cosine": cosine,
}
ALIASES = {
    "ce": "cross_entropy",
    "crossentropy": "cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy",
    "categorical_crossentropy": "cross_entropy",
    "bce": "binary_crossentropy",
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
    "cosine_similarity": "cosine",
}
REGRESSION = {"mape", "msle", "mean_absolute_percentage_error", "mean_squared_logarithmic_error"}


def get_loss(name: str) -> LossFn:
    key = name.strip().lower().replace("-", "_")
    if key in REGRESSION:
        raise ActlabError(
            f"loss {name!r} is a regression loss and makes no sense for class labels; "
            f"choose one of: {', '.join(LOSSES)}"
        )
    key = ALIASES.get(key, key)
    if key not in LOSSES:
        close = difflib.get_close_matches(key, [*LOSSES, *ALIASES], n=2)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise ActlabError(f"unknown loss {name!r}; {hint}choose one of: {', '.join(LOSSES)}")
    return LOSSES[key]
