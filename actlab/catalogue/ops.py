"""keras.ops names on torch tensors: the namespace the catalogue's portable functions run in.

A catalogue function that is written once, in keras.ops names (NumPy's, mostly), is *portable*:

    def tanh_exp(x, ops=TORCH_OPS):
        return x * ops.tanh(ops.exp(x))

The catalogue runs it on torch tensors (``ops`` is :data:`TORCH_OPS`); :mod:`actlab.interop`
runs it in Keras (``ops=keras.ops``), and on placeholders that write its PyTorch or Keras source.
A name PyTorch spells differently is listed in :data:`TORCH_SPELLING`; any other name is torch's
own (``ops.tanh`` is ``torch.tanh``).
"""

from __future__ import annotations

import types
from collections.abc import Callable

import torch
import torch.nn.functional as F


def scipy_special() -> types.ModuleType:
    """``scipy.special``, imported at its first use (about 0.3 s): the catalogue's NumPy references
    use it, which worker processes and a study's start never call."""
    from scipy import special

    return special


# keras.ops name -> how PyTorch spells it, where the two differ (arguments by position agree)
TORCH_SPELLING: dict[str, str] = {
    "absolute": "torch.abs",
    "arccos": "torch.acos",
    "arcsin": "torch.asin",
    "arctan": "torch.atan",
    "celu": "F.celu",
    "clip": "torch.clamp",
    "elu": "F.elu",
    "hard_shrink": "F.hardshrink",
    "hard_sigmoid": "F.hardsigmoid",
    "hard_silu": "F.hardswish",
    "hard_swish": "F.hardswish",
    "hard_tanh": "F.hardtanh",
    "leaky_relu": "F.leaky_relu",
    "log_sigmoid": "F.logsigmoid",
    "negative": "torch.neg",
    "power": "torch.pow",
    "relu6": "F.relu6",
    "silu": "F.silu",
    "soft_shrink": "F.softshrink",
    "softplus": "F.softplus",
    "softsign": "F.softsign",
    "swish": "F.silu",
    "tanh_shrink": "F.tanhshrink",
    "threshold": "F.threshold",
}
_MODULES = {"torch": torch, "F": F}


def torch_spelling(op: str) -> str:
    """How PyTorch source calls the keras.ops function ``op``: ``"clip"`` -> ``"torch.clamp"``."""
    text = TORCH_SPELLING.get(op, f"torch.{op}")
    module, name = text.split(".")
    if op.startswith("_") or not callable(getattr(_MODULES[module], name, None)):
        raise AttributeError(f"keras.ops.{op} has no PyTorch spelling; add it to actlab.catalogue.ops.TORCH_SPELLING")
    return text


class TorchOps:
    """keras.ops names for torch functions: ``TORCH_OPS.clip is torch.clamp``."""

    def __getattr__(self, op: str) -> Callable[..., torch.Tensor]:
        if op.startswith("__"):
            raise AttributeError(op)
        module, name = torch_spelling(op).split(".")
        fn = getattr(_MODULES[module], name)
        setattr(self, op, fn)  # found once; a plain attribute from then on
        return fn


TORCH_OPS = TorchOps()

__all__ = ["TORCH_OPS", "TORCH_SPELLING", "TorchOps", "torch_spelling"]
