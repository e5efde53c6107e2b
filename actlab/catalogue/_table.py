r"""The catalogue: one table of named activation functions.

Each entry gives the torch function, its NumPy reference (used by the tests), a LaTeX
formula, a plain-language note, a reference, a kind and the properties of its curve, and where
it has one its ``portable`` form: the function in keras.ops names, from which actlab.interop
exports it to Keras and writes its source. In formulas ``[P]`` is the Iverson bracket: 1 where
P holds, else 0.

Where libraries disagree the table keeps both under clear names:

* ``leaky_relu`` is PyTorch's (slope 0.01); ``leaky_relu_keras`` is Keras' ``leaky_relu``
  (slope 0.2).
* ``hard_sigmoid`` (alias ``hardsigmoid``) is Keras 2's and the source articles'
  ``clip(0.2x + 0.5, 0, 1)``: 0 below -2.5, 1 above 2.5. ``hard_sigmoid_torch`` is PyTorch's
  ``nn.Hardsigmoid`` and Keras 3's ``hard_sigmoid``: ``relu6(x + 3) / 6``.

Functions applied along a dimension (softmax and friends) use ``dim=1``, the feature axis of
``(N, C)`` and the channel axis of ``(N, C, H, W)`` tensors, as the à-la-carte paper did.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from actlab.catalogue import learnable as LN
from actlab.catalogue._registry import REGISTRY, Entry
from actlab.catalogue.frelu import FReLU, frelu, frelu_numpy
from actlab.catalogue.ops import TORCH_OPS, scipy_special

INF = math.inf
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805

# --------------------------------------------------------------------------- NumPy helpers


def _np(f):
    """Wrap a NumPy reference so that overflow / invalid-value warnings stay quiet."""

    def g(x, **kw):
        with np.errstate(all="ignore"):
            return f(np.asarray(x, dtype=np.float64), **kw)

    g.__name__ = getattr(f, "__name__", "ref")
    return g


def _sp(name: str):
    """The NumPy reference ``scipy.special.<name>``, looked up when first called."""

    def f(x, **kw):
        return getattr(scipy_special(), name)(x, **kw)

    f.__name__ = name
    return f


def _sigmoid(x):
    return scipy_special().expit(x)


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.logaddexp(0.0, beta * x) / beta)


def _along(x, dim, f):
    return np.moveaxis(f(np.moveaxis(x, dim, -1)), -1, dim)


def _softmax_last(z):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sparsemax_last(z):
    zs = -np.sort(-z, axis=-1)
    k = np.arange(1, z.shape[-1] + 1)
    cs = np.cumsum(zs, axis=-1)
    support = 1 + k * zs > cs
    kz = np.maximum(support.sum(axis=-1, keepdims=True), 1)  # 0 only for rows with NaN or inf
    tau = (np.take_along_axis(cs, kz - 1, axis=-1) - 1) / kz
    return np.where(
        np.isnan(z).any(axis=-1, keepdims=True), np.nan, np.maximum(z - tau, 0.0)
    )  # as torch: NaN fills its row


def _gumbel_softmax(x, tau=1.0, dim=1, gumbels=None, seed=None):
    """Softmax of (x + g) / tau along ``dim``; ``g`` is Gumbel(0, 1) noise, drawn from ``seed``
    unless given (pass the noise torch drew to compare with ``F.gumbel_softmax``)."""
    g = np.random.default_rng(seed).gumbel(size=x.shape) if gumbels is None else np.asarray(gumbels, dtype=np.float64)
    return _along((x + g) / tau, dim, _softmax_last)


def _nan_keep(x, y):
    """NumPy's comparisons turn NaN into False; torch keeps NaN. Match torch."""
    return np.where(np.isnan(x), np.nan, y)


# --------------------------------------------------------------------------- torch functions
# Native torch ops wherever one exists (the row's ``portable=`` says how it reads in keras.ops
# names); small compositions otherwise, written once in keras.ops names and given as their row's
# ``portable=`` too: ``ops`` is torch here (TORCH_OPS: ``ops.clip`` is ``torch.clamp``), keras.ops
# in Keras, and placeholders that write source in actlab.interop. The NumPy references are written
# apart: they check the formula.


def identity(x, ops=TORCH_OPS):
    return x


def step(x, threshold=0.0, ops=TORCH_OPS):
    # 1 at or above the threshold, else 0; built from clamp and ceil so that autograd gives a
    # (zero) gradient instead of refusing, and NaN stays NaN.
    return 1.0 - ops.ceil(ops.clip(threshold - x, 0.0, 1.0))


def hard_sigmoid(x, ops=TORCH_OPS):
    return ops.clip(0.2 * x + 0.5, 0.0, 1.0)


def prelu(x, init=0.25, num_parameters=1):
    return F.prelu(x, x.new_full((num_parameters,), init))


def gumbel_softmax(x, tau=1.0, dim=1):
    return F.gumbel_softmax(x, tau=tau, hard=False, dim=dim)


def generalized_swish(x, ops=TORCH_OPS):
    return x * ops.sigmoid(ops.exp(-x))


def sigmoid_derivative(x, ops=TORCH_OPS):
    # exp(-x) * sigmoid(x)^2 == sigmoid(x) * sigmoid(-x); this form never computes inf * 0.
    return ops.sigmoid(x) * ops.sigmoid(-x)


def cloglogm(x, ops=TORCH_OPS):
    return 1 - 2 * ops.exp(-0.7 * ops.exp(x))


def quick_gelu(x, ops=TORCH_OPS):
    return x * ops.sigmoid(1.702 * x)


def hard_mish(x, ops=TORCH_OPS):
    return 0.5 * x * ops.clip(x + 2, 0, 2)


def squareplus(x, b=4.0, ops=TORCH_OPS):
    return 0.5 * (x + ops.sqrt(x * x + b))


def sparse_plus(x, ops=TORCH_OPS):
    return ops.where(x <= -1, ops.zeros_like(x), ops.where(x >= 1, x, 0.25 * (x + 1) ** 2))


def sparse_sigmoid(x, ops=TORCH_OPS):
    return ops.clip(0.5 * (x + 1), 0.0, 1.0)


def sparsemax(x, dim=1):
    z = x.transpose(dim, -1)
    zs, _ = torch.sort(z, dim=-1, descending=True)
    k = torch.arange(1, z.shape[-1] + 1, dtype=x.dtype, device=x.device)
    cs = zs.cumsum(-1)
    kz = (1 + k * zs > cs).sum(-1, keepdim=True).clamp(min=1)  # 0 only for rows with NaN or inf
    tau = (cs.gather(-1, kz - 1) - 1) / kz.to(x.dtype)
    return torch.clamp(z - tau, min=0).transpose(dim, -1)


