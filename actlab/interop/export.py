"""Use an actlab activation function in another stack: Keras 3, Hugging Face transformers, timm,
ONNX, or plain PyTorch code that runs without actlab.

A function is named as everywhere in actlab: a catalogue spec (``"mish"``,
``"leaky_relu(negative_slope=0.1)"``), an expression (``"expr:max(x, x * tanh(x))"``), or the
``best.json`` that ``actlab evolve`` writes (a path; ``slot=`` picks one function of a triple or
coevolution run).

* :func:`to_keras`: a function of ``keras.ops`` (any Keras backend), registered serialisable as
  ``"actlab>NAME"``, for ``activation=``; a model that uses it saves as ``.keras`` and loads back
  wherever the function is registered again (by this call, or by importing the module that
  ``to_code(spec, "keras")`` writes).
* :func:`to_transformers`: registers the function in ``transformers.activations`` (``ACT2CLS``
  and ``ACT2FN``) as ``"actlab:NAME"``, so that ``config.hidden_act = "actlab:NAME"`` builds
  models with it.
* :func:`to_timm`: an ``nn.Module`` class for ``timm.create_model(..., act_layer=CLASS)``.
* :func:`to_onnx`: the function alone as an ONNX model (``torch.onnx.export``).
* :func:`to_code`: the source of a standalone module (PyTorch; or Keras, transformers or timm
  registration) that a person can paste into a file or ship without actlab.

Keras forms and standalone code are translated from actlab's expression tree node by node, and
for catalogue entries from a table of their native ops; no text is ever evaluated. Generated
source is written by running the same forms on placeholder values that record each operation
(one line per operation, values used once written into their user). Functions that have no
such form (FReLU, PReLU's learned slope, softmax and others that act along a dimension, ...)
raise :class:`~actlab.ActlabError` saying why; :func:`to_timm`, :func:`to_transformers` and
:func:`to_onnx` run actlab's own module, so they take those too where the target can use them.

``rrelu`` is exported in its evaluation form (the mean of its slope bounds; 11/48 inside
expressions), as actlab computes it outside training. The libraries of the targets are optional:
install them with ``pip install 'actlab[interop]'``.

>>> act = actlab.to_keras("expr:max(x, x * tanh(x))")  # doctest: +SKIP
>>> keras.layers.Dense(64, activation=act)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import io
import keyword
import logging
import math
import operator
import re
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from actlab._errors import ActlabError, first_line
from actlab._io import write_file_atomic
from actlab.catalogue import REGISTRY, Entry, format_spec, get
from actlab.catalogue import expr as E
from actlab.studies.evolve import distinct, learned_functions, read_best, slots_text

TARGETS = ("torch", "keras", "transformers", "timm")  # what to_code writes
INSTALL = "pip install 'actlab[interop]'"
KERAS_PACKAGE = "actlab"  # Keras registers each function as 'actlab>NAME'
TRANSFORMERS_PREFIX = "actlab:"  # transformers knows each as 'actlab:NAME', apart from its own names
INLINE_CHARS = 72  # a value used once is written into its user while its own text is at most this long

# Names the generated modules use for themselves; an exported function cannot take them.
_RESERVED = frozenset({"x", "a", "b", "self", "torch", "F", "nn", "keras", "ops", "ACT2CLS", "ACT2FN", "_pdiv"})


# ------------------------------------------------------------------------- source by tracing
_PREC = {"<": 1, "<=": 1, ">": 1, ">=": 1, "+": 3, "-": 3, "*": 4, "/": 4, "neg": 5, "**": 6}  # Python's; calls 9


class _Tape:
    """The lines of a function body, written by running a form on :class:`_Code` values. A line is
    ``(variable, kind, parts)``: a call ``("call", (function, args, kwargs))``, an operator
    ``("op", (symbol, a, b))`` or a negation ``("neg", (a,))``; operands are variables or literals."""

    def __init__(self):
        self.lines: list[tuple[str, str, tuple]] = []

    def emit(self, kind: str, parts: tuple) -> _Code:
        name = f"v{len(self.lines)}"
        self.lines.append((name, kind, parts))
        return _Code(self, name)

    def call(self, function: str, *args: Any, **kwargs: Any) -> _Code:
        return self.emit(
            "call", (function, tuple(_src(a) for a in args), tuple((k, _src(v)) for k, v in kwargs.items()))
        )

    def statements(self, result: Any) -> list[str]:
        """The body, ending in ``return``. A variable used once is written into its user when it is
        short (and always into ``return``), in parentheses only where Python's precedence needs
        them (operands of equal precedence keep theirs, so the order of evaluation is actlab's);
        unused ones are dropped."""
        final = _src(result)
        uses: dict[str, int] = {final: 1}
        for _, kind, parts in self.lines:
            for operand in _operands(kind, parts):
                uses[operand] = uses.get(operand, 0) + 1
        lines = {name: (kind, parts) for name, kind, parts in self.lines}
        inline: set[str] = set()

        def text(token: str) -> tuple[str, int]:
            if token not in inline:
                return token, 5 if token.startswith("-") else 9  # a negative number is a unary minus
            kind, parts = lines[token]
            if kind == "call":
                function, args, kwargs = parts
                inner = [text(a)[0] for a in args] + [f"{k}={text(v)[0]}" for k, v in kwargs]
                return f"{function}({', '.join(inner)})", 9
            if kind == "neg":
                a, q = text(parts[0])
                return "-" + (f"({a})" if q <= 5 else a), 5
            symbol, a, b = parts
            p = _PREC[symbol]
            (ta, qa), (tb, qb) = text(a), text(b)
            if qa < p or (qa == p and p in (1, 6)):  # no chained comparisons; ** groups to the right
                ta = f"({ta})"
            if qb <= p:
                tb = f"({tb})"
            return f"{ta} {symbol} {tb}", p

        out = []
        for name, _, _ in self.lines:
            if uses.get(name, 0) == 0:
                continue
            inline.add(name)
            line = text(name)[0]
            if uses[name] > 1 or (len(line) > INLINE_CHARS and name != final):
                inline.discard(name)
                out.append(f"{name} = {line}")
        out.append("return " + text(final)[0])
        return out


def _operands(kind: str, parts: tuple) -> list[str]:
    if kind == "call":
        return [*parts[1], *(v for _, v in parts[2])]
    return list(parts[1:]) if kind == "op" else list(parts)


def _operator(symbol: str, reflected: bool = False) -> Callable[[_Code, Any], _Code]:
    def op(self: _Code, other: Any) -> _Code:
        a, b = (_src(other), self.text) if reflected else (self.text, _src(other))
        return self.tape.emit("op", (symbol, a, b))

    return op


class _Code:
    """A value in generated source. Forms run on it as on tensors; each operation writes a line."""

    def __init__(self, tape: _Tape, text: str):
        self.tape, self.text = tape, text

    __add__, __radd__ = _operator("+"), _operator("+", True)
    __sub__, __rsub__ = _operator("-"), _operator("-", True)
    __mul__, __rmul__ = _operator("*"), _operator("*", True)
    __truediv__, __rtruediv__ = _operator("/"), _operator("/", True)
    __pow__ = _operator("**")
    __lt__, __le__, __gt__, __ge__ = _operator("<"), _operator("<="), _operator(">"), _operator(">=")

    def __neg__(self) -> _Code:
        return self.tape.emit("neg", (self.text,))


class _Names:
    """``PREFIX.NAME(...)`` in generated source (``ops.tanh(v0)``, ``F.mish(x)``)."""

    def __init__(self, tape: _Tape, prefix: str):
        self._tape, self._prefix = tape, prefix

    def __getattr__(self, name: str) -> Callable[..., _Code]:
        if name.startswith("__"):
            raise AttributeError(name)
        return functools.partial(self._tape.call, f"{self._prefix}.{name}")


def _src(v: Any) -> str:
    """Source text of an operand: a traced value or a literal."""
    if isinstance(v, _Code):
        return v.text
    if isinstance(v, (bool, str)):
        return repr(v)
    if isinstance(v, (int, float)):
        if not math.isfinite(v):
            return f'float("{v}")'
        return repr(v)  # a negative number is a unary minus: only "**" binds tighter
    raise TypeError(f"no source text for {type(v).__name__}")


# ------------------------------------------------------------------------------------ forms
# A form computes a function from its framework's namespaces: Keras forms get (ops, *args), torch
# forms (torch, F, *args). They run on real tensors (keras.ops) or on _Code values (source text).
Form = Callable[..., Any]


def _pdiv_keras(o, a, b):
    return a / o.where(o.abs(b) < E.DIV_EPS, o.where(b < 0, -E.DIV_EPS, E.DIV_EPS), b)


def _pdiv_torch(t, F, a, b):
    return a / t.where(t.abs(b) < E.DIV_EPS, t.where(b < 0, t.full_like(b, -E.DIV_EPS), t.full_like(b, E.DIV_EPS)), b)


_PDIV = (_pdiv_keras, _pdiv_torch)
_PDIV_DOC = "a / b with |b| raised to at least 1e-06, its sign kept (0 counts as positive): the protected division."

# the unary primitives of the expression language, as compile_torch computes them (evaluation mode)
_UNARY: dict[str, tuple[Form, Form]] = {
    "relu": (lambda o, a: o.relu(a), lambda t, F, a: F.relu(a)),
    "leaky_relu": (lambda o, a: o.leaky_relu(a, negative_slope=0.01), lambda t, F, a: F.leaky_relu(a, 0.01)),
    "elu": (lambda o, a: o.elu(a), lambda t, F, a: F.elu(a)),
    "celu": (lambda o, a: o.celu(a), lambda t, F, a: F.celu(a)),
    "selu": (lambda o, a: o.selu(a), lambda t, F, a: F.selu(a)),
    "tanh": (lambda o, a: o.tanh(a), lambda t, F, a: t.tanh(a)),
    "sigmoid": (lambda o, a: o.sigmoid(a), lambda t, F, a: t.sigmoid(a)),
    "hardtanh": (lambda o, a: o.clip(a, -1.0, 1.0), lambda t, F, a: F.hardtanh(a)),
    "hardswish": (lambda o, a: o.hard_silu(a), lambda t, F, a: F.hardswish(a)),
    "hardshrink": (lambda o, a: o.hard_shrink(a, 0.5), lambda t, F, a: F.hardshrink(a)),
    "softshrink": (lambda o, a: o.soft_shrink(a, 0.5), lambda t, F, a: F.softshrink(a)),
    "softplus": (lambda o, a: o.softplus(a), lambda t, F, a: F.softplus(a)),
    "rrelu": (lambda o, a: o.leaky_relu(a, negative_slope=E.RRELU_SLOPE), lambda t, F, a: F.rrelu(a)),
    "abs": (lambda o, a: o.abs(a), lambda t, F, a: t.abs(a)),
    "neg": (lambda o, a: o.negative(a), lambda t, F, a: t.neg(a)),
    "exp": (lambda o, a: o.exp(a), lambda t, F, a: t.exp(a)),
    "sin": (lambda o, a: o.sin(a), lambda t, F, a: t.sin(a)),
    "cos": (lambda o, a: o.cos(a), lambda t, F, a: t.cos(a)),
    "erf": (lambda o, a: o.erf(a), lambda t, F, a: t.erf(a)),
    "square": (lambda o, a: o.square(a), lambda t, F, a: t.square(a)),
    "log": (lambda o, a: o.log(o.abs(a) + E.LOG_EPS), lambda t, F, a: t.log(t.abs(a) + E.LOG_EPS)),
    "sqrt": (lambda o, a: o.sqrt(o.abs(a) + E.SQRT_EPS), lambda t, F, a: t.sqrt(t.abs(a) + E.SQRT_EPS)),
}
_MAXMIN: dict[str, tuple[Form, Form]] = {
    "max": (lambda o, a, b: o.maximum(a, b), lambda t, F, a, b: t.maximum(a, b)),
    "min": (lambda o, a, b: o.minimum(a, b), lambda t, F, a, b: t.minimum(a, b)),
}
_CLAMP: dict[str, tuple[Form, Form]] = {  # max / min against a constant
    "max": (lambda o, a, c: o.maximum(a, c), lambda t, F, a, c: t.clamp_min(a, c)),
    "min": (lambda o, a, c: o.minimum(a, c), lambda t, F, a, c: t.clamp_max(a, c)),
}
_OPERATORS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}


def _keras_softplus(o, x, beta, threshold):
    if (beta, threshold) == (1.0, 20.0):
        return o.softplus(x)
    return o.where(x * beta > threshold, x, o.softplus(x * beta) / beta)


# Catalogue entries with a Keras and a plain PyTorch form: name -> (Keras, torch); forms take the
# entry's parameters as keywords. Tested against the catalogue's functions.
_NATIVE: dict[str, tuple[Form, Form]] = {
    "relu": _UNARY["relu"],
    "relu6": (lambda o, x: o.relu6(x), lambda t, F, x: F.relu6(x)),
    "linear": (lambda o, x: x, lambda t, F, x: x),
    "sigmoid": _UNARY["sigmoid"],
    "hard_sigmoid": (lambda o, x: o.clip(0.2 * x + 0.5, 0.0, 1.0), lambda t, F, x: t.clamp(0.2 * x + 0.5, 0.0, 1.0)),
    "hard_sigmoid_torch": (lambda o, x: o.hard_sigmoid(x), lambda t, F, x: F.hardsigmoid(x)),
    "tanh": _UNARY["tanh"],
    "softsign": (lambda o, x: o.softsign(x), lambda t, F, x: F.softsign(x)),
    "softplus": (_keras_softplus, lambda t, F, x, beta, threshold: F.softplus(x, beta=beta, threshold=threshold)),
    "leaky_relu": (
        lambda o, x, negative_slope: o.leaky_relu(x, negative_slope=negative_slope),
        lambda t, F, x, negative_slope: F.leaky_relu(x, negative_slope=negative_slope),
    ),
    "leaky_relu_keras": (
        lambda o, x, negative_slope: o.leaky_relu(x, negative_slope=negative_slope),
        lambda t, F, x, negative_slope: F.leaky_relu(x, negative_slope=negative_slope),
    ),
    "elu": (lambda o, x, alpha: o.elu(x, alpha=alpha), lambda t, F, x, alpha: F.elu(x, alpha=alpha)),
    "selu": _UNARY["selu"],
    "celu": (lambda o, x, alpha: o.celu(x, alpha=alpha), lambda t, F, x, alpha: F.celu(x, alpha=alpha)),
    "silu": (lambda o, x: o.silu(x), lambda t, F, x: F.silu(x)),
    "mish": (lambda o, x: x * o.tanh(o.softplus(x)), lambda t, F, x: F.mish(x)),
    "gelu": (lambda o, x: o.gelu(x, approximate=False), lambda t, F, x: F.gelu(x)),
    "gelu_tanh": (lambda o, x: o.gelu(x, approximate=True), lambda t, F, x: F.gelu(x, approximate="tanh")),
    "quick_gelu": (lambda o, x: x * o.sigmoid(1.702 * x), lambda t, F, x: x * t.sigmoid(1.702 * x)),
    "hard_swish": _UNARY["hardswish"],
    "hard_mish": (lambda o, x: 0.5 * x * o.clip(x + 2, 0, 2), lambda t, F, x: 0.5 * x * t.clamp(x + 2, 0, 2)),
    "hardshrink": (lambda o, x, lambd: o.hard_shrink(x, lambd), lambda t, F, x, lambd: F.hardshrink(x, lambd)),
    "softshrink": (lambda o, x, lambd: o.soft_shrink(x, lambd), lambda t, F, x, lambd: F.softshrink(x, lambd)),
    "hardtanh": (
        lambda o, x, min_val, max_val: o.clip(x, min_val, max_val),
        lambda t, F, x, min_val, max_val: F.hardtanh(x, min_val, max_val),
    ),
    "tanhshrink": (lambda o, x: o.tanh_shrink(x), lambda t, F, x: F.tanhshrink(x)),
    "log_sigmoid": (lambda o, x: o.log_sigmoid(x), lambda t, F, x: F.logsigmoid(x)),
    "threshold": (
        lambda o, x, threshold, value: o.threshold(x, threshold, value),
        lambda t, F, x, threshold, value: F.threshold(x, threshold, value),
    ),
    "rrelu": (
        lambda o, x, lower, upper: o.leaky_relu(x, negative_slope=(lower + upper) / 2),
        lambda t, F, x, lower, upper: F.rrelu(x, lower, upper),
    ),
    "step": (
        lambda o, x, threshold: 1.0 - o.ceil(o.clip(threshold - x, 0.0, 1.0)),
        lambda t, F, x, threshold: 1.0 - t.ceil(t.clamp(threshold - x, 0.0, 1.0)),
    ),
    "squareplus": (lambda o, x, b: o.squareplus(x, b), lambda t, F, x, b: 0.5 * (x + t.sqrt(x * x + b))),
    "sparse_plus": (
        lambda o, x: o.sparse_plus(x),
        lambda t, F, x: t.where(x <= -1, t.zeros_like(x), t.where(x >= 1, x, 0.25 * (x + 1) ** 2)),
    ),
    "sparse_sigmoid": (lambda o, x: o.sparse_sigmoid(x), lambda t, F, x: t.clamp(0.5 * (x + 1), 0.0, 1.0)),
    "frac": (lambda o, x: x - o.trunc(x), lambda t, F, x: t.frac(x)),
    "generalized_swish": (lambda o, x: x * o.sigmoid(o.exp(-x)), lambda t, F, x: x * t.sigmoid(t.exp(-x))),
    "sigmoid_derivative": (lambda o, x: o.sigmoid(x) * o.sigmoid(-x), lambda t, F, x: t.sigmoid(x) * t.sigmoid(-x)),
    "cloglogm": (lambda o, x: 1 - 2 * o.exp(-0.7 * o.exp(x)), lambda t, F, x: 1 - 2 * t.exp(-0.7 * t.exp(x))),
    "bent_identity": (lambda o, x: (o.sqrt(x * x + 1) - 1) / 2 + x, lambda t, F, x: (t.sqrt(x * x + 1) - 1) / 2 + x),
    "gaussian": (lambda o, x: o.exp(-x * x), lambda t, F, x: t.exp(-x * x)),
    "isru": (lambda o, x, alpha: x * o.rsqrt(1 + alpha * x * x), lambda t, F, x, alpha: x * t.rsqrt(1 + alpha * x * x)),
    "isrlu": (
        lambda o, x, alpha: o.where(x >= 0, x, x * o.rsqrt(1 + alpha * x * x)),
        lambda t, F, x, alpha: t.where(x >= 0, x, x * t.rsqrt(1 + alpha * x * x)),
    ),
    "serf": (lambda o, x: x * o.erf(o.softplus(x)), lambda t, F, x: x * t.erf(F.softplus(x))),
    "tanh_exp": (lambda o, x: x * o.tanh(o.exp(x)), lambda t, F, x: x * t.tanh(t.exp(x))),
    "elish": (
        lambda o, x: o.where(x >= 0, x, o.expm1(x)) * o.sigmoid(x),
        lambda t, F, x: t.where(x >= 0, x, t.expm1(x)) * t.sigmoid(x),
    ),
    "snake": (
        lambda o, x, alpha: x + o.square(o.sin(alpha * x)) / alpha,
        lambda t, F, x, alpha: x + t.sin(alpha * x) ** 2 / alpha,
    ),
    "relu_squared": (lambda o, x: o.square(o.relu(x)), lambda t, F, x: t.relu(x) ** 2),
    "square": (lambda o, x: o.square(x), lambda t, F, x: x * x),
    "star_relu": (
        lambda o, x, scale, bias: scale * o.square(o.relu(x)) + bias,
        lambda t, F, x, scale, bias: scale * t.relu(x) ** 2 + bias,
    ),
    "penalized_tanh": (
        lambda o, x: o.where(x > 0, o.tanh(x), 0.25 * o.tanh(x)),
        lambda t, F, x: t.where(x > 0, t.tanh(x), 0.25 * t.tanh(x)),
    ),
    "shifted_softplus": (lambda o, x: o.softplus(x) - math.log(2.0), lambda t, F, x: F.softplus(x) - math.log(2.0)),
    "gcu": (lambda o, x: x * o.cos(x), lambda t, F, x: x * t.cos(x)),
    "lisht": (lambda o, x: x * o.tanh(x), lambda t, F, x: x * t.tanh(x)),
    "cloglog": (lambda o, x: -o.expm1(-o.exp(x)), lambda t, F, x: -t.expm1(-t.exp(x))),
    "smish": (lambda o, x: x * o.tanh(o.log1p(o.sigmoid(x))), lambda t, F, x: x * t.tanh(t.log1p(t.sigmoid(x)))),
    "logish": (lambda o, x: x * o.log1p(o.sigmoid(x)), lambda t, F, x: x * t.log1p(t.sigmoid(x))),
}
# the tensor math functions used as activations: catalogue name, keras.ops name, torch name
for _name, _keras_op, _torch_op in [
    ("abs", "abs", "abs"),
    ("acos", "arccos", "acos"),
    ("asin", "arcsin", "asin"),
    ("atan", "arctan", "atan"),
    ("ceil", "ceil", "ceil"),
    ("cos", "cos", "cos"),
    ("cosh", "cosh", "cosh"),
    ("erf", "erf", "erf"),
    ("erfc", "erfc", "erfc"),
    ("exp", "exp", "exp"),
    ("floor", "floor", "floor"),
    ("log", "log", "log"),
    ("log10", "log10", "log10"),
    ("neg", "negative", "neg"),
    ("round", "round", "round"),
    ("sin", "sin", "sin"),
    ("sinh", "sinh", "sinh"),
    ("tan", "tan", "tan"),
    ("trunc", "trunc", "trunc"),
]:
    _NATIVE[_name] = (lambda o, x, k=_keras_op: getattr(o, k)(x), lambda t, F, x, n=_torch_op: getattr(t, n)(x))


def _constant(node: E.Node) -> float | None:
    """The value of a subtree without ``x`` (float64, as compile_torch folds it), else None."""
    return None if E.depends_on_x(node) else float(E.numpy_eval(node, np.zeros(1))[0])


def _protected(c: float) -> float:
    """A constant divisor as the protected division uses it."""
    return c if abs(c) >= E.DIV_EPS else math.copysign(E.DIV_EPS, c) if c != 0 else E.DIV_EPS


Run = Callable[[tuple, Callable, Any], Any]  # (namespaces, protected division, x) -> y


def _tree(node: E.Node, col: int) -> Run:
    """An expression tree in the forms of column ``col`` (0: Keras, 1: torch), structured as
    :func:`~actlab.catalogue.expr.compile_torch` computes it: constants folded, a constant
    divisor protected once, ``max``/``min`` against a constant as a clamp."""
    if isinstance(node, E.Var):
        return lambda ns, pdiv, x: x
    name = node.name
    if len(node.args) == 1:
        inner, form = _tree(node.args[0], col), _UNARY[name][col]
        return lambda ns, pdiv, x: form(*ns, inner(ns, pdiv, x))
    a, b = node.args
    ca, cb = _constant(a), _constant(b)
    if cb is not None:  # tensor op constant
        fa = _tree(a, col)
        if name == "div":
            s = _protected(cb)
            return lambda ns, pdiv, x: fa(ns, pdiv, x) / s
        if name in _CLAMP:
            clamp = _CLAMP[name][col]
            return lambda ns, pdiv, x: clamp(*ns, fa(ns, pdiv, x), cb)
        op = _OPERATORS[name]
        return lambda ns, pdiv, x: op(fa(ns, pdiv, x), cb)
    fb = _tree(b, col)
    if ca is not None:  # constant op tensor
        if name == "div":
            return lambda ns, pdiv, x: pdiv(ca, fb(ns, pdiv, x))
        if name in _CLAMP:
            clamp = _CLAMP[name][col]
            return lambda ns, pdiv, x: clamp(*ns, fb(ns, pdiv, x), ca)
        if name == "sub":
            return lambda ns, pdiv, x: ca - fb(ns, pdiv, x)
        op = _OPERATORS[name]  # add and mul commute
        return lambda ns, pdiv, x: op(fb(ns, pdiv, x), ca)
    fa = _tree(a, col)
    if name == "div":
        return lambda ns, pdiv, x: pdiv(fa(ns, pdiv, x), fb(ns, pdiv, x))
    if name in _MAXMIN:
        both = _MAXMIN[name][col]
        return lambda ns, pdiv, x: both(*ns, fa(ns, pdiv, x), fb(ns, pdiv, x))
    op = _OPERATORS[name]
    return lambda ns, pdiv, x: op(fa(ns, pdiv, x), fb(ns, pdiv, x))


def _native(form: Form, params: dict[str, Any]) -> Run:
    return lambda ns, pdiv, x: form(*ns, x, **params)


# ------------------------------------------------------------------------- what is exported
@dataclass(frozen=True)
class ExportedFunction:
    """One function to export: its canonical spec, the Python name it is exported under, and its forms."""

    spec: str  # canonical: parameters at their defaults left out, expressions in canonical text
    name: str
    doc: str  # one sentence for docstrings
    slot: str | None = None  # the slot of a best.json it came from
    entry: Entry | None = None  # the catalogue entry (None for an expression)
    kwargs: dict[str, Any] | None = None  # the entry's arguments given in the spec
    node: E.Node | None = None  # the expression tree (None for a catalogue entry)
    keras: Run | None = None
    torch: Run | None = None
    why_not: str = ""  # why keras and torch are None

    @property
    def transformers_name(self) -> str:
        """The name transformers knows it by: ``actlab:NAME``."""
        return TRANSFORMERS_PREFIX + self.name

    @property
    def class_name(self) -> str:
        """The name of its ``nn.Module`` class: the name in CamelCase (``leaky_relu`` -> ``LeakyRelu``)."""
        camel = "".join(p[:1].upper() + p[1:] for p in self.name.split("_") if p)
        return camel + "Activation" if camel == self.name or camel in _RESERVED else camel

    def module(self) -> nn.Module:
        """actlab's own module of the function (made as the catalogue makes it, without its check:
        see :func:`_module_class`)."""
        return E.Expression(self.node) if self.node is not None else self.entry.make_module(**self.kwargs)


def functions(source: str | Path, *, name: str | None = None, slot: str | None = None) -> list[ExportedFunction]:
    """The function(s) ``source`` names: one for a spec; one per slot of a ``best.json`` (or the
    one ``slot``). ``name`` is the Python name (``NAME_SLOT`` for several); by default an expression
    is ``expr_`` and 8 hex digits of its canonical text's hash (the same function always gets the
    same name), a catalogue spec its text as an identifier (``leaky_relu_negative_slope_0_1``)."""
    if name is not None:
        _check_name(name)
    if isinstance(source, Path) or (isinstance(source, str) and source.strip().lower().endswith(".json")):
        d = read_best(source)
        best = learned_functions(d) or d["functions"]  # learned constants: a function per layer, with its values
        if slot is not None:
            if not isinstance(slot, str) or slot not in best:
                raise ActlabError(
                    f"{str(source)!r} has no slot {str(slot)[:40]!r}; its slots are {slots_text(list(best))}"
                )
            best = {slot: best[slot]}
        groups = distinct(best)  # layers that learned the same constants share one function
        many = len(groups) > 1
        return [
            _expression(
                E.PREFIX + text,
                f"{name}_{slots[0]}" if name and many else name,
                slots_text(slots) if len(best) > 1 or slot else None,
            )
            for slots, text in groups
        ]
    if not isinstance(source, str):
        raise ActlabError(
            f"export takes an activation spec such as 'mish' or 'expr:x * tanh(x)', or the path of a "
            f"best.json; got {type(source).__name__}"
        )
    if slot is not None:
        raise ActlabError(
            f"slot {str(slot)[:20]!r} is for a best.json of a triple or coevolution run, not for the spec "
            f"{source[:60]!r}"
        )
    spec = source.strip()
    if spec.startswith(E.PREFIX):
        return [_expression(spec, name, None)]
    entry, kwargs = REGISTRY.resolve(spec)
    given = {k: v for k, v in kwargs.items() if v != entry.params[k]}
    canonical = format_spec(entry.name, given)
    forms = _NATIVE.get(entry.name)
    params = {**entry.params, **kwargs}
    return [
        ExportedFunction(
            spec=canonical,
            name=name or _identifier(canonical),
            doc=entry.note,
            entry=entry,
            kwargs=kwargs,
            keras=_native(forms[0], params) if forms else None,
            torch=_native(forms[1], params) if forms else None,
            why_not="" if forms else _why_not(entry, kwargs),
        )
    ]


def _expression(spec: str, name: str | None, slot: str | None) -> ExportedFunction:
    node = E.parse(spec[len(E.PREFIX) :])
    text = E.to_text(node)
    if not E.depends_on_x(node):
        raise ActlabError(f"expression {text[:40]!r} is a constant; an activation function must depend on x")
    canonical = E.PREFIX + text
    doc = f"The expression {text}" + (" ('/' is the protected division)." if "div" in E.primitives_used(node) else ".")
    if "rrelu" in E.primitives_used(node):
        doc += " rrelu takes its evaluation slope 11/48."
    return ExportedFunction(
        spec=canonical,
        name=name or "expr_" + hashlib.sha1(canonical.encode()).hexdigest()[:8],
        doc=doc,
        slot=slot,
        node=node,
        keras=_tree(node, 0),
        torch=_tree(node, 1),
    )


def _why_not(entry: Entry, kwargs: dict[str, Any]) -> str:
    if entry.axis == "spatial":
        return (
            f"'{entry.name}' works on images with learned weights of its own; use it in PyTorch (to_timm, or "
            "torch.onnx.export of the model that holds it)"
        )
    if entry.axis == "dim":
        return f"'{entry.name}' acts along a dimension, not on each value alone; use the framework's own version"
    if _learns(entry.make_module(**kwargs)):
        return (
            f"'{entry.name}' learns its parameters with the model; use the framework's own learnable layer, or "
            "export the trained model with torch.onnx.export"
        )
    if entry.stochastic:
        return f"'{entry.name}' draws random numbers"
    return (
        f"actlab has no Keras or standalone form of '{entry.name}'; use it through PyTorch (to_timm, to_transformers, "
        "to_onnx)"
    )


def _learns(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def _identifier(spec: str) -> str:
    """A catalogue spec as a Python name: ``elu(alpha=-0.5)`` -> ``elu_alpha_m0_5``; a spec with a
    prefix (``pexpr:...``) as the prefix and 8 hex digits of its hash."""
    if ":" in spec:
        return spec.split(":")[0] + "_" + hashlib.sha1(spec.encode()).hexdigest()[:8]
    name = re.sub(r"\W+", "_", spec.replace("-", "m"), flags=re.ASCII).strip("_")
    return "act_" + name if name in _RESERVED or keyword.iskeyword(name) else name


MAX_NAME = 100  # characters of an exported function's name (it also names files)


def _check_name(name: Any) -> str:
    if (
        not isinstance(name, str)
        or not name.isascii()
        or not name.isidentifier()
        or keyword.iskeyword(name)
        or name in _RESERVED
        or len(name) > MAX_NAME
    ):
        raise ActlabError(
            f"{repr(name)[:40]} cannot name an exported function; give a Python name such as 'my_act' "
            f"of at most {MAX_NAME} characters (not one of {', '.join(sorted(_RESERVED))})"
        )
    return name


def _one(source: str | Path, name: str | None, slot: str | None) -> ExportedFunction:
    fns = functions(source, name=name, slot=slot)
    if len(fns) > 1:
        raise ActlabError(
            f"{str(source)!r} holds {len(fns)} functions ({', '.join(str(f.slot) for f in fns)}); choose "
            f"one with slot= ('actlab export --slot')"
        )
    return fns[0]


def _no_form(f: ExportedFunction, target: str) -> ActlabError:
    return ActlabError(f"cannot export {f.spec!r} to {target}: {f.why_not}")


def _import(module: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except Exception as e:  # not installed, or installed and failing (e.g. a torchvision built for another torch)
        package = module.split(".")[0]
        raise ActlabError(
            f"{what} needs {package}, which cannot be imported ({type(e).__name__}: {first_line(e)[:100]}); "
            f"install it with: {INSTALL}"
        ) from None


# ------------------------------------------------------------------------------------ Keras
_KERAS: dict[str, tuple[str, Callable]] = {}  # Keras name -> (spec, function) made by to_keras


def to_keras(spec: str | Path, *, name: str | None = None, slot: str | None = None) -> Callable:
    """The function as a Keras 3 activation built from ``keras.ops`` (any backend), registered
    serialisable as ``"actlab>NAME"``.

    Use it as ``activation=`` in any layer; a model saved as ``.keras`` loads back with
    ``keras.saving.load_model`` in a process where the same name is registered again (call this
    again, or import the module ``to_code(spec, "keras")`` writes). ``name``: the Python and Keras
    name (see :func:`functions`); one name serves one function.

    >>> dense = keras.layers.Dense(64, activation=actlab.to_keras("mish"))  # doctest: +SKIP
    """
    f = _one(spec, name, slot)
    if f.keras is None:
        raise _no_form(f, "Keras")
    keras = _import("keras", "to_keras")
    known = _KERAS.get(f.name)
    if known is not None and known[0] != f.spec:
        raise ActlabError(f"the Keras name {f.name!r} already stands for {known[0]!r}; pass another name=")
    fn = known[1] if known is not None else _keras_function(f, keras.ops)
    keras.saving.register_keras_serializable(package=KERAS_PACKAGE, name=f.name)(
        fn
    )  # again: an imported module may have replaced it
    _KERAS[f.name] = (f.spec, fn)
    return fn


def _keras_function(f: ExportedFunction, ops: Any) -> Callable:
    ns, pdiv, run = (ops,), functools.partial(_pdiv_keras, ops), f.keras

    def activation(x):
        return run(ns, pdiv, ops.convert_to_tensor(x))  # NumPy arrays too, as keras.activations take them

    activation.__name__ = activation.__qualname__ = f.name
    activation.__doc__ = f.doc
    return activation


# ---------------------------------------------------------------------- PyTorch: timm, transformers
def to_timm(spec: str | Path, *, name: str | None = None, slot: str | None = None) -> type[nn.Module]:
    """An ``nn.Module`` class of the function for timm: ``timm.create_model("resnet18",
    pretrained=False, act_layer=actlab.to_timm("mish"))``.

    Each instance holds actlab's own module (any spec, FReLU and PReLU included); the class
    accepts timm's ``inplace=`` and ignores it (the input is never changed). Models keep their
    weights with ``state_dict``; pickling a whole model needs the class importable, as in the
    module ``to_code(spec, "timm")`` writes.
    """
    return _module_class(_one(spec, name, slot))


def to_transformers(spec: str | Path, *, name: str | None = None, slot: str | None = None) -> str:
    """Register the function with Hugging Face transformers as ``"actlab:NAME"`` and return that,
    for ``config.hidden_act`` (``BertConfig``; ``activation_function`` in ``GPT2Config``).

    It goes into ``transformers.activations.ACT2CLS`` and ``ACT2FN``; models built from a
    config that names it (also one loaded with ``from_pretrained``) use actlab's module. The
    prefix keeps it apart from transformers' own names; one name serves one function. Functions
    that act along a dimension or on images are refused: hidden states are ``(batch, tokens, features)``.

    >>> config = BertConfig(hidden_act=actlab.to_transformers("serf"))  # doctest: +SKIP
    """
    f = _one(spec, name, slot)
    if f.entry is not None and not f.entry.elementwise:
        raise ActlabError(
            f"cannot register {f.spec!r} with transformers: it acts along a dimension or on images, and "
            "hidden activations act on each value; choose an element-wise function"
        )
    activations = _import("transformers.activations", "to_transformers")
    cls = _module_class(f)
    key = f.transformers_name
    have = activations.ACT2CLS.get(key)
    if have is not None and getattr(have, "actlab_spec", None) != f.spec:
        raise ActlabError(
            f"the transformers name {key!r} already stands for {getattr(have, 'actlab_spec', have)!r}; "
            "pass another name="
        )
    activations.ACT2CLS[key] = cls
    activations.ACT2FN[key] = cls
    return key


_CLASSES: dict[tuple[str, str], type[nn.Module]] = {}  # (spec, name) -> class: one class per function


def _module_class(f: ExportedFunction) -> type[nn.Module]:
    """The class of the function's module. The spec is checked once, here (``get`` runs it on a
    probe); instances are made without the check, since libraries build models on the meta device
    (transformers' ``from_pretrained``), where no value can be read."""
    if (f.spec, f.name) not in _CLASSES:
        if f.entry is not None:
            get(f.spec)
        _CLASSES[f.spec, f.name] = _new_class(f)
    return _CLASSES[f.spec, f.name]


def _new_class(f: ExportedFunction) -> type[nn.Module]:
    def __init__(self, inplace: bool = False):
        nn.Module.__init__(self)
        self.act = f.module()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x)

    doc = f"{f.doc} (actlab spec {f.spec!r}; ``inplace`` is accepted and ignored.)"
    return type(
        f.class_name,
        (nn.Module,),
        {"__init__": __init__, "forward": forward, "__doc__": doc, "__module__": __name__, "actlab_spec": f.spec},
    )


