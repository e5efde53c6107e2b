"""FReLU, the funnel activation (Ma, Zhang & Sun, 2020, arXiv 2007.11824).

``y = max(x, T(x))`` where the *funnel condition* ``T`` is a depthwise ``k x k`` convolution
followed by batch norm, per channel. The channel count is inferred at the first call, so the
plain spec ``"frelu"`` works in any CNN; as with PyTorch's lazy modules, run one forward pass
before building the optimizer.

Not to be confused with "Flexible ReLU" (arXiv 1706.08098), ``relu(x) + b``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedBuffer, UninitializedParameter

from actlab._errors import ActlabError

MAX_KERNEL = 255  # the depthwise window: 65025 weights per channel


def frelu(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, kernel_size: int = 3
) -> torch.Tensor:
    """Funnel activation with the condition given explicitly: ``max(x, dwconv(x, weight) + bias)``.

    Shape: ``x`` is ``(N, C, H, W)``, ``weight`` is ``(C, 1, k, k)``, ``bias`` is ``(C,)``.
    In evaluation mode :class:`FReLU` equals this function with its batch norm folded into
    ``weight`` and ``bias``.
    """
    if x.dim() != 4:
        raise ActlabError(f"frelu needs (N, C, H, W) input, got shape {tuple(x.shape)}")
    k = weight.shape[-1]
    if k != kernel_size:
        raise ActlabError(f"frelu: weight has kernel size {k}, expected {kernel_size}")
    t = F.conv2d(x, weight, bias, padding=k // 2, groups=x.shape[1])
    return torch.maximum(x, t)


def frelu_numpy(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, kernel_size: int = 3) -> np.ndarray:
    """NumPy reference of :func:`frelu` (cross-correlation with zero padding, as ``conv2d``)."""
    x = np.asarray(x, dtype=np.float64)
    n, c, h, w = x.shape
    k = weight.shape[-1]
    p = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    t = np.zeros_like(x)
    for i in range(k):
        for j in range(k):
            t += xp[:, :, i : i + h, j : j + w] * weight[None, :, 0, i, j, None, None]
    if bias is not None:
        t += np.asarray(bias)[None, :, None, None]
    return np.maximum(x, t)


class FReLU(LazyModuleMixin, nn.Module):
    r"""Funnel activation :math:`\max(x, \mathrm{BN}(\mathrm{DWConv}_{k\times k}(x)))`.

    Args:
        channels: number of channels C; ``None`` (default) infers it at the first call.
        kernel_size: odd size k of the depthwise window (default 3, padding ``k // 2``).

    Shape: ``(N, C, H, W)`` in and out.
    Reference: Ma, Zhang & Sun, "Funnel Activation for Visual Recognition", ECCV 2020.
    """

    cls_to_become = None

    def __init__(self, channels: int | None = None, kernel_size: int = 3, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        if not 1 <= kernel_size <= MAX_KERNEL or kernel_size % 2 == 0:
            raise ActlabError(f"frelu: kernel_size must be an odd number from 1 to {MAX_KERNEL}, got {kernel_size}")
        self.kernel_size, self.eps, self.momentum = kernel_size, eps, momentum
        self.weight = UninitializedParameter()
        self.bn_weight = UninitializedParameter()
        self.bn_bias = UninitializedParameter()
        self.register_buffer("running_mean", UninitializedBuffer())
        self.register_buffer("running_var", UninitializedBuffer())
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        if channels is not None:
            self._materialize(channels, torch.device("cpu"), torch.get_default_dtype())

    @property
    def channels(self) -> int | None:
        return None if self.has_uninitialized_params() else self.weight.shape[0]

    def _materialize(self, c: int, device, dtype) -> None:
        k = self.kernel_size
        with torch.no_grad():
            self.weight.materialize((c, 1, k, k), device=device, dtype=dtype)
            self.bn_weight.materialize((c,), device=device, dtype=dtype)
            self.bn_bias.materialize((c,), device=device, dtype=dtype)
            self.running_mean.materialize((c,), device=device, dtype=dtype)
            self.running_var.materialize((c,), device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.has_uninitialized_params():
            return
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # as nn.Conv2d does
        nn.init.ones_(self.bn_weight)
        nn.init.zeros_(self.bn_bias)
        self.running_mean.zero_()
        self.running_var.fill_(1)
        self.num_batches_tracked.zero_()

    def initialize_parameters(self, x: torch.Tensor) -> None:  # called by LazyModuleMixin
        if x.dim() != 4:
            raise ActlabError(f"frelu needs (N, C, H, W) input, got shape {tuple(x.shape)}; use it after a Conv2d")
        if self.has_uninitialized_params():
            self._materialize(x.shape[1], x.device, x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ActlabError(f"frelu needs (N, C, H, W) input, got shape {tuple(x.shape)}; use it after a Conv2d")
        k = self.kernel_size
        t = F.conv2d(x, self.weight, None, padding=k // 2, groups=x.shape[1])
        if self.training:
            self.num_batches_tracked.add_(1)
        t = F.batch_norm(
            t, self.running_mean, self.running_var, self.bn_weight, self.bn_bias, self.training, self.momentum, self.eps
        )
        return torch.maximum(x, t)

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(weight, bias)`` with the evaluation-mode batch norm folded in, for :func:`frelu`."""
        scale = self.bn_weight / torch.sqrt(self.running_var + self.eps)
        return self.weight * scale[:, None, None, None], self.bn_bias - self.running_mean * scale

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}"