def bent_identity(x, ops=TORCH_OPS):
    return (ops.sqrt(x * x + 1) - 1) / 2 + x


def gaussian(x, ops=TORCH_OPS):
    return ops.exp(-x * x)


def isru(x, alpha=1.0, ops=TORCH_OPS):
    return x * ops.rsqrt(1 + alpha * x * x)


def isrlu(x, alpha=1.0, ops=TORCH_OPS):
    return ops.where(x >= 0, x, x * ops.rsqrt(1 + alpha * x * x))


def serf(x, ops=TORCH_OPS):
    return x * ops.erf(ops.softplus(x))


def tanh_exp(x, ops=TORCH_OPS):
    return x * ops.tanh(ops.exp(x))


def elish(x, ops=TORCH_OPS):
    return ops.where(x >= 0, x, ops.expm1(x)) * ops.sigmoid(x)


def snake(x, alpha=1.0, ops=TORCH_OPS):
    return x + ops.sin(alpha * x) ** 2 / alpha


def relu_squared(x, ops=TORCH_OPS):
    return ops.relu(x) ** 2


def square(x, ops=TORCH_OPS):
    return x * x


def star_relu(x, scale=0.8944, bias=-0.4472, ops=TORCH_OPS):
    return scale * ops.relu(x) ** 2 + bias


def penalized_tanh(x, ops=TORCH_OPS):
    t = ops.tanh(x)
    return ops.where(x > 0, t, 0.25 * t)


def shifted_softplus(x, ops=TORCH_OPS):
    return ops.softplus(x) - math.log(2.0)


def gcu(x, ops=TORCH_OPS):
    return x * ops.cos(x)


def lisht(x, ops=TORCH_OPS):
    return x * ops.tanh(x)


def cloglog(x, ops=TORCH_OPS):
    return -ops.expm1(-ops.exp(x))


def smish(x, ops=TORCH_OPS):
    return x * ops.tanh(ops.log1p(ops.sigmoid(x)))


def logish(x, ops=TORCH_OPS):
    return x * ops.log1p(ops.sigmoid(x))


# keras.ops forms of native torch functions (the portable= of their rows)


def _softplus_ops(x, ops, beta, threshold):
    if (beta, threshold) == (1.0, 20.0):
        return ops.softplus(x)
    return ops.where(x * beta > threshold, x, ops.softplus(x * beta) / beta)


def _leaky_relu_ops(x, ops, negative_slope):
    return ops.leaky_relu(x, negative_slope=negative_slope)


def _op(name):
    """The portable form of a torch function that keras.ops has under ``name``: ``x -> ops.NAME(x)``."""
    return lambda x, ops: getattr(ops, name)(x)


# --------------------------------------------------------------------------- the table


def _mod(cls):
    """A module factory for a torch class that takes the entry's parameters as keywords."""
    return lambda **kw: cls(**kw)


def _add(name, fn, numpy, formula, note, reference, kind, range, monotonic, smooth, zero_centred, **kw):
    REGISTRY.add(
        Entry(
            name=name,
            fn=fn,
            numpy=_np(numpy) if numpy else None,
            formula=formula,
            note=note,
            reference=reference,
            kind=kind,
            range=range,
            monotonic=monotonic,
            smooth=smooth,
            zero_centred=zero_centred,
            **kw,
        )
    )


S, M, L = "standard", "math", "literature"
T = True
N = False

