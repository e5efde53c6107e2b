"""Why an activation wins or loses: per-slot diagnostics (dead units, saturation, effective rank,
gradient flow).

For every activation slot of a model (``model.acts[slot]``), measured on the validation inputs
after training:

* ``dead``: fraction of units (features, or channels of a convolution) whose activation passes
  no gradient for *any* validation example and position, |f'(z)| < 1e-8 everywhere. A ReLU
  unit whose input is always negative is dead.
* ``saturated``: fraction of all pre-activations z where |f'(z)| < 0.01: the unit passes
  (almost) no gradient there. Sigmoid and tanh far from 0 saturate; so does ReLU's negative side.
* ``mean`` and ``std`` of the activation outputs (self-normalisation: SELU keeps them near 0, 1).
* ``effective_rank``: how many directions the slot's outputs use, as a share of the units:
  exp(entropy of the normalised singular values) of the centred outputs (rows: examples and
  positions, at most ``RANK_ROWS`` evenly spaced ones; columns: units), divided by the largest
  rank possible (Roy & Vetterli 2007). A layer whose units copy one another scores low.
* ``grad_norm_first`` and ``grad_norm_last``: mean L2 norm of the loss gradient with respect to
  the weight of the layer feeding the slot, over the batches of the first and the last epoch
  (vanishing or exploding gradients); in epochs of more than 63 batches, over evenly spaced
  batches, 32 to 63 of them (``trainer.GRAD_SAMPLES``).

f'(z) is taken with autograd through the slot's own module, so it is exact for element-wise
functions; for functions along a dimension (softmax) it is the column sum of the Jacobian.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from actlab.models.plan import SlotModel

DEAD = 1e-8
SATURATED = 1e-2
RANK_ROWS = 4096  # the effective rank is taken over at most this many rows of outputs


class GradientMonitor:
    """Accumulates, batch by batch, the gradient norm of each slot's layer weight."""

    def __init__(self, model: nn.Module):
        layers = model.slot_layers() if isinstance(model, SlotModel) else {}
        weights = {s: getattr(m, "weight", None) for s, m in layers.items()}
        self.weights = {s: w for s, w in weights.items() if isinstance(w, torch.Tensor)}
        self._sum: torch.Tensor | None = None
        self._n = 0

    def accumulate(self) -> None:
        """Add this batch's norms, as tensors (one fused norm call, converted once per epoch)."""
        grads = [w.grad if w.grad is not None else torch.zeros_like(w) for w in self.weights.values()]
        if not grads:
            return
        norms = torch.stack([n.double() for n in torch._foreach_norm(grads)])
        self._sum = norms if self._sum is None else self._sum + norms
        self._n += 1

    def epoch_means(self) -> dict[str, float]:
        sums = self._sum.tolist() if self._sum is not None else [math.nan] * len(self.weights)
        out = {s: v / self._n if self._n else math.nan for s, v in zip(self.weights, sums, strict=True)}
        self._sum, self._n = None, 0
        return out

    def remove(self) -> None:
        self.weights = {}


def slot_diagnostics(
    model: SlotModel, x: torch.Tensor, epochs: list[dict[str, Any]], batch: int = 1024
) -> dict[str, dict[str, float]]:
    """Diagnostics of every slot of ``model`` on inputs ``x`` (see the module docstring)."""
    inputs: dict[str, list[torch.Tensor]] = {s: [] for s in model.acts}
    hooks = [m.register_forward_hook(_keep_input(inputs[s])) for s, m in model.acts.items()]
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch):
                model(x[i : i + batch])
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    out = {}
    for slot, act in model.acts.items():
        if not inputs[slot]:
            continue
        out[slot] = _measure(act, torch.cat(inputs[slot]))
        first = epochs[0].get("grad_norm", {}) if epochs else {}
        last = epochs[-1].get("grad_norm", {}) if epochs else {}
        out[slot]["grad_norm_first"] = first.get(slot, math.nan)
        out[slot]["grad_norm_last"] = last.get(slot, math.nan)
    return out


def as_rows(t: torch.Tensor) -> torch.Tensor:
    """(N, C, ...) activations as rows of C features: (N * positions, C)."""
    return t.reshape(t.shape[0], -1) if t.dim() <= 2 else t.transpose(1, -1).reshape(-1, t.shape[1])


def effective_rank(m: torch.Tensor) -> float:
    """exp(entropy of the normalised singular values of the centred ``m``) / the largest possible rank."""
    if m.numel() == 0 or min(m.shape) == 0:
        return 0.0
    c = m - m.mean(0)
    c = c.T @ c if c.shape[0] >= c.shape[1] else c @ c.T  # the smaller Gram matrix: its eigenvalues are s^2
    s = torch.linalg.eigvalsh((c + c.T) / 2).clamp_min(0).sqrt()
    total = float(s.sum())
    if not total > 0 or not math.isfinite(total):
        return 0.0
    p = s / total
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum())) / min(m.shape)


def _rank_of_outputs(a: torch.Tensor) -> float:
    rows = as_rows(torch.nan_to_num(a.double(), nan=0.0, posinf=0.0, neginf=0.0))
    step = max(1, -(-len(rows) // RANK_ROWS))
    return effective_rank(rows[::step])


def _keep_input(store: list[torch.Tensor]) -> Callable[[nn.Module, tuple[Any, ...], Any], None]:
    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        store.append(args[0].detach())

    return hook


def _measure(act: nn.Module, z: torch.Tensor) -> dict[str, float]:
    was = act.training
    act.eval()
    try:
        z = z.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            a = act(z)
            (d,) = torch.autograd.grad(a.sum(), z, allow_unused=True)
    finally:
        act.train(was)
    d = torch.zeros_like(z) if d is None else d.detach()
    a = a.detach()
    flat = d.abs()
    # units: features of (N, F), channels of (N, C, ...)
    per_unit = flat.transpose(0, 1).reshape(flat.shape[1], -1) if flat.dim() > 1 else flat.reshape(1, -1)
    finite = torch.isfinite(a)
    return {
        "dead": float((per_unit.max(1).values < DEAD).float().mean()),
        "saturated": float((flat < SATURATED).float().mean()),
        "mean": float(a[finite].mean()) if finite.any() else math.nan,
        "std": float(a[finite].std()) if finite.sum() > 1 else math.nan,
        "effective_rank": _rank_of_outputs(a),
    }