# ------------------------------------------------------------------------------------- ONNX
def to_onnx(spec: str | Path, path: str | Path, *, slot: str | None = None, rank: int = 2) -> Path:
    """Write the function alone as an ONNX model: input ``x``, output ``y``, float32 tensors of
    ``rank`` dimensions, each of any size (``torch.onnx.export`` with the ``torch.export``
    exporter, onnxscript). Returns ``path``.

    A model that uses an actlab function exports as it is with ``torch.onnx.export``; this is for
    the function on its own. Functions with learned weights (FReLU, PReLU) or random ones are refused.
    """
    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise ActlabError(f"to_onnx writes to a file: give its path, e.g. 'act.onnx'; got {repr(path)[:40]}")
    f = _one(spec, None, slot)
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= 6:
        raise ActlabError(f"rank must be a whole number from 1 to 6, got {rank!r}")
    act = f.module().eval()
    if f.entry is not None and (f.entry.axis == "spatial" or f.entry.stochastic) or _learns(act):
        raise ActlabError(
            f"cannot export {f.spec!r} alone to ONNX: it has learned weights or draws random numbers; "
            "export the trained model that holds it with torch.onnx.export"
        )
    for module in ("onnx", "onnxscript"):
        _import(module, "to_onnx")
    x = torch.randn((3,) * rank)
    dims = (dict.fromkeys(range(rank), torch.export.Dim.DYNAMIC),)

    def write(tmp: Path) -> None:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), _quiet("torch.onnx"):
            warnings.simplefilter("ignore")  # the exporter's progress lines, notes and warnings
            torch.onnx.export(
                act,
                (x,),
                str(tmp),
                input_names=["x"],
                output_names=["y"],
                dynamic_shapes=dims,
                dynamo=True,
                external_data=False,
            )

    path = Path(path)
    try:
        return write_file_atomic(path, write)
    except OSError as e:
        raise ActlabError(f"cannot write {str(path)!r} ({e.strerror or e}); choose another file") from None
    except Exception as e:  # the exporter refuses the function
        why = re.sub(r"\x1b\[[0-9;]*m", "", first_line(e))[:160]  # the exporter colours its messages
        raise ActlabError(f"cannot export {f.spec!r} to ONNX: {type(e).__name__}: {why}") from None