# ---- the source articles' classics and the PyTorch / Keras standard set
_add(
    "step",
    step,
    lambda x, threshold=0.0: _nan_keep(x, (x >= threshold).astype(float)),
    r"[x \geq \theta]",
    "Fires 1 at or above the threshold, else 0; its gradient is zero, so it cannot be trained by backpropagation and "
    "only separates linearly separable problems.",
    "McCulloch & Pitts (1943); Rosenblatt (1958)",
    S,
    (0, 1),
    T,
    N,
    N,
    params={"threshold": 0.0},
    differentiable=False,
    aliases=("heaviside", "binary_step"),
    portable=step,
)
_add(
    "sigmoid",
    torch.sigmoid,
    _sigmoid,
    r"\frac{1}{1 + e^{-x}}",
    "Squashes to (0, 1); saturates at both ends, so gradients vanish in deep stacks.",
    "torch.nn.Sigmoid; keras.activations.sigmoid",
    S,
    (0, 1),
    T,
    T,
    N,
    aliases=("logistic",),
    portable=_op("sigmoid"),
)
_add(
    "hard_sigmoid",
    hard_sigmoid,
    lambda x: np.clip(0.2 * x + 0.5, 0, 1),
    r"\max(0, \min(1, 0.2x + 0.5))",
    "Keras 2's piecewise-linear sigmoid: 0 below -2.5, linear in [-2.5, 2.5], 1 above; cheaper than sigmoid, an "
    "approximation.",
    "Keras 2 keras.activations.hard_sigmoid (the definition of the source articles)",
    S,
    (0, 1),
    T,
    N,
    N,
    aliases=("hard_sigmoid_keras2",),
    portable=hard_sigmoid,
)
_add(
    "hard_sigmoid_torch",
    F.hardsigmoid,
    lambda x: np.clip(x / 6 + 0.5, 0, 1),
    r"\frac{\mathrm{ReLU6}(x + 3)}{6}",
    "PyTorch's and Keras 3's hard sigmoid: 0 below -3, linear in [-3, 3], 1 above.",
    "torch.nn.Hardsigmoid; Keras 3 keras.activations.hard_sigmoid",
    S,
    (0, 1),
    T,
    N,
    N,
    module=_mod(nn.Hardsigmoid),
    aliases=("hard_sigmoid_keras3",),
    portable=_op("hard_sigmoid"),
)
_add(
    "tanh",
    torch.tanh,
    np.tanh,
    r"\tanh(x)",
    "Squashes to (-1, 1); zero-centred, with stronger gradients than sigmoid near 0.",
    "torch.nn.Tanh; keras.activations.tanh",
    S,
    (-1, 1),
    T,
    T,
    T,
    module=_mod(nn.Tanh),
    portable=_op("tanh"),
)
_add(
    "softsign",
    F.softsign,
    lambda x: x / (1 + np.abs(x)),
    r"\frac{x}{1 + |x|}",
    "A polynomial cousin of tanh: same range, but approaches its bounds slowly.",
    "Bergstra et al. (2009); torch.nn.Softsign",
    S,
    (-1, 1),
    T,
    T,
    T,
    module=_mod(nn.Softsign),
    portable=_op("softsign"),
)
_add(
    "softplus",
    F.softplus,
    _softplus,
    r"\frac{1}{\beta}\log(1 + e^{\beta x})",
    "A smooth ReLU; strictly positive, linear above the threshold for numerical stability.",
    "Dugas et al. (2001); torch.nn.Softplus",
    S,
    (0, INF),
    T,
    T,
    N,
    params={"beta": 1.0, "threshold": 20.0},
    module=_mod(nn.Softplus),
    portable=_softplus_ops,
)
_add(
    "relu",
    F.relu,
    lambda x: _nan_keep(x, np.maximum(x, 0)),
    r"\max(0, x)",
    "Zero for negative inputs, identity otherwise; sparse and cheap, but units pushed far negative stop learning "
    "(dying ReLU).",
    "Nair & Hinton (2010); torch.nn.ReLU",
    S,
    (0, INF),
    T,
    N,
    N,
    module=_mod(nn.ReLU),
    portable=_op("relu"),
)
_add(
    "linear",
    identity,
    lambda x: x,
    r"x",
    "No activation; used for regression outputs. A stack of linear layers is still linear.",
    "keras.activations.linear",
    S,
    (-INF, INF),
    T,
    T,
    T,
    module=lambda: nn.Identity(),
    aliases=("identity", "none"),
    portable=identity,
)
_add(
    "softmax",
    F.softmax,
    lambda x, dim=1: _along(x, dim, _softmax_last),
    r"\frac{e^{x_i}}{\sum_j e^{x_j}}",
    "Turns a vector into class probabilities; for output layers (a cross-entropy loss takes logits and applies it "
    "itself).",
    "torch.nn.Softmax; keras.activations.softmax",
    S,
    (0, 1),
    T,
    T,
    N,
    params={"dim": 1},
    module=_mod(nn.Softmax),
    axis="dim",
)
_add(
    "leaky_relu",
    F.leaky_relu,
    lambda x, negative_slope=0.01: np.where(x >= 0, x, negative_slope * x),
    r"\max(0, x) + \alpha \min(0, x)",
    "ReLU with a small slope (PyTorch: 0.01) below zero, so no unit dies completely.",
    "Maas et al. (2013); torch.nn.LeakyReLU",
    S,
    (-INF, INF),
    T,
    N,
    T,
    params={"negative_slope": 0.01},
    module=_mod(nn.LeakyReLU),
    aliases=("leaky_relu_torch",),
    portable=_leaky_relu_ops,
)
_add(
    "leaky_relu_keras",
    F.leaky_relu,
    lambda x, negative_slope=0.2: np.where(x >= 0, x, negative_slope * x),
    r"\max(0, x) + \alpha \min(0, x)",
    "Keras' leaky ReLU: slope 0.2 below zero.",
    "keras.activations.leaky_relu",
    S,
    (-INF, INF),
    T,
    N,
    T,
    params={"negative_slope": 0.2},
    module=_mod(nn.LeakyReLU),
    portable=_leaky_relu_ops,
)
_add(
    "prelu",
    prelu,
    lambda x, init=0.25, num_parameters=1: np.where(x >= 0, x, init * x),
    r"\max(0, x) + a \min(0, x)",
    "Leaky ReLU whose negative slope a is learned (one per channel with num_parameters=C).",
    "He et al. (2015), arXiv 1502.01852; torch.nn.PReLU",
    "learnable",
    (-INF, INF),
    T,
    N,
    T,
    params={"init": 0.25, "num_parameters": 1},
    module=_mod(nn.PReLU),
)
_add(
    "elu",
    F.elu,
    lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(x)),
    r"\max(0, x) + \alpha (e^{\min(0, x)} - 1)",
    "Smooth negative part that saturates at -alpha, pushing mean activations toward zero.",
    "Clevert et al. (2015), arXiv 1511.07289; torch.nn.ELU",
    S,
    (-1, INF),
    T,
    T,
    T,
    params={"alpha": 1.0},
    module=_mod(nn.ELU),
    portable=lambda x, ops, alpha: ops.elu(x, alpha=alpha),
)
_add(
    "selu",
    F.selu,
    lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
    r"\lambda (\max(0, x) + \alpha (e^{\min(0, x)} - 1))",
    "Scaled ELU (lambda 1.0507, alpha 1.6733) that keeps activations self-normalising (mean 0, variance 1) in deep "
    "MLPs; no dying units.",
    "Klambauer et al. (2017), arXiv 1706.02515; torch.nn.SELU",
    S,
    (-SELU_SCALE * SELU_ALPHA, INF),
    T,
    N,
    T,
    module=_mod(nn.SELU),
    portable=_op("selu"),
)
_add(
    "silu",
    F.silu,
    lambda x: x * _sigmoid(x),
    r"x \, \sigma(x)",
    "x times its sigmoid; smooth, non-monotonic dip (minimum -0.278) below zero.",
    "Ramachandran et al. (2017) 'Swish', arXiv 1710.05941; Elfwing et al. (2017); torch.nn.SiLU",
    S,
    (-0.278465, INF),
    N,
    T,
    T,
    module=_mod(nn.SiLU),
    aliases=("swish",),
    portable=_op("silu"),
)
_add(
    "mish",
    F.mish,
    lambda x: x * np.tanh(_softplus(x)),
    r"x \tanh(\mathrm{softplus}(x))",
    "Smooth, non-monotonic, minimum about -0.31; self-regularising in the author's words.",
    "Misra (2019), arXiv 1908.08681; torch.nn.Mish",
    S,
    (-0.308843, INF),
    N,
    T,
    T,
    module=_mod(nn.Mish),
    portable=lambda x, ops: x * ops.tanh(ops.softplus(x)),
)
REGISTRY.add(
    Entry(
        name="frelu",
        fn=frelu,
        numpy=frelu_numpy,
        formula=r"\max(x, T(x)),\ T = \mathrm{BN}(\mathrm{DWConv}_{k \times k}(x))",
        note="Funnel activation: each pixel is compared with a learned depthwise k x k view of its neighbourhood; "
        "ReLU extended to images.",
        reference="Ma, Zhang & Sun (2020), Funnel Activation for Visual Recognition, arXiv 2007.11824",
        kind="spatial",
        range=(-INF, INF),
        monotonic=None,
        smooth=None,
        zero_centred=None,
        params={"kernel_size": 3},
        module=lambda kernel_size=3: FReLU(kernel_size=kernel_size),
        axis="spatial",
        aliases=("funnel",),
    )
)

