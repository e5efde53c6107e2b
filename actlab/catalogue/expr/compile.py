"""The torch forms of the primitives (:data:`TORCH`) and the torch functions of a tree:
:func:`compile_torch` (closures over torch ops, no code generation), :func:`compile_learnable`
(constants read from a tensor) and :func:`compile_dual` (value and derivative together)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from actlab.catalogue.expr.tree import (
    DIV_EPS,
    LOG_EPS,
    PRIMITIVES,
    RRELU_SLOPE,
    SELU_ALPHA,
    SELU_SCALE,
    SQRT_EPS,
    Call,
    Const,
    Node,
    Var,
    _fold,
    constants,
)
from actlab.catalogue.expr.tree import _protect as _protect_value


def _protect(b):
    """``b`` with its magnitude raised to at least DIV_EPS (sign kept; 0 counts as positive)."""
    if isinstance(b, torch.Tensor):
        return torch.where(
            b.abs() < DIV_EPS, torch.where(b < 0, torch.full_like(b, -DIV_EPS), torch.full_like(b, DIV_EPS)), b
        )
    return _protect_value(b)


def _where(cond: torch.Tensor, like: torch.Tensor, hi: float, lo: float) -> torch.Tensor:
    """``hi`` where ``cond``, else ``lo``, in ``like``'s dtype."""
    return torch.where(cond, like.new_full((), hi), like.new_full((), lo))


