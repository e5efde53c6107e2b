r"""Learnable and gated activation functions: PAU, ACON, meta-ACON, APL, SMU, StarReLU, xIELU,
Snake, and the gated linear units SwiGLU, GEGLU and ReGLU.

Every function has two forms. The catalogue's *function* takes its parameters as numbers
(``acon_c(x, p1=1.0, p2=0.0, beta=1.0)``); it is what plots, properties and NumPy references
describe, and it equals the *module* at its initial parameters. The module learns them.

Where the parameters live, as in the papers:

* **per layer** (scalars shared by every unit): :class:`PAU`, :class:`SMU`, :class:`StarReLU`,
  :class:`XIELU`. Such a module acts on each element alone, like PReLU with one slope.
* **per channel** (one value per channel of dim 1 of ``(N, C)``, ``(N, C, L)``,
  ``(N, C, H, W)``; a 1-D input is one channel): :class:`ACON`, :class:`MetaACON`,
  :class:`APL`, :class:`Snake`; and the projections of :class:`GatedUnit`. The channel count is
  inferred at the first call, as for FReLU, so a plain spec works in any model: run one forward
  pass before building an optimizer (actlab's trainer does). A module sized this way follows the
  layout of the input that sized it, so packed training refuses it.

Gated linear units (Shazeer 2020) own their projection: ``gate(xW + b) * (xV + c)``. As an
activation slot (no sizes given) a :class:`GatedUnit` keeps the width, ``d`` features in and
``d`` out (``h = d``), and its projection starts as ``[I; I]`` with zero bias, so that it first
computes ``x * gate(x)`` feature by feature (the catalogue's function) and then learns to mix
features. Given sizes, it is the first layer of a transformer's MLP (see
:class:`actlab.models.Transformer`), initialised like ``nn.Linear``.

Initial values differ from the reference code where that code draws them at random (the
catalogue function must be the module at its initial parameters) and for SMU, whose reference
start leaves its parameter without gradient; each class says what it does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedParameter

from actlab._errors import ActlabError
from actlab._validate import MAX_WIDTH, integer
from actlab.catalogue.ops import scipy_special

MAX_HINGES = 64

# The Padé approximation of leaky ReLU (slope 0.01) that Molina et al. start PAUs from
# ("pade_optimized_leakyrelu", degrees 5/4, safe denominator), as their code stores it: in float32.
PAU_NUMERATOR = tuple(
    float(np.float32(v))
    for v in (3.35583603e-02, 5.05000375e-01, 1.65343934e00, 2.01001052e00, 9.31901999e-01, 1.52424124e-01)
)
PAU_DENOMINATOR = tuple(float(np.float32(v)) for v in (3.30847488e-06, 3.98021568e00, 5.12471206e-07, 3.01830109e-01))

XIELU_EPS = -1e-6  # the reference code's exp(min(x, eps)) on the negative side

# --------------------------------------------------------------------------- functions


def rational(
    x: torch.Tensor, numerator: Sequence[float] | torch.Tensor, denominator: Sequence[float] | torch.Tensor
) -> torch.Tensor:
    r"""Safe rational function :math:`P(x) / (1 + \sum_k |b_k| |x|^k)`, ``P(x) = \sum_j a_j x^j``
    (Padé activation unit, Molina et al. 2020): the denominator is at least 1, so it has no poles."""
    p = numerator[-1] * torch.ones_like(x)
    for a in reversed(numerator[:-1]):  # Horner
        p = p * x + a
    ax = x.abs()
    q, power = torch.ones_like(x), torch.ones_like(x)
    for b in denominator:
        power = power * ax
        q = q + abs(b) * power
    return p / q


def pau(x: torch.Tensor) -> torch.Tensor:
    """The Padé activation unit at its initial coefficients (leaky ReLU on [-3, 3])."""
    return rational(x, PAU_NUMERATOR, PAU_DENOMINATOR)


def acon_c(x: torch.Tensor, p1: float = 1.0, p2: float = 0.0, beta: float = 1.0) -> torch.Tensor:
    """ACON-C: ``(p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x``."""
    d = (p1 - p2) * x
    return d * torch.sigmoid(beta * d) + p2 * x


def meta_acon(x: torch.Tensor, p1: float = 1.0, p2: float = 0.0) -> torch.Tensor:
    """Meta-ACON at its initial parameters: ACON-C with beta = sigmoid(0) = 1/2."""
    return acon_c(x, p1, p2, 0.5)


def apl(x: torch.Tensor, hinges: int = 2) -> torch.Tensor:
    """APL at its initial parameters: every hinge slope a_s is 0, so it is ReLU."""
    integer("apl: hinges", hinges, 1, MAX_HINGES)
    return F.relu(x)


def smu(x: torch.Tensor, alpha: float = 0.25, mu: float = 1.0) -> torch.Tensor:
    """Smooth maximum unit: ``((1 + alpha) x + (1 - alpha) x erf(mu (1 - alpha) x)) / 2``."""
    return ((1 + alpha) * x + (1 - alpha) * x * torch.erf(mu * (1 - alpha) * x)) / 2


def xielu(x: torch.Tensor, alpha_p: float = 0.8, alpha_n: float = 0.8, beta: float = 0.5) -> torch.Tensor:
    """xIELU: ``alpha_p x^2 + beta x`` for x > 0, ``alpha_n (exp(min(x, eps)) - 1) - alpha_n x + beta x`` else."""
    neg = alpha_n * torch.expm1(torch.clamp(x, max=XIELU_EPS)) - alpha_n * x + beta * x
    return torch.where(x > 0, alpha_p * x * x + beta * x, neg)


def swiglu(x: torch.Tensor) -> torch.Tensor:
    """SwiGLU at its initial projection [I; I]: ``x * swish(x)``."""
    return x * F.silu(x)


def geglu(x: torch.Tensor) -> torch.Tensor:
    """GEGLU at its initial projection [I; I]: ``x * gelu(x) = x^2 Phi(x)``."""
    return x * x * (0.5 * (1 + torch.erf(x * (1 / math.sqrt(2)))))


def reglu(x: torch.Tensor) -> torch.Tensor:
    """ReGLU at its initial projection [I; I]: ``x * relu(x)``."""
    return x * F.relu(x)


# --------------------------------------------------------------------------- NumPy references


def rational_numpy(x, numerator, denominator):
    x = np.asarray(x, dtype=np.float64)
    p = numerator[-1] * np.ones_like(x)
    for a in reversed(numerator[:-1]):
        p = p * x + a
    q = 1 + sum(abs(b) * np.abs(x) ** (k + 1) for k, b in enumerate(denominator))
    return p / q


def acon_c_numpy(x, p1=1.0, p2=0.0, beta=1.0):
    d = (np.asarray(p1) - p2) * x
    return d * scipy_special().expit(beta * d) + p2 * x


def apl_numpy(x, a, b):
    """``max(0, x) + sum_s a_s max(0, b_s - x)``; ``a`` and ``b`` broadcast with ``x[..., None]``."""
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(x, 0) + (np.asarray(a) * np.maximum(np.asarray(b) - x[..., None], 0)).sum(-1)


def smu_numpy(x, alpha=0.25, mu=1.0):
    return ((1 + alpha) * x + (1 - alpha) * x * scipy_special().erf(mu * (1 - alpha) * x)) / 2


def xielu_numpy(x, alpha_p=0.8, alpha_n=0.8, beta=0.5):
    x = np.asarray(x, dtype=np.float64)
    neg = alpha_n * np.expm1(np.minimum(x, XIELU_EPS)) - alpha_n * x + beta * x
    return np.where(x > 0, alpha_p * x * x + beta * x, neg)


GATES: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[np.ndarray], np.ndarray]]] = {
    "silu": (F.silu, lambda z: z * scipy_special().expit(z)),
    "gelu": (F.gelu, lambda z: 0.5 * z * (1 + scipy_special().erf(z / math.sqrt(2)))),
    "relu": (F.relu, lambda z: np.maximum(z, 0)),
}


def gated_numpy(x, weight, bias, gate: str):
    """``gate(x W^T + b)[:h] * (x W^T + b)[h:]`` for rows ``x`` of shape ``(N, d)``: Shazeer's
    ``gate(xW) * xV`` with ``W``, ``V`` stacked in ``weight`` ``(2h, d)``."""
    z = np.asarray(x, dtype=np.float64) @ np.asarray(weight, dtype=np.float64).T + bias
    h = z.shape[-1] // 2
    return GATES[gate][1](z[..., :h]) * z[..., h:]


# --------------------------------------------------------------------------- per-layer modules


def _scalar(value: float) -> nn.Parameter:
    return nn.Parameter(torch.tensor([float(value)]))


class PAU(nn.Module):
    r"""Padé activation unit :math:`\frac{\sum_{j=0}^{5} a_j x^j}{1 + \sum_{k=1}^{4} |b_k| |x|^k}`.

    One set of coefficients per layer, learned. Initialised with the authors' fit of leaky ReLU
    (slope 0.01) on [-3, 3]; far outside it the fit grows like ``0.505 x`` on both sides.

    Args:
        numerator: ``a_0 ... a_m`` (default: the leaky ReLU fit, m = 5).
        denominator: ``b_1 ... b_n`` (default: the leaky ReLU fit, n = 4).

    Shape: any; element-wise. Reference: Molina, Schramowski & Kersting, "Padé Activation Units:
    End-to-end Learning of Flexible Activation Functions in Deep Networks", ICLR 2020, arXiv 1907.06732.
    """

    def __init__(self, numerator: Sequence[float] = PAU_NUMERATOR, denominator: Sequence[float] = PAU_DENOMINATOR):
        super().__init__()
        if len(numerator) < 1 or len(denominator) < 1:
            raise ActlabError("pau needs at least one numerator and one denominator coefficient")
        self.numerator = nn.Parameter(torch.tensor([float(a) for a in numerator]))
        self.denominator = nn.Parameter(torch.tensor([float(b) for b in denominator]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rational(x, self.numerator, self.denominator)

    def extra_repr(self) -> str:
        return f"degrees=({len(self.numerator) - 1}, {len(self.denominator)})"


class SMU(nn.Module):
    r"""Smooth maximum unit :math:`\frac{(1 + \alpha) x + (1 - \alpha) x \,\mathrm{erf}(\mu (1 - \alpha) x)}{2}`,
    a smooth :math:`\max(x, \alpha x)`.

    ``mu`` is learned (one per layer); ``alpha`` is fixed. The authors' code starts ``mu`` at
    1e6, where the unit is leaky ReLU to float precision and ``mu`` gets almost no gradient;
    actlab starts at ``mu = 1`` (give ``mu=1e6`` for theirs).

    Shape: any; element-wise. Reference: Biswas, Kumar, Banerjee & Pandey, "Smooth Maximum Unit:
    Smooth Activation Function for Deep Networks Using Smoothing Maximum Technique", CVPR 2022,
    arXiv 2111.04682.
    """

    def __init__(self, alpha: float = 0.25, mu: float = 1.0):
        super().__init__()
        self.alpha = float(alpha)
        self.mu = _scalar(mu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return smu(x, self.alpha, self.mu[0])  # a 0-d value: the output keeps the input's shape, 0-d included

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class StarReLU(nn.Module):
    r"""StarReLU :math:`s \max(0, x)^2 + b` with a learned scale ``s`` and bias ``b`` (one each per
    layer), started at MetaFormer's 0.8944 and -0.4472 (unit mean and variance for N(0, 1) input).

    Shape: any; element-wise. Reference: Yu et al., "MetaFormer Baselines for Vision", arXiv
    2210.13452 (2022); timm ``StarReLU``.
    """

    def __init__(self, scale: float = 0.8944, bias: float = -0.4472):
        super().__init__()
        self.scale = _scalar(scale)
        self.bias = _scalar(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale[0] * F.relu(x) ** 2 + self.bias[0]


class XIELU(nn.Module):
    r"""Expanded integral of ELU: :math:`\alpha_p x^2 + \beta x` for :math:`x > 0`,
    :math:`\alpha_n (e^{\min(x, \epsilon)} - 1) - \alpha_n x + \beta x` otherwise.

    ``alpha_p`` and ``alpha_n`` are learned (one each per layer) through
    :math:`\alpha_p = \mathrm{softplus}(a_p)` and :math:`\alpha_n = \beta + \mathrm{softplus}(a_n)`,
    as the reference code does, so that ``alpha_p > 0`` and ``alpha_n > beta``; ``beta = 0.5`` and
    ``eps = -1e-6`` are fixed.

    Shape: any; element-wise. Reference: Huang & Schlag, "Deriving Activation Functions Using
    Integration", arXiv 2411.13010 (2024).
    """

    def __init__(self, alpha_p: float = 0.8, alpha_n: float = 0.8, beta: float = 0.5):
        super().__init__()
        if not alpha_p > 0 or not alpha_n > beta:
            raise ActlabError(
                f"xielu needs alpha_p > 0 and alpha_n > beta, got alpha_p={alpha_p}, alpha_n={alpha_n}, beta={beta}"
            )
        self.beta = float(beta)
        self.a_p = _scalar(_softplus_inverse(alpha_p))
        self.a_n = _scalar(_softplus_inverse(alpha_n - beta))

    @property
    def alpha_p(self) -> torch.Tensor:
        return F.softplus(self.a_p[0])

    @property
    def alpha_n(self) -> torch.Tensor:
        return self.beta + F.softplus(self.a_n[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return xielu(x, self.alpha_p, self.alpha_n, self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


def _softplus_inverse(y: float) -> float:
    return y + math.log(-math.expm1(-y))  # log(exp(y) - 1), without overflow for large y


# --------------------------------------------------------------------------- per-channel modules


def _channels(x: torch.Tensor) -> int:
    return x.shape[1] if x.dim() >= 2 else 1


class PerChannel(LazyModuleMixin, nn.Module):
    """Base of modules with parameters per channel (dim 1), the channel count inferred at the
    first call unless given. Subclasses name their parameters and shapes in ``shapes`` (the part
    after the channel dimension), set them in ``reset_parameters`` and compute ``_forward(x)`` on
    an input with at least two dimensions."""

    cls_to_become = None
    label = "per-channel unit"  # the catalogue name, in messages
    shapes: dict[str, tuple[int, ...]] = {}

    def __init__(self, channels: int | None = None):
        super().__init__()
        for name in self.shapes:
            self.register_parameter(name, UninitializedParameter())
        if channels is not None:
            self._materialize(
                integer(f"{self.label}: channels", channels, 1, MAX_WIDTH),
                torch.device("cpu"),
                torch.get_default_dtype(),
            )

    @property
    def channels(self) -> int | None:
        return None if self.has_uninitialized_params() else getattr(self, next(iter(self.shapes))).shape[0]

    def initialize_parameters(self, x: torch.Tensor) -> None:  # called by LazyModuleMixin
        if self.has_uninitialized_params():
            self._materialize(_channels(x), x.device, x.dtype)

    def _materialize(self, c: int, device, dtype) -> None:
        with torch.no_grad():
            for name, shape in self.shapes.items():
                getattr(self, name).materialize((c, *shape), device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        raise NotImplementedError

    def per_channel(self, p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``p`` of shape ``(C, *rest)`` viewed to broadcast against ``x`` ``(N, C, ...)``: ``(1, C, 1.., *rest)``."""
        return p.view(1, p.shape[0], *([1] * (x.dim() - 2)), *p.shape[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _channels(x) != self.channels:
            raise ActlabError(
                f"{self.label} was sized for {self.channels} channels at its first call, got input of "
                f"shape {tuple(x.shape)} (channels on dim 1); use a new module for another width"
            )
        if x.dim() == 0:  # one value: one channel, and a 0-d output
            return self.forward(x.reshape(1)).squeeze(0)
        if x.dim() == 1:
            return self._forward(x.unsqueeze(1)).squeeze(1)
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class ACON(PerChannel):
    r"""ACON-C :math:`(p_1 - p_2) x \,\sigma(\beta (p_1 - p_2) x) + p_2 x` with ``p1``, ``p2`` and
    ``beta`` learned per channel: a smooth switch between the linear pieces :math:`p_1 x` and
    :math:`p_2 x` (ReLU for p1 = 1, p2 = 0, beta -> infinity).

    Initial values: ``p1 = 1, p2 = 0, beta = 1`` by default (the unit starts as Swish); the
    reference code draws ``p1`` and ``p2`` from N(0, 1).

    Shape: ``(N, C, *)``; the channel count is inferred at the first call unless ``channels`` is given.
    Reference: Ma, Zhang, Liu, Zhang & Sun, "Activate or Not: Learning Customized Activation",
    CVPR 2021, arXiv 2009.04759.
    """

    label = "acon_c"
    shapes = {"p1": (), "p2": (), "beta": ()}

    def __init__(self, p1: float = 1.0, p2: float = 0.0, beta: float = 1.0, channels: int | None = None):
        self.init = (float(p1), float(p2), float(beta))
        super().__init__(channels)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params():
            for p, v in zip((self.p1, self.p2, self.beta), self.init, strict=True):
                nn.init.constant_(p, v)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        v = lambda p: self.per_channel(p, x)  # noqa: E731
        return acon_c(x, v(self.p1), v(self.p2), v(self.beta))


class MetaACON(PerChannel):
    r"""Meta-ACON: ACON-C whose switching factor is generated from the input,
    :math:`\beta = \sigma(W_2 W_1 \bar{x})`, where :math:`\bar{x}` is the mean of each channel over
    the positions of one example (the example itself for ``(N, C)`` input), ``W_1`` maps C channels
    to ``max(r, C // r)`` and ``W_2`` back (the paper's channel-wise design, r = 16).

    ``p1`` and ``p2`` are learned per channel, starting at 1 and 0; ``W_2`` and its bias start at
    zero, so that beta = 1/2 everywhere at first (the unit starts as ``x * sigmoid(x / 2)``), and
    ``W_1`` as ``nn.Linear``. The reference code draws ``p1``, ``p2`` from N(0, 1) and adds batch
    norms inside the generator, which the paper's formula does not have (and which fail on a
    batch of one example).

    Shape: ``(N, C, *)``; the channel count is inferred at the first call unless ``channels`` is given.
    Reference: Ma, Zhang, Liu, Zhang & Sun, "Activate or Not: Learning Customized Activation",
    CVPR 2021, arXiv 2009.04759.
    """

    label = "meta_acon"
    shapes = {"p1": (), "p2": ()}
    reduction = 16

    def __init__(self, p1: float = 1.0, p2: float = 0.0, channels: int | None = None):
        self.init = (float(p1), float(p2))
        super().__init__(channels)

    def _materialize(self, c: int, device, dtype) -> None:
        hidden = max(self.reduction, c // self.reduction)
        self.fc1 = nn.Linear(c, hidden, device=device, dtype=dtype)  # the generator of beta
        self.fc2 = nn.Linear(hidden, c, device=device, dtype=dtype)
        super()._materialize(c, device, dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params():
            nn.init.constant_(self.p1, self.init[0])
            nn.init.constant_(self.p2, self.init[1])
            self.fc1.reset_parameters()
            nn.init.zeros_(self.fc2.weight)
            nn.init.zeros_(self.fc2.bias)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(tuple(range(2, x.dim()))) if x.dim() > 2 else x
        beta = torch.sigmoid(self.fc2(self.fc1(pooled)))
        beta = beta.view(*beta.shape, *([1] * (x.dim() - 2)))
        return acon_c(x, self.per_channel(self.p1, x), self.per_channel(self.p2, x), beta)


class APL(PerChannel):
    r"""Adaptive piecewise linear unit :math:`\max(0, x) + \sum_{s=1}^{S} a_s \max(0, b_s - x)`
    with ``S`` hinges, ``a_s`` and ``b_s`` learned per channel.

    Initial values: ``a_s = 0`` (the unit starts as ReLU; the reference code draws ``a_s`` from
    U(-0.2, 0.2), mean 0) and ``b_s`` at the S evenly spaced quantiles of N(0, 0.5^2), the
    reference code's distribution for ``b_s``.

    Shape: ``(N, C, *)``; the channel count is inferred at the first call unless ``channels`` is given.
    Reference: Agostinelli, Hoffman, Sadowski & Baldi, "Learning Activation Functions to Improve
    Deep Neural Networks", ICLR 2015 workshop, arXiv 1412.6830.
    """

    label = "apl"

    def __init__(self, hinges: int = 2, channels: int | None = None):
        self.hinges = integer("apl: hinges", hinges, 1, MAX_HINGES)
        self.shapes = {"a": (self.hinges,), "b": (self.hinges,)}
        super().__init__(channels)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params():
            nn.init.zeros_(self.a)
            q = (torch.arange(self.hinges, dtype=torch.float64) + 0.5) / self.hinges
            with torch.no_grad():
                self.b.copy_((0.5 * torch.special.ndtri(q)).expand_as(self.b))

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.per_channel(self.a, x), self.per_channel(self.b, x)
        return F.relu(x) + (a * F.relu(b - x.unsqueeze(-1))).sum(-1)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, hinges={self.hinges}"


class Snake(PerChannel):
    r"""Snake :math:`x + \frac{\sin^2(\alpha x)}{\alpha}` with ``alpha`` learned per channel,
    started at ``alpha`` (default 1).

    Shape: ``(N, C, *)``; the channel count is inferred at the first call unless ``channels`` is given.
    Reference: Liu Ziyin, Hartwig & Ueda, "Neural Networks Fail to Learn Periodic Functions and
    How to Fix It", NeurIPS 2020, arXiv 2006.08195.
    """

    label = "snake_learnable"
    shapes = {"alpha": ()}

    def __init__(self, alpha: float = 1.0, channels: int | None = None):
        if alpha == 0:
            raise ActlabError("snake: alpha must not be 0 (the function divides by it)")
        self.init = float(alpha)
        super().__init__(channels)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params():
            nn.init.constant_(self.alpha, self.init)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.per_channel(self.alpha, x)
        return x + torch.sin(a * x) ** 2 / a


class GatedUnit(LazyModuleMixin, nn.Module):
    r"""Gated linear unit with its projection: :math:`\mathrm{gate}(xW^T + b) \odot (xV^T + c)`,
    ``W``, ``V`` of shape ``(h, d)`` stacked in ``weight`` ``(2h, d)``, applied along dim 1.

    Args:
        gate: ``"silu"`` (SwiGLU), ``"gelu"`` (GEGLU) or ``"relu"`` (ReGLU).
        in_features: d; ``None`` infers it at the first call.
        hidden_features: h, the output width; ``None``: h = d, the width is kept.
        init: ``"identity"`` (``W = V = I``, zero bias: the unit starts as ``x * gate(x)`` per
            feature; needs h = d) or ``"linear"`` (as ``nn.Linear``). Default: ``"identity"``
            when ``hidden_features`` is None (an activation slot), else ``"linear"`` (the first
            layer of a transformer's MLP).

    Shape: ``(N, d, *)`` in, ``(N, h, *)`` out. Reference: Shazeer, "GLU Variants Improve
    Transformer", arXiv 2002.05202 (2020).
    """

    cls_to_become = None

    def __init__(
        self,
        gate: str = "silu",
        in_features: int | None = None,
        hidden_features: int | None = None,
        init: str | None = None,
    ):
        super().__init__()
        if gate not in GATES:
            raise ActlabError(f"unknown gate {gate!r}; choose one of {', '.join(GATES)}")
        self.gate = gate
        self.hidden_features = (
            None if hidden_features is None else integer("gated unit: hidden_features", hidden_features, 1, MAX_WIDTH)
        )
        self.init = init or ("identity" if hidden_features is None else "linear")
        if self.init not in ("identity", "linear"):
            raise ActlabError(f"gated unit: init must be 'identity' or 'linear', got {self.init!r}")
        self.weight = UninitializedParameter()
        self.bias = UninitializedParameter()
        if in_features is not None:
            self._materialize(
                integer("gated unit: in_features", in_features, 1, MAX_WIDTH),
                torch.device("cpu"),
                torch.get_default_dtype(),
            )

    @property
    def in_features(self) -> int | None:
        return None if self.has_uninitialized_params() else self.weight.shape[1]

    @property
    def out_features(self) -> int | None:
        return None if self.has_uninitialized_params() else self.weight.shape[0] // 2

    def initialize_parameters(self, x: torch.Tensor) -> None:  # called by LazyModuleMixin
        if self.has_uninitialized_params():
            self._materialize(_channels(x), x.device, x.dtype)

    def _materialize(self, d: int, device, dtype) -> None:
        h = self.hidden_features or d
        if self.init == "identity" and h != d:
            raise ActlabError(f"gated unit: init 'identity' needs as many outputs as inputs, got {d} -> {h}")
        with torch.no_grad():
            self.weight.materialize((2 * h, d), device=device, dtype=dtype)
            self.bias.materialize((2 * h,), device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.has_uninitialized_params():
            return
        with torch.no_grad():
            if self.init == "identity":
                d = self.weight.shape[1]
                self.weight.copy_(torch.eye(d).repeat(2, 1))
                self.bias.zero_()
            else:  # as nn.Linear.reset_parameters
                nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
                bound = 1 / math.sqrt(self.weight.shape[1])
                nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _channels(x) != self.in_features:
            raise ActlabError(
                f"gated unit was sized for {self.in_features} features at its first call, got input of "
                f"shape {tuple(x.shape)} (features on dim 1); use a new module for another width"
            )
        if x.dim() == 0:  # one value: one feature, and a 0-d output where the width is kept
            return self.forward(x.reshape(1)).squeeze(0)
        z = x.unsqueeze(-1) if x.dim() == 1 else x.movedim(1, -1)
        g, v = F.linear(z, self.weight, self.bias).chunk(2, dim=-1)
        y = GATES[self.gate][0](g) * v
        return y.squeeze(-1) if x.dim() == 1 else y.movedim(-1, 1)

    def extra_repr(self) -> str:
        return f"gate={self.gate}, in_features={self.in_features}, out_features={self.out_features}, init={self.init}"


__all__ = [
    "ACON",
    "APL",
    "GATES",
    "GatedUnit",
    "MetaACON",
    "PAU",
    "PerChannel",
    "SMU",
    "Snake",
    "StarReLU",
    "XIELU",
    "acon_c",
    "apl",
    "geglu",
    "meta_acon",
    "pau",
    "rational",
    "reglu",
    "smu",
    "swiglu",
    "xielu",
]