# ---- the rest of torch.nn's activations used by the à-la-carte paper
_add(
    "hardshrink",
    F.hardshrink,
    lambda x, lambd=0.5: np.where(np.abs(x) > lambd, x, 0 * x),
    r"x \, [|x| > \lambda]",
    "Zero inside [-lambda, lambda], identity outside; discontinuous.",
    "torch.nn.Hardshrink",
    S,
    (-INF, INF),
    T,
    N,
    T,
    params={"lambd": 0.5},
    module=_mod(nn.Hardshrink),
    portable=lambda x, ops, lambd: ops.hard_shrink(x, lambd),
)
_add(
    "hardtanh",
    F.hardtanh,
    lambda x, min_val=-1.0, max_val=1.0: np.clip(x, min_val, max_val),
    r"\max(a, \min(b, x))",
    "Linear in [-1, 1], clipped outside; a cheap tanh.",
    "Collobert (2004); torch.nn.Hardtanh",
    S,
    (-1, 1),
    T,
    N,
    T,
    params={"min_val": -1.0, "max_val": 1.0},
    module=_mod(nn.Hardtanh),
    aliases=("hard_tanh",),
    portable=lambda x, ops, min_val, max_val: ops.clip(x, min_val, max_val),
)
_add(
    "log_sigmoid",
    F.logsigmoid,
    lambda x: -_softplus(-x, 1.0, np.inf),
    r"\log \sigma(x) = -\mathrm{softplus}(-x)",
    "Logarithm of the sigmoid; always negative.",
    "torch.nn.LogSigmoid",
    S,
    (-INF, 0),
    T,
    T,
    N,
    module=_mod(nn.LogSigmoid),
    portable=_op("log_sigmoid"),
)
_add(
    "relu6",
    F.relu6,
    lambda x: np.clip(x, 0, 6),
    r"\min(\max(0, x), 6)",
    "ReLU capped at 6; robust in low-precision arithmetic (MobileNet).",
    "Krizhevsky (2010); torch.nn.ReLU6",
    S,
    (0, 6),
    T,
    N,
    N,
    module=_mod(nn.ReLU6),
    portable=_op("relu6"),
)
_add(
    "rrelu",
    F.rrelu,
    lambda x, lower=1 / 8, upper=1 / 3: np.where(x >= 0, x, 0.5 * (lower + upper) * x),
    r"\max(0, x) + a \min(0, x),\ a \sim U(l, u)",
    "Leaky ReLU with a random slope in [lower, upper] during training and their mean in evaluation.",
    "Xu et al. (2015), arXiv 1505.00853; torch.nn.RReLU",
    S,
    (-INF, INF),
    T,
    N,
    T,
    params={"lower": 1 / 8, "upper": 1 / 3},
    module=_mod(nn.RReLU),
    portable=lambda x, ops, lower, upper: ops.leaky_relu(x, negative_slope=(lower + upper) / 2),
)
_add(
    "celu",
    F.celu,
    lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(x / alpha)),
    r"\max(0, x) + \min(0, \alpha (e^{x / \alpha} - 1))",
    "ELU made continuously differentiable for every alpha.",
    "Barron (2017), arXiv 1704.07483; torch.nn.CELU",
    S,
    (-1, INF),
    T,
    T,
    T,
    params={"alpha": 1.0},
    module=_mod(nn.CELU),
    portable=lambda x, ops, alpha: ops.celu(x, alpha=alpha),
)
_add(
    "gelu",
    F.gelu,
    lambda x: 0.5 * x * (1 + scipy_special().erf(x / math.sqrt(2))),
    r"x \, \Phi(x)",
    "x weighted by the Gaussian CDF; the transformer default; minimum -0.170.",
    "Hendrycks & Gimpel (2016), arXiv 1606.08415; torch.nn.GELU",
    S,
    (-0.169971, INF),
    N,
    T,
    T,
    module=_mod(nn.GELU),
    portable=lambda x, ops: ops.gelu(x, approximate=False),
)
_add(
    "softshrink",
    F.softshrink,
    lambda x, lambd=0.5: np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, 0 * x)),
    r"\mathrm{sign}(x) \max(0, |x| - \lambda)",
    "Soft thresholding: shrinks every input toward zero by lambda.",
    "torch.nn.Softshrink",
    S,
    (-INF, INF),
    T,
    N,
    T,
    params={"lambd": 0.5},
    module=_mod(nn.Softshrink),
    portable=lambda x, ops, lambd: ops.soft_shrink(x, lambd),
)
_add(
    "tanhshrink",
    F.tanhshrink,
    lambda x: x - np.tanh(x),
    r"x - \tanh(x)",
    "Flat near zero, linear far away.",
    "torch.nn.Tanhshrink",
    S,
    (-INF, INF),
    T,
    T,
    T,
    module=_mod(nn.Tanhshrink),
    portable=_op("tanh_shrink"),
)
_add(
    "softmin",
    F.softmin,
    lambda x, dim=1: _along(x, dim, lambda z: _softmax_last(-z)),
    r"\frac{e^{-x_i}}{\sum_j e^{-x_j}}",
    "Softmax of the negated input: the smallest entry gets the largest weight.",
    "torch.nn.Softmin",
    S,
    (0, 1),
    T,
    T,
    N,
    params={"dim": 1},
    module=_mod(nn.Softmin),
    axis="dim",
)
_add(
    "log_softmax",
    F.log_softmax,
    lambda x, dim=1: _along(x, dim, lambda z: np.log(_softmax_last(z))),
    r"x_i - \log \sum_j e^{x_j}",
    "Log-probabilities; pair with NLLLoss.",
    "torch.nn.LogSoftmax",
    S,
    (-INF, 0),
    T,
    T,
    N,
    params={"dim": 1},
    module=_mod(nn.LogSoftmax),
    axis="dim",
)