def _mask(cond: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return cond.to(like.dtype)


class TorchForm(NamedTuple):
    """A primitive's torch form: ``fn(a, training)`` (arity 1) or ``fn(a, b)``, and for arity 1 its
    derivative ``deriv(a, f(a))`` with torch's autograd conventions at kinks."""

    fn: Callable[..., torch.Tensor]
    deriv: Callable[..., torch.Tensor] | None = None


_T = TorchForm
TORCH: dict[str, TorchForm] = {
    "relu": _T(lambda a, tr: F.relu(a), lambda a, y: _mask(y > 0, a)),
    "leaky_relu": _T(lambda a, tr: F.leaky_relu(a, 0.01), lambda a, y: _where(a > 0, a, 1.0, 0.01)),
    "elu": _T(lambda a, tr: F.elu(a), lambda a, y: torch.where(a > 0, a.new_ones(()), y + 1)),
    "celu": _T(lambda a, tr: F.celu(a), lambda a, y: torch.where(a > 0, a.new_ones(()), y + 1)),
    "selu": _T(
        lambda a, tr: F.selu(a),
        lambda a, y: torch.where(a > 0, a.new_full((), SELU_SCALE), y + SELU_SCALE * SELU_ALPHA),
    ),
    "tanh": _T(lambda a, tr: torch.tanh(a), lambda a, y: 1 - y * y),
    "sigmoid": _T(lambda a, tr: torch.sigmoid(a), lambda a, y: y * (1 - y)),
    "hardtanh": _T(lambda a, tr: F.hardtanh(a), lambda a, y: _mask((a > -1) & (a < 1), a)),
    "hardswish": _T(
        lambda a, tr: F.hardswish(a),
        lambda a, y: torch.where(a <= -3, a.new_zeros(()), torch.where(a < 3, a / 3 + 0.5, a.new_ones(()))),
    ),
    "hardshrink": _T(lambda a, tr: F.hardshrink(a), lambda a, y: _mask((a < -0.5) | (a > 0.5), a)),
    "softshrink": _T(lambda a, tr: F.softshrink(a), lambda a, y: _mask((a < -0.5) | (a > 0.5), a)),
    "softplus": _T(lambda a, tr: F.softplus(a), lambda a, y: torch.where(a > 20, a.new_ones(()), torch.sigmoid(a))),
    "rrelu": _T(lambda a, tr: F.rrelu(a, training=tr), lambda a, y: _where(a > 0, a, 1.0, RRELU_SLOPE)),
    "abs": _T(lambda a, tr: torch.abs(a), lambda a, y: torch.sign(a)),
    "neg": _T(lambda a, tr: torch.neg(a), lambda a, y: -1.0),
    "exp": _T(lambda a, tr: torch.exp(a), lambda a, y: y),
    "sin": _T(lambda a, tr: torch.sin(a), lambda a, y: torch.cos(a)),
    "cos": _T(lambda a, tr: torch.cos(a), lambda a, y: -torch.sin(a)),
    "erf": _T(lambda a, tr: torch.erf(a), lambda a, y: torch.exp(-a * a) * (2 / math.sqrt(math.pi))),
    "square": _T(lambda a, tr: torch.square(a), lambda a, y: 2 * a),
    "log": _T(lambda a, tr: torch.log(a.abs() + LOG_EPS), lambda a, y: torch.sign(a) / (a.abs() + LOG_EPS)),
    "sqrt": _T(lambda a, tr: torch.sqrt(a.abs() + SQRT_EPS), lambda a, y: torch.sign(a) * 0.5 / y),
    "add": _T(torch.add),
    "sub": _T(torch.sub),
    "mul": _T(torch.mul),
    "div": _T(lambda a, b: a / _protect(b)),
    "max": _T(torch.maximum),
    "min": _T(torch.minimum),
}
if TORCH.keys() != PRIMITIVES.keys():  # one torch form for each primitive of the language
    raise RuntimeError(f"torch forms and primitives differ: {sorted(TORCH.keys() ^ PRIMITIVES.keys())}")


TorchFn = Callable[[torch.Tensor, bool], torch.Tensor]


def compile_torch(node: Node) -> TorchFn:
    """A torch function ``f(x, training)`` of the tree (closures over torch ops; constants folded)."""
    c = _fold(node)
    if c is not None:
        return lambda x, training=False: torch.full_like(x, c)
    if isinstance(node, Var):
        return lambda x, training=False: x
    op = TORCH[node.name].fn
    if len(node.args) == 1:
        fa = compile_torch(node.args[0])
        return lambda x, training=False: op(fa(x, training), training)
    a, b = node.args
    ca, cb = _fold(a), _fold(b)
    if cb is not None:  # tensor op scalar
        fa = compile_torch(a)
        if node.name == "div":
            s = _protect(cb)
            return lambda x, training=False: fa(x, training) / s
        if node.name in ("max", "min"):
            clamp = torch.clamp_min if node.name == "max" else torch.clamp_max
            return lambda x, training=False: clamp(fa(x, training), cb)
        return lambda x, training=False: op(fa(x, training), cb)
    if ca is not None:  # scalar op tensor
        fb = compile_torch(b)
        if node.name == "div":
            return lambda x, training=False: ca / _protect(fb(x, training))
        if node.name in ("max", "min"):
            clamp = torch.clamp_min if node.name == "max" else torch.clamp_max
            return lambda x, training=False: clamp(fb(x, training), ca)
        if node.name == "sub":
            return lambda x, training=False: ca - fb(x, training)
        return lambda x, training=False: op(fb(x, training), ca)  # add, mul commute
    fa, fb = compile_torch(a), compile_torch(b)
    return lambda x, training=False: op(fa(x, training), fb(x, training))


LearnableFn = Callable[[torch.Tensor, bool, torch.Tensor], torch.Tensor]


def compile_learnable(node: Node) -> LearnableFn:
    """A torch function ``f(x, training, c)`` of the tree with constant ``i`` (prefix order) read
    from ``c[i]``: gradients reach the constants. Nothing is folded."""
    index = iter(range(len(constants(node))))

    def build(n: Node) -> LearnableFn:
        if isinstance(n, Var):
            return lambda x, training, c: x
        if isinstance(n, Const):
            i = next(index)
            return lambda x, training, c: c[i]
        op = TORCH[n.name].fn
        if len(n.args) == 1:
            fa = build(n.args[0])
            return lambda x, training, c: op(fa(x, training, c), training)
        fa, fb = build(n.args[0]), build(n.args[1])
        return lambda x, training, c: op(fa(x, training, c), fb(x, training, c))

    return build(node)


def _chain(d, da):
    """``d * da``, without a multiplication when either is the constant 1."""
    if isinstance(da, float) and da == 1.0:
        return d
    if isinstance(d, float) and d == 1.0:
        return da
    return d * da


def _tensor(d, like: torch.Tensor) -> torch.Tensor:
    return like.new_full((), d) if isinstance(d, float) else d


DualFn = Callable[[torch.Tensor], tuple[torch.Tensor, "torch.Tensor | float"]]


def _tanh_from_exp(a: torch.Tensor) -> torch.Tensor:
    """tanh(a) = 1 - 2 / (exp(2a) + 1): within 2e-7 of torch.tanh in float32 (absolute; relative
    error grows near 0), and saturating cleanly (exp overflows to inf, giving 1). Inductor
    vectorises exp well and tanh slowly (about 2.5x) on CPU."""
    return 1 - 2 / (torch.exp(2 * a) + 1)


def compile_dual(node: Node, inductor: bool = False) -> DualFn:
    """``f(x) -> (y, dy/dx)`` of the tree, by forward-mode differentiation node by node (evaluation mode).

    Each primitive's derivative follows torch's autograd at kinks and ties (``relu'(0) = 0``,
    ``max`` splits the gradient evenly on ties, a clamp passes it at its bound), so
    ``g * dy`` is the gradient autograd would give, up to rounding. ``dy`` is a float where it
    is constant (``x`` gives 1.0). Used by :class:`DualFunction`, which saves ``dy`` instead of the
    intermediate tensors and makes the backward pass one multiplication. ``inductor=True`` computes
    ``tanh`` in a form that ``torch.compile`` makes fast on CPU (:func:`_tanh_from_exp`)."""
    c = _fold(node)
    if c is not None:
        return lambda x: (torch.full_like(x, c), 0.0)
    if isinstance(node, Var):
        return lambda x: (x, 1.0)
    if len(node.args) == 1:
        fa, (op, d) = compile_dual(node.args[0], inductor), TORCH[node.name]
        if inductor and node.name == "tanh":
            op = lambda a, training: _tanh_from_exp(a)  # noqa: E731

        def unary(x):
            a, da = fa(x)
            y = op(a, False)
            return y, _chain(d(a, y), da)

        return unary
    a, b = node.args
    ca, cb = _fold(a), _fold(b)
    name = node.name
    if cb is not None:  # tensor op scalar
        return _dual_scalar_right(name, compile_dual(a, inductor), cb)
    if ca is not None:  # scalar op tensor
        if name in ("max", "min"):
            return compile_dual(Call(name, (b, a)), inductor)
        return _dual_scalar_left(name, ca, compile_dual(b, inductor))
    return _dual_binary(name, compile_dual(a, inductor), compile_dual(b, inductor))


def _dual_scalar_right(name: str, fa: DualFn, cb: float) -> DualFn:
    """``a op c`` for a constant ``c``."""
    if name in ("max", "min"):
        clamp = torch.clamp_min if name == "max" else torch.clamp_max
        keep = torch.ge if name == "max" else torch.le  # a clamp passes the gradient at its bound

        def clamped(x):
            u, du = fa(x)
            return clamp(u, cb), _mask(keep(u, cb), u) * du

        return clamped
    scale = {"add": 1.0, "sub": 1.0, "mul": cb, "div": 1.0 / _protect(cb)}[name]
    op = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": lambda u, v: u / _protect(v)}[name]

    def scalar_right(x):
        u, du = fa(x)
        return op(u, cb), _chain(du, scale)

    return scalar_right


def _dual_scalar_left(name: str, ca: float, fb: DualFn) -> DualFn:
    """``c op b`` for a constant ``c`` (``max``/``min`` are turned around by the caller)."""
    if name == "div":

        def reciprocal(x):
            v, dv = fb(x)
            pv = _protect(v)
            y = ca / pv
            return y, -y * (dv * _mask(v.abs() >= DIV_EPS, v)) / pv

        return reciprocal
    if name == "sub":
        return lambda x: (lambda v, dv: (ca - v, -dv))(*fb(x))
    op, scale = (torch.add, 1.0) if name == "add" else (torch.mul, ca)
    return lambda x: (lambda v, dv: (op(v, ca), _chain(dv, scale)))(*fb(x))


def _dual_binary(name: str, fa: DualFn, fb: DualFn) -> DualFn:
    """``a op b`` of two tensors."""

    def binary(x):
        (u, du), (v, dv) = fa(x), fb(x)
        if name == "add":
            return u + v, du + dv
        if name == "sub":
            return u - v, du - dv
        if name == "mul":
            return u * v, du * v + u * dv
        if name == "div":
            pv = _protect(v)
            y = u / pv
            return y, (du - y * (dv * _mask(v.abs() >= DIV_EPS, v))) / pv
        first = u > v if name == "max" else u < v  # where u is the result; ties share the gradient
        y = torch.maximum(u, v) if name == "max" else torch.minimum(u, v)
        du, dv = _tensor(du, u), _tensor(dv, u)
        return y, torch.where(first, du, torch.where(u == v, (du + dv) / 2, dv))

    return binary