@contextlib.contextmanager
def _quiet(logger: str):
    """The logger ``logger`` silenced below errors for a while."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


# ------------------------------------------------------------------------------------- code
def to_code(spec: str | Path, target: str = "torch", *, name: str | None = None, slot: str | None = None) -> str:
    """The source of a standalone Python module with the function(s), for ``target``:

    * ``"torch"``: a ``def NAME(x)`` and an ``nn.Module`` class using only PyTorch; paste it
      into a file, no actlab needed (the class also serves timm's and torchvision's ``act_layer``);
    * ``"timm"``: the same, with how to pass the class to ``timm.create_model``;
    * ``"transformers"``: the same, registering each function with transformers when imported;
    * ``"keras"``: a ``def NAME(x)`` of ``keras.ops``, registered with Keras when imported under
      the name :func:`to_keras` uses, so models saved with either load with the other.

    A ``best.json`` with several slots gives one function per slot (``slot=`` picks one).

    >>> print(actlab.to_code("expr:max(x, x * tanh(x))"))  # doctest: +SKIP
    """
    if target not in TARGETS:
        raise ActlabError(f"unknown code target {str(target)[:20]!r}; choose one of {', '.join(TARGETS)}")
    fns = functions(spec, name=name, slot=slot)
    col = 0 if target == "keras" else 1
    for f in fns:
        if (f.keras, f.torch)[col] is None:
            raise _no_form(f, "Keras" if col == 0 else "standalone PyTorch code")
    names = ", ".join(f.name for f in fns)
    source = f"# exported by actlab from {str(spec)!r}"
    if target == "keras":
        return _keras_module(fns, names, source)
    return _torch_module(fns, names, source, target)


def _example(fns: list[ExportedFunction]) -> ExportedFunction:
    """The function a usage example names: the hidden layers' of an evolution with several slots."""
    return next((f for f in fns if f.slot == "hidden"), fns[0])