# ---- tensor math functions the à-la-carte paper uses as activations (its exact definitions)
_M = [  # name, torch fn, keras.ops name (or form), numpy ref, formula, range, monotonic, smooth, zero-centred, extra
    ("abs", torch.abs, "abs", np.abs, r"|x|", (0, INF), N, N, N, {}),
    (
        "acos",
        torch.acos,
        "arccos",
        np.arccos,
        r"\arccos(x)",
        (0, math.pi),
        T,
        T,
        N,
        {"domain": (-1.0, 1.0), "probe": (-0.99, 0.99)},
    ),
    ("angle", torch.angle, None, np.angle, r"\pi \, [x < 0]", (0, math.pi), T, N, N, {"differentiable": False}),
    (
        "asin",
        torch.asin,
        "arcsin",
        np.arcsin,
        r"\arcsin(x)",
        (-math.pi / 2, math.pi / 2),
        T,
        T,
        T,
        {"domain": (-1.0, 1.0), "probe": (-0.99, 0.99)},
    ),
    ("atan", torch.atan, "arctan", np.arctan, r"\arctan(x)", (-math.pi / 2, math.pi / 2), T, T, T, {}),
    ("ceil", torch.ceil, "ceil", np.ceil, r"\lceil x \rceil", (-INF, INF), T, N, T, {"differentiable": False}),
    ("cos", torch.cos, "cos", np.cos, r"\cos(x)", (-1, 1), N, T, N, {}),
    ("cosh", torch.cosh, "cosh", np.cosh, r"\cosh(x)", (1, INF), N, T, N, {}),
    (
        "digamma",
        torch.digamma,
        None,
        _sp("digamma"),
        r"\psi(x) = \frac{d}{dx} \log \Gamma(x)",
        (-INF, INF),
        T,
        T,
        N,
        {"domain": (0.0, INF), "probe": (0.2, 6.0)},
    ),
    ("erf", torch.erf, "erf", _sp("erf"), r"\frac{2}{\sqrt{\pi}} \int_0^x e^{-t^2} dt", (-1, 1), T, T, T, {}),
    ("erfc", torch.erfc, "erfc", _sp("erfc"), r"1 - \mathrm{erf}(x)", (0, 2), T, T, N, {}),
    ("exp", torch.exp, "exp", np.exp, r"e^x", (0, INF), T, T, N, {"aliases": ("exponential",)}),
    ("floor", torch.floor, "floor", np.floor, r"\lfloor x \rfloor", (-INF, INF), T, N, T, {"differentiable": False}),
    (
        "frac",
        torch.frac,
        lambda x, ops: x - ops.trunc(x),
        lambda x: x - np.trunc(x),
        r"x - \mathrm{trunc}(x)",
        (-1, 1),
        N,
        N,
        T,
        {},
    ),
    ("log", torch.log, "log", np.log, r"\ln(x)", (-INF, INF), T, T, N, {"domain": (0.0, INF), "probe": (0.05, 6.0)}),
    (
        "log10",
        torch.log10,
        "log10",
        np.log10,
        r"\log_{10}(x)",
        (-INF, INF),
        T,
        T,
        N,
        {"domain": (0.0, INF), "probe": (0.05, 6.0)},
    ),
    ("neg", torch.neg, "negative", np.negative, r"-x", (-INF, INF), T, T, T, {}),
    ("round", torch.round, "round", np.round, r"\mathrm{round}(x)", (-INF, INF), T, N, T, {"differentiable": False}),
    ("sin", torch.sin, "sin", np.sin, r"\sin(x)", (-1, 1), N, T, T, {}),
    ("sinh", torch.sinh, "sinh", np.sinh, r"\sinh(x)", (-INF, INF), T, T, T, {}),
    (
        "tan",
        torch.tan,
        "tan",
        np.tan,
        r"\tan(x)",
        (-INF, INF),
        T,
        T,
        T,
        {"domain": (-math.pi / 2, math.pi / 2), "probe": (-1.4, 1.4)},
    ),
    ("trunc", torch.trunc, "trunc", np.trunc, r"\mathrm{trunc}(x)", (-INF, INF), T, N, T, {"differentiable": False}),
]
for _name, _fn, _portable, _ref, _formula, _range, _mono, _smooth, _zc, _extra in _M:
    _add(
        _name,
        _fn,
        _ref,
        _formula,
        f"torch.{_fn.__name__} used element-wise as an activation.",
        f"torch.{_fn.__name__}; Sipper (2021) a-la-carte candidate",
        M,
        _range,
        _mono,
        _smooth,
        _zc,
        portable=_op(_portable) if isinstance(_portable, str) else _portable,
        **_extra,
    )

_add(
    "gumbel_softmax",
    gumbel_softmax,
    _gumbel_softmax,
    r"\mathrm{softmax}((x + g) / \tau),\ g \sim \mathrm{Gumbel}(0, 1)",
    "Softmax of the input plus Gumbel noise: a random, differentiable relaxation of sampling a category.",
    "Jang et al. (2016), arXiv 1611.01144; torch.nn.functional.gumbel_softmax",
    M,
    (0, 1),
    None,
    None,
    N,
    params={"tau": 1.0, "dim": 1},
    axis="dim",
    stochastic=True,
)

# ---- from the literature, as used by the à-la-carte paper
_add(
    "generalized_swish",
    generalized_swish,
    lambda x: x * _sigmoid(np.exp(-x)),
    r"x \, \sigma(e^{-x})",
    "Swish with the sigmoid fed exp(-x): identity far left, x/2 far right.",
    "Kocak & Siray, New activation functions for single layer feedforward neural network; Sipper (2021)",
    L,
    (-INF, INF),
    T,
    T,
    T,
    aliases=("gen_swish",),
    portable=generalized_swish,
)
_add(
    "sigmoid_derivative",
    sigmoid_derivative,
    lambda x: _sigmoid(x) * _sigmoid(-x),
    r"e^{-x} \sigma(x)^2 = \sigma(x) (1 - \sigma(x))",
    "The derivative of the sigmoid used as a bump-shaped activation, peak 1/4 at 0.",
    "Sipper (2021), a-la-carte candidate",
    L,
    (0, 0.25),
    N,
    T,
    N,
    portable=sigmoid_derivative,
)
_add(
    "cloglogm",
    cloglogm,
    lambda x: 1 - 2 * np.exp(-0.7 * np.exp(x)),
    r"1 - 2 e^{-0.7 e^{x}}",
    "Modified complementary log-log: asymmetric sigmoid-like curve from -1 to 1.",
    "Gomes, Ludermir & Lima (2011), Comparison of new activation functions ... financial time series",
    L,
    (-1, 1),
    T,
    T,
    N,
    portable=cloglogm,
)

# ---- the rest of PyTorch, timm and Keras
_add(
    "threshold",
    F.threshold,
    lambda x, threshold=1.0, value=0.0: _nan_keep(x, np.where(x > threshold, x, value)),
    r"x \, [x > \theta] + v \, [x \leq \theta]",
    "Passes x above the threshold, replaces it with a constant below.",
    "torch.nn.Threshold",
    S,
    (0, INF),
    T,
    N,
    N,
    params={"threshold": 1.0, "value": 0.0},
    module=_mod(nn.Threshold),
    portable=lambda x, ops, threshold, value: ops.threshold(x, threshold, value),
)
_add(
    "gelu_tanh",
    functools.partial(F.gelu, approximate="tanh"),
    lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    r"\frac{x}{2} (1 + \tanh(\sqrt{2/\pi} (x + 0.044715 x^3)))",
    "The tanh approximation of GELU (BERT, GPT-2).",
    "Hendrycks & Gimpel (2016); torch.nn.GELU(approximate='tanh'); timm gelu_tanh",
    S,
    (-0.170041, INF),
    N,
    T,
    T,
    module=lambda: nn.GELU(approximate="tanh"),
    aliases=("gelu_new", "gelu_approximate"),
    portable=lambda x, ops: ops.gelu(x, approximate=True),
)
_add(
    "quick_gelu",
    quick_gelu,
    lambda x: x * _sigmoid(1.702 * x),
    r"x \, \sigma(1.702 x)",
    "Sigmoid approximation of GELU (CLIP).",
    "timm quick_gelu; Radford et al. (2021) CLIP",
    S,
    (-0.16361, INF),
    N,
    T,
    T,
    portable=quick_gelu,
)
_add(
    "hard_swish",
    F.hardswish,
    lambda x: x * np.clip(x + 3, 0, 6) / 6,
    r"x \frac{\mathrm{ReLU6}(x + 3)}{6}",
    "Piecewise-quadratic swish for mobile networks; minimum -0.375.",
    "Howard et al. (2019) MobileNetV3, arXiv 1905.02244; torch.nn.Hardswish; keras hard_silu",
    S,
    (-0.375, INF),
    N,
    N,
    T,
    module=_mod(nn.Hardswish),
    aliases=("hard_silu",),
    portable=_op("hard_silu"),
)
_add(
    "hard_mish",
    hard_mish,
    lambda x: 0.5 * x * np.clip(x + 2, 0, 2),
    r"\frac{x}{2} \min(2, \max(0, x + 2))",
    "Piecewise-quadratic approximation of Mish; minimum -0.5.",
    "timm hard_mish",
    S,
    (-0.5, INF),
    N,
    N,
    T,
    portable=hard_mish,
)
_add(
    "squareplus",
    squareplus,
    lambda x, b=4.0: 0.5 * (x + np.sqrt(x * x + b)),
    r"\frac{x + \sqrt{x^2 + b}}{2}",
    "Softplus-like but algebraic (no exp or log).",
    "Barron (2021), arXiv 2112.11687; keras.activations.squareplus",
    S,
    (0, INF),
    T,
    T,
    N,
    params={"b": 4.0},
    portable=squareplus,
)
_add(
    "sparse_plus",
    sparse_plus,
    lambda x: _nan_keep(x, np.where(x <= -1, 0.0, np.where(x >= 1, x, 0.25 * (x + 1) ** 2))),
    r"\frac{(x + 1)^2}{4} [|x| < 1] + x [x \geq 1]",
    "Zero below -1, quadratic in (-1, 1), identity above: a softplus with exact zeros.",
    "keras.activations.sparse_plus",
    S,
    (0, INF),
    T,
    T,
    N,
    portable=sparse_plus,
)
_add(
    "sparse_sigmoid",
    sparse_sigmoid,
    lambda x: np.clip(0.5 * (x + 1), 0, 1),
    r"\max(0, \min(1, \frac{x + 1}{2}))",
    "The two-class sparsemax: 0 below -1, linear, 1 above 1.",
    "keras.activations.sparse_sigmoid",
    S,
    (0, 1),
    T,
    N,
    N,
    portable=sparse_sigmoid,
)
_add(
    "glu",
    F.glu,
    lambda x, dim=1: _along(x, dim, lambda z: z[..., : z.shape[-1] // 2] * _sigmoid(z[..., z.shape[-1] // 2 :])),
    r"a \, \sigma(b),\ [a, b] = x",
    "Gated linear unit: the first half of the features gated by the sigmoid of the second half (halves the size).",
    "Dauphin et al. (2016), arXiv 1612.08083; torch.nn.GLU; keras.activations.glu",
    S,
    (-0.278465, INF),
    N,
    T,
    T,
    params={"dim": 1},
    module=_mod(nn.GLU),
    axis="dim",
    view_pair="same",
)
_add(
    "sparsemax",
    sparsemax,
    lambda x, dim=1: _along(x, dim, _sparsemax_last),
    r"\arg\min_{p \in \Delta} \|p - x\|^2",
    "Euclidean projection onto the probability simplex: like softmax, but with exact zeros.",
    "Martins & Astudillo (2016), arXiv 1602.02068; keras.activations.sparsemax",
    S,
    (0, 1),
    T,
    N,
    N,
    params={"dim": 1},
    axis="dim",
)

# ---- more from the literature
_add(
    "bent_identity",
    bent_identity,
    lambda x: (np.sqrt(x * x + 1) - 1) / 2 + x,
    r"\frac{\sqrt{x^2 + 1} - 1}{2} + x",
    "A smooth, always-increasing bend of the identity.",
    "common in activation surveys (e.g. Nwankpa et al. 2018, arXiv 1811.03378)",
    L,
    (-INF, INF),
    T,
    T,
    T,
    portable=bent_identity,
)
_add(
    "gaussian",
    gaussian,
    lambda x: np.exp(-x * x),
    r"e^{-x^2}",
    "Bell-shaped radial-basis activation.",
    "Broomhead & Lowe (1988), radial basis functions",
    L,
    (0, 1),
    N,
    T,
    N,
    portable=gaussian,
)
_add(
    "isru",
    isru,
    lambda x, alpha=1.0: x / np.sqrt(1 + alpha * x * x),
    r"\frac{x}{\sqrt{1 + \alpha x^2}}",
    "Inverse square root unit: a tanh-like curve without exponentials.",
    "Carlile et al. (2017), arXiv 1710.09967",
    L,
    (-1, 1),
    T,
    T,
    T,
    params={"alpha": 1.0},
    portable=isru,
)
_add(
    "isrlu",
    isrlu,
    lambda x, alpha=1.0: np.where(x >= 0, x, x / np.sqrt(1 + alpha * x * x)),
    r"x \, [x \geq 0] + \frac{x}{\sqrt{1 + \alpha x^2}} [x < 0]",
    "ELU-like unit with an inverse-square-root negative part.",
    "Carlile et al. (2017), arXiv 1710.09967",
    L,
    (-1, INF),
    T,
    T,
    T,
    params={"alpha": 1.0},
    portable=isrlu,
)
_add(
    "serf",
    serf,
    lambda x: x * scipy_special().erf(_softplus(x, 1.0, np.inf)),
    r"x \, \mathrm{erf}(\ln(1 + e^x))",
    "Mish with erf in place of tanh.",
    "Nag & Bhattacharyya (2021), arXiv 2108.09598",
    L,
    (-0.348437, INF),
    N,
    T,
    T,
    portable=serf,
)
_add(
    "tanh_exp",
    tanh_exp,
    lambda x: x * np.tanh(np.exp(x)),
    r"x \tanh(e^x)",
    "Fast-converging smooth unit for lightweight networks.",
    "Liu & Di (2020), arXiv 2003.09855",
    L,
    (-0.353286, INF),
    N,
    T,
    T,
    portable=tanh_exp,
)
_add(
    "elish",
    elish,
    lambda x: np.where(x >= 0, x, np.expm1(x)) * _sigmoid(x),
    r"\sigma(x) (x [x \geq 0] + (e^x - 1) [x < 0])",
    "Swish above zero, ELU times sigmoid below.",
    "Basirat & Roth (2018), arXiv 1808.00783",
    L,
    (-0.171573, INF),
    N,
    T,
    T,
    portable=elish,
)
_add(
    "snake",
    snake,
    lambda x, alpha=1.0: x + np.sin(alpha * x) ** 2 / alpha,
    r"x + \frac{\sin^2(\alpha x)}{\alpha}",
    "Identity plus a periodic ripple; monotonic, good at learning periodic functions.",
    "Liu Ziyin et al. (2020), arXiv 2006.08195",
    L,
    (-INF, INF),
    T,
    T,
    T,
    params={"alpha": 1.0},
    portable=snake,
)
_add(
    "relu_squared",
    relu_squared,
    lambda x: np.maximum(x, 0) ** 2,
    r"\max(0, x)^2",
    "Squared ReLU, found by architecture search for transformers.",
    "So et al. (2021) Primer, arXiv 2109.08668",
    L,
    (0, INF),
    T,
    T,
    N,
    aliases=("squared_relu",),
    portable=relu_squared,
)
_add(
    "square",
    square,
    lambda x: x * x,
    r"x^2",
    "The square; a genetic-programming primitive.",
    "polynomial networks",
    L,
    (0, INF),
    N,
    T,
    N,
    portable=square,
)
_add(
    "star_relu",
    star_relu,
    lambda x, scale=0.8944, bias=-0.4472: scale * np.maximum(x, 0) ** 2 + bias,
    r"s \max(0, x)^2 + b",
    "Scaled and shifted squared ReLU of MetaFormer.",
    "Yu et al. (2022), arXiv 2210.13452; timm StarReLU",
    S,
    (-0.4472, INF),
    T,
    T,
    N,
    params={"scale": 0.8944, "bias": -0.4472},
    portable=star_relu,
)
_add(
    "penalized_tanh",
    penalized_tanh,
    lambda x: np.where(x > 0, np.tanh(x), 0.25 * np.tanh(x)),
    r"\tanh(x) [x > 0] + 0.25 \tanh(x) [x \leq 0]",
    "tanh with a four times smaller negative side.",
    "Xu, Huang & Li (2016), arXiv 1602.05980",
    L,
    (-0.25, 1),
    T,
    N,
    T,
    portable=penalized_tanh,
)
_add(
    "shifted_softplus",
    shifted_softplus,
    lambda x: _softplus(x) - math.log(2.0),
    r"\ln(1 + e^x) - \ln 2",
    "Softplus shifted to pass through zero (SchNet).",
    "Schütt et al. (2017), arXiv 1706.08566",
    L,
    (-math.log(2.0), INF),
    T,
    T,
    T,
    portable=shifted_softplus,
)
_add(
    "gcu",
    gcu,
    lambda x: x * np.cos(x),
    r"x \cos(x)",
    "Growing cosine unit: oscillating, lets one neuron learn XOR.",
    "Noel et al. (2021), arXiv 2108.12943",
    L,
    (-INF, INF),
    N,
    T,
    T,
    portable=gcu,
)
_add(
    "lisht",
    lisht,
    lambda x: x * np.tanh(x),
    r"x \tanh(x)",
    "Linearly scaled hyperbolic tangent; symmetric, non-negative.",
    "Roy et al. (2019), arXiv 1901.05894",
    L,
    (0, INF),
    N,
    T,
    N,
    portable=lisht,
)
_add(
    "cloglog",
    cloglog,
    lambda x: -np.expm1(-np.exp(x)),
    r"1 - e^{-e^x}",
    "Complementary log-log: an asymmetric sigmoid.",
    "Gomes & Ludermir (2008); generalised linear models",
    L,
    (0, 1),
    T,
    T,
    N,
    portable=cloglog,
)
_add(
    "smish",
    smish,
    lambda x: x * np.tanh(np.log1p(_sigmoid(x))),
    r"x \tanh(\ln(1 + \sigma(x)))",
    "Smooth non-monotonic unit with a shallow negative dip.",
    "Wang et al. (2022), Smish",
    L,
    (-0.249994, INF),
    N,
    T,
    T,
    portable=smish,
)
_add(
    "logish",
    logish,
    lambda x: x * np.log1p(_sigmoid(x)),
    r"x \ln(1 + \sigma(x))",
    "Smooth non-monotonic unit.",
    "Zhu et al. (2021), Logish",
    L,
    (-0.252769, INF),
    N,
    T,
    T,
    portable=logish,
)

# ---- learnable and gated (2014-2025): the function is the module at its initial parameters
LR = "learnable"
_add(
    "swiglu",
    LN.swiglu,
    lambda x: x * x * _sigmoid(x),
    r"\mathrm{Swish}(xW + b) \odot (xV + c)",
    "Gated linear unit with a Swish gate; the unit owns its projection and keeps the width (d features in and out). "
    "It starts from the projection [I; I], as x Swish(x) per feature, and learns to mix features; in a transformer it "
    "is the MLP's first layer.",
    "Shazeer (2020), GLU Variants Improve Transformer, arXiv 2002.05202",
    LR,
    (0, INF),
    N,
    T,
    N,
    module=lambda: LN.GatedUnit("silu"),
    mixes_features=True,
)
_add(
    "geglu",
    LN.geglu,
    lambda x: x * x * 0.5 * (1 + scipy_special().erf(x / math.sqrt(2))),
    r"\mathrm{GELU}(xW + b) \odot (xV + c)",
    "Gated linear unit with a GELU gate; owns its projection, keeps the width and starts as x GELU(x) per feature.",
    "Shazeer (2020), GLU Variants Improve Transformer, arXiv 2002.05202",
    LR,
    (0, INF),
    N,
    T,
    N,
    module=lambda: LN.GatedUnit("gelu"),
    mixes_features=True,
)
_add(
    "reglu",
    LN.reglu,
    lambda x: x * np.maximum(x, 0),
    r"\max(0, xW + b) \odot (xV + c)",
    "Gated linear unit with a ReLU gate; owns its projection, keeps the width and starts as x ReLU(x) per feature.",
    "Shazeer (2020), GLU Variants Improve Transformer, arXiv 2002.05202",
    LR,
    (0, INF),
    T,
    T,
    N,
    module=lambda: LN.GatedUnit("relu"),
    mixes_features=True,
)
_add(
    "pau",
    LN.pau,
    lambda x: LN.rational_numpy(x, LN.PAU_NUMERATOR, LN.PAU_DENOMINATOR),
    r"\frac{\sum_{j=0}^{5} a_j x^j}{1 + \sum_{k=1}^{4} |b_k x^k|}",
    "Padé activation unit: a rational function with learned coefficients (one set per layer) and a denominator that "
    "never vanishes; starts as the authors' fit of leaky ReLU on [-3, 3].",
    "Molina, Schramowski & Kersting (2020), Padé Activation Units, ICLR 2020, arXiv 1907.06732",
    LR,
    (-INF, INF),
    N,
    T,
    N,
    module=lambda: LN.PAU(),
    aliases=("rational", "pade"),
)
_add(
    "acon_c",
    LN.acon_c,
    LN.acon_c_numpy,
    r"(p_1 - p_2) x \, \sigma(\beta (p_1 - p_2) x) + p_2 x",
    "ACON-C: learns per channel whether to activate, a smooth switch between the lines p1 x and p2 x; starts as Swish.",
    "Ma et al. (2021), Activate or Not: Learning Customized Activation, CVPR 2021, arXiv 2009.04759",
    LR,
    (-0.278465, INF),
    N,
    T,
    T,
    params={"p1": 1.0, "p2": 0.0, "beta": 1.0},
    module=lambda p1, p2, beta: LN.ACON(p1, p2, beta),
    aliases=("acon",),
)
_add(
    "meta_acon",
    LN.meta_acon,
    lambda x, p1=1.0, p2=0.0: LN.acon_c_numpy(x, p1, p2, 0.5),
    r"(p_1 - p_2) x \, \sigma(\beta (p_1 - p_2) x) + p_2 x,\ \beta = \sigma(W_2 W_1 \bar{x})",
    "ACON-C whose switching factor is computed from the input by a small network per example; starts as x sigmoid(x / "
    "2).",
    "Ma et al. (2021), Activate or Not: Learning Customized Activation, CVPR 2021, arXiv 2009.04759",
    LR,
    (-0.556929, INF),
    N,
    T,
    T,
    params={"p1": 1.0, "p2": 0.0},
    module=lambda p1, p2: LN.MetaACON(p1, p2),
    mixes_features=True,
)
_add(
    "apl",
    LN.apl,
    lambda x, hinges=2: np.maximum(x, 0),
    r"\max(0, x) + \sum_{s=1}^{S} a_s \max(0, b_s - x)",
    "Adaptive piecewise linear unit: ReLU plus S hinges whose slopes and positions are learned per channel; starts as "
    "ReLU.",
    "Agostinelli et al. (2015), Learning Activation Functions to Improve Deep Neural Networks, arXiv 1412.6830",
    LR,
    (0, INF),
    T,
    N,
    N,
    params={"hinges": 2},
    module=lambda hinges: LN.APL(hinges),
    limits={"hinges": (1, LN.MAX_HINGES)},
)
_add(
    "smu",
    LN.smu,
    LN.smu_numpy,
    r"\frac{(1 + \alpha) x + (1 - \alpha) x \, \mathrm{erf}(\mu (1 - \alpha) x)}{2}",
    "Smooth maximum unit: a smooth max(x, alpha x) whose sharpness mu is learned per layer (starts at mu = 1; the "
    "authors' code at 1e6).",
    "Biswas et al. (2022), Smooth Maximum Unit, CVPR 2022, arXiv 2111.04682",
    LR,
    (-INF, INF),
    T,
    T,
    T,
    params={"alpha": 0.25, "mu": 1.0},
    module=lambda alpha, mu: LN.SMU(alpha, mu),
)
_add(
    "star_relu_learnable",
    star_relu,
    lambda x, scale=0.8944, bias=-0.4472: scale * np.maximum(x, 0) ** 2 + bias,
    r"s \max(0, x)^2 + b",
    "StarReLU with its scale and bias learned (one each per layer), as MetaFormer trains it; star_relu keeps them "
    "fixed.",
    "Yu et al. (2022), MetaFormer Baselines for Vision, arXiv 2210.13452; timm StarReLU",
    LR,
    (-0.4472, INF),
    T,
    T,
    N,
    params={"scale": 0.8944, "bias": -0.4472},
    module=lambda scale, bias: LN.StarReLU(scale, bias),
)
_add(
    "xielu",
    LN.xielu,
    LN.xielu_numpy,
    r"(\alpha_p x^2 + \beta x) [x > 0] + (\alpha_n (e^{\min(x, \epsilon)} - 1) - \alpha_n x + \beta x) [x \leq 0]",
    "Expanded integral of ELU: a squared-ReLU-like positive side and a negative side whose slope turns negative "
    "(minimum -0.206 at first); alpha_p and alpha_n learned per layer.",
    "Huang & Schlag (2024), Deriving Activation Functions Using Integration, arXiv 2411.13010",
    LR,
    (-0.205751, INF),
    N,
    T,
    N,
    params={"alpha_p": 0.8, "alpha_n": 0.8, "beta": 0.5},
    module=lambda alpha_p, alpha_n, beta: LN.XIELU(alpha_p, alpha_n, beta),
)
_add(
    "snake_learnable",
    snake,
    lambda x, alpha=1.0: x + np.sin(alpha * x) ** 2 / alpha,
    r"x + \frac{\sin^2(\alpha x)}{\alpha}",
    "Snake with its frequency alpha learned per channel; snake keeps it fixed.",
    "Liu Ziyin et al. (2020), Neural Networks Fail to Learn Periodic Functions and How to Fix It, arXiv 2006.08195",
    LR,
    (-INF, INF),
    T,
    T,
    T,
    params={"alpha": 1.0},
    module=lambda alpha: LN.Snake(alpha),
)

#: The 48 candidates of Sipper (2021), "Neural Networks with À La Carte Selection of
#: Activation Functions", in the paper's order: 21 torch.nn activations, 23 tensor math
#: functions, 4 from the literature.
SIPPER48: tuple[str, ...] = (
    "elu",
    "hardshrink",
    "hardtanh",
    "leaky_relu",
    "log_sigmoid",
    "prelu",
    "relu",
    "relu6",
    "rrelu",
    "selu",
    "celu",
    "gelu",
    "sigmoid",
    "softplus",
    "softshrink",
    "softsign",
    "tanh",
    "tanhshrink",
    "softmin",
    "softmax",
    "log_softmax",
    "abs",
    "acos",
    "angle",
    "asin",
    "atan",
    "ceil",
    "cos",
    "cosh",
    "digamma",
    "erf",
    "erfc",
    "exp",
    "floor",
    "frac",
    "log",
    "log10",
    "neg",
    "round",
    "sin",
    "sinh",
    "tan",
    "trunc",
    "gumbel_softmax",
    "generalized_swish",
    "sigmoid_derivative",
    "cloglogm",
    "mish",
)