def _body(f: ExportedFunction, col: int) -> list[str]:
    """The statements of the function's body, in the forms of column ``col``."""
    tape = _Tape()
    ns = (_Names(tape, "ops"),) if col == 0 else (_Names(tape, "torch"), _Names(tape, "F"))
    run = f.keras if col == 0 else f.torch
    return tape.statements(run(ns, functools.partial(tape.call, "_pdiv"), _Code(tape, "x")))


def _helper(col: int) -> list[str]:
    """``def _pdiv(a, b)``: the protected division, written from its form."""
    tape = _Tape()
    ns = (_Names(tape, "ops"),) if col == 0 else (_Names(tape, "torch"), _Names(tape, "F"))
    body = tape.statements(_PDIV[col](*ns, _Code(tape, "a"), _Code(tape, "b")))
    return ["def _pdiv(a, b):", f'    """{_PDIV_DOC}"""', *(f"    {s}" for s in body), "", ""]


def _docstring(text: str, indent: str) -> list[str]:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = textwrap.wrap(text, 96 - len(indent)) or [""]
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}', *(f"{indent}{line}" for line in lines[1:]), f'{indent}"""']


def _spec_comment(f: ExportedFunction) -> str:
    return f"    # actlab spec {f.spec!r}" + (f", for {f.slot}" if f.slot else "")


def _torch_module(fns: list[ExportedFunction], names: str, source: str, target: str) -> str:
    bodies = {f.name: _body(f, 1) for f in fns}
    uses = "\n".join(s for b in bodies.values() for s in b)
    classes, example = ", ".join(f.class_name for f in fns), _example(fns)
    head = {
        "torch": f"Activation functions exported by actlab: {names}. They need only PyTorch.",
        "timm": f"Activation functions exported by actlab for timm: pass a class as act_layer, e.g. "
        f"timm.create_model('resnet18', pretrained=False, act_layer={example.class_name}). Classes: {classes}.",
        "transformers": f"Activation functions exported by actlab for transformers: importing this module registers "
        f"{', '.join(f.transformers_name for f in fns)} in transformers.activations, e.g. for "
        f"BertConfig(hidden_act={example.transformers_name!r}).",
    }[target]
    out = [*_docstring(head, ""), source, "", "import torch"]
    if "F." in uses:
        out.append("import torch.nn.functional as F")
    out.append("from torch import nn")
    if target == "transformers":
        out.append("from transformers.activations import ACT2CLS, ACT2FN")
    out += ["", ""]
    if "_pdiv(" in uses:
        out += _helper(1)
    for f in fns:
        out += [
            f"def {f.name}(x: torch.Tensor) -> torch.Tensor:",
            *_docstring(f.doc, "    "),
            _spec_comment(f),
            *(f"    {s}" for s in bodies[f.name]),
            "",
            "",
        ]
        out += [
            f"class {f.class_name}(nn.Module):",
            *_docstring(
                f"{f.name} as a module, for any shape. inplace is accepted for timm's and torchvision's "
                "act_layer(inplace=True) and ignored: the input is never changed.",
                "    ",
            ),
            "",
            f"    actlab_spec = {f.spec!r}",
            "",
            "    def __init__(self, inplace: bool = False):",
            "        super().__init__()",
            "",
            "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
            f"        return {f.name}(x)",
            "",
            "",
        ]
    if target == "transformers":
        for f in fns:
            out += [
                f"ACT2CLS[{f.transformers_name!r}] = {f.class_name}",
                f"ACT2FN[{f.transformers_name!r}] = {f.class_name}",
            ]
    return "\n".join(out).rstrip() + "\n"


def _keras_module(fns: list[ExportedFunction], names: str, source: str) -> str:
    bodies = {f.name: _body(f, 0) for f in fns}
    head = (
        f"Keras 3 activation functions exported by actlab: {names}. Importing this module registers each with "
        f"Keras as 'actlab>NAME', so a model that uses one (keras.layers.Dense(64, activation={_example(fns).name})) "
        "saves as .keras and loads back with keras.saving.load_model. Any Keras backend."
    )
    out = [*_docstring(head, ""), source, "", "import keras", "from keras import ops", "", ""]
    if any("_pdiv(" in s for b in bodies.values() for s in b):
        out += _helper(0)
    for f in fns:
        out += [
            f"@keras.saving.register_keras_serializable(package={KERAS_PACKAGE!r}, name={f.name!r})",
            f"def {f.name}(x):",
            *_docstring(f.doc, "    "),
            _spec_comment(f),
            "    x = ops.convert_to_tensor(x)",
            *(f"    {s}" for s in bodies[f.name]),
            "",
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


__all__ = [
    "ExportedFunction",
    "INSTALL",
    "KERAS_PACKAGE",
    "TARGETS",
    "TRANSFORMERS_PREFIX",
    "functions",
    "to_code",
    "to_keras",
    "to_onnx",
    "to_timm",
    "to_transformers",
]
