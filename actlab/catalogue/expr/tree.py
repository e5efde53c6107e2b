"""The tree of an expression (:class:`Var`, :class:`Const`, :class:`Call`), its limits, and the
whitelisted primitives with their NumPy and sympy forms (their torch forms: :mod:`.compile`).

This module, :mod:`.parse` and :mod:`.sympy` import neither torch nor the rest of actlab: the
process that runs sympy (:mod:`._process`) imports only them.
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from actlab._errors import ActlabError

MAX_CHARS = 4000  # longest text accepted
MAX_NODES = 500  # largest tree accepted
MAX_NESTING = 60  # deepest nesting accepted
DIV_EPS = 1e-6
LOG_EPS = 1e-6
SQRT_EPS = 1e-12
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
RRELU_SLOPE = (1.0 / 8.0 + 1.0 / 3.0) / 2.0  # torch.nn.RReLU in evaluation mode


# ----------------------------------------------------------------------------------- the tree
@dataclass(frozen=True)
class Var:
    """The input ``x``."""


@dataclass(frozen=True)
class Const:
    value: float


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple


Node = Var | Const | Call
X = Var()


def size(node: Node) -> int:
    """Number of nodes."""
    return 1 + sum(size(a) for a in node.args) if isinstance(node, Call) else 1


def height(node: Node) -> int:
    """Height as DEAP counts it: a lone terminal has height 0."""
    return 1 + max(height(a) for a in node.args) if isinstance(node, Call) else 0


def primitives_used(node: Node) -> set[str]:
    return {node.name} | set().union(*(primitives_used(a) for a in node.args)) if isinstance(node, Call) else set()


# ------------------------------------------------------------------------------ the primitives
def _protect(b):
    """``b`` with its magnitude raised to at least DIV_EPS (sign kept; 0 counts as positive)."""
    if isinstance(b, np.ndarray):
        return np.where(np.abs(b) < DIV_EPS, np.where(b < 0, -DIV_EPS, DIV_EPS), b)
    return b if abs(b) >= DIV_EPS else math.copysign(DIV_EPS, b) if b != 0 else DIV_EPS


def _np_sigmoid(x):
    from scipy.special import expit

    return expit(x)


def _np_erf(x):
    from scipy.special import erf

    return erf(x)


def _sp():
    import sympy

    return sympy


def _sp_elu(a, scale=1, alpha=1):
    sp = _sp()
    return scale * (sp.Max(0, a) + alpha * sp.Min(0, sp.exp(a) - 1))


def _sp_hardshrink(a):
    sp = _sp()
    return sp.Piecewise((a, sp.Abs(a) > sp.Rational(1, 2)), (0, True))


def _sp_protected_value(b):
    """A numeric sympy denominator as the protected division uses it (|b| raised to at least
    DIV_EPS, sign kept), or None where ``b`` is not a real number."""
    sp = _sp()
    try:
        v = float(b)
    except (TypeError, ValueError):
        return None
    if math.isnan(v):
        return None
    return b if abs(v) >= DIV_EPS else (-1 if v < 0 else 1) * sp.Rational(1, round(1 / DIV_EPS))


@functools.cache
def _sp_pdiv():
    """The sympy function ``pdiv(a, b)``: the protected division where sympy cannot prove that the
    denominator stays at least DIV_EPS away from 0 (a formula never claims ``a / b`` there). It
    evaluates as ``a / b`` once ``b`` is a number (e.g. after a substitution)."""
    sp = _sp()

    class pdiv(sp.Function):  # noqa: N801 - the name formulas show
        nargs = 2

        @classmethod
        def eval(cls, a, b):
            if b.is_number:
                q = _sp_protected_value(b)
                if q is not None:
                    return a / q
            return None

        def _eval_is_real(self):
            a, b = self.args
            return True if a.is_real and b.is_real else None

        def _latex(self, printer):
            a, b = (printer._print(t) for t in self.args)
            return rf"\operatorname{{pdiv}}\left({a}, {b}\right)"

    return pdiv


def _sp_div(a, b):
    """Protected division in sympy: ``a / b`` where ``|b| >= DIV_EPS`` is provable, else ``pdiv(a, b)``."""
    sp = _sp()
    eps = sp.Rational(1, round(1 / DIV_EPS))
    if not b.is_number and ((b - eps).is_nonnegative or (-b - eps).is_nonnegative):
        return a / b
    return _sp_pdiv()(a, b)


@dataclass(frozen=True)
class Primitive:
    """One whitelisted operation: its NumPy and sympy forms (its torch form: :data:`.compile.TORCH`)."""

    name: str
    arity: int
    numpy: Callable[..., np.ndarray]
    sympy: Callable[..., Any]
    note: str = ""


def _u(name, n, s, note=""):
    return Primitive(name, 1, n, s, note)


PRIMITIVES: dict[str, Primitive] = {
    p.name: p
    for p in [
        _u("relu", lambda a: np.maximum(a, 0.0), lambda a: _sp().Max(0, a)),
        _u(
            "leaky_relu",
            lambda a: np.where(a >= 0, a, 0.01 * a),
            lambda a: _sp().Max(a, a / 100),
            "slope 0.01 below zero",
        ),
        _u("elu", lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0))), _sp_elu, "alpha 1"),
        _u("celu", lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0))), _sp_elu, "alpha 1 (then equal to elu)"),
        _u(
            "selu",
            lambda a: SELU_SCALE * np.where(a > 0, a, SELU_ALPHA * np.expm1(np.minimum(a, 0))),
            lambda a: _sp_elu(a, _sp().Float(SELU_SCALE), _sp().Float(SELU_ALPHA)),
        ),
        _u("tanh", np.tanh, lambda a: _sp().tanh(a)),
        _u("sigmoid", _np_sigmoid, lambda a: 1 / (1 + _sp().exp(-a))),
        _u("hardtanh", lambda a: np.clip(a, -1.0, 1.0), lambda a: _sp().Min(1, _sp().Max(-1, a))),
        _u(
            "hardswish",
            lambda a: a * np.clip(a + 3.0, 0.0, 6.0) / 6.0,
            lambda a: a * _sp().Min(1, _sp().Max(0, a / 6 + _sp().Rational(1, 2))),
        ),
        _u("hardshrink", lambda a: np.where(np.abs(a) > 0.5, a, 0.0), _sp_hardshrink, "lambda 0.5"),
        _u(
            "softshrink",
            lambda a: np.where(a > 0.5, a - 0.5, np.where(a < -0.5, a + 0.5, 0.0)),
            lambda a: _sp().Max(0, a - _sp().Rational(1, 2)) + _sp().Min(0, a + _sp().Rational(1, 2)),
            "lambda 0.5",
        ),
        _u("softplus", lambda a: np.logaddexp(0.0, a), lambda a: _sp().log(1 + _sp().exp(a))),
        _u(
            "rrelu",
            lambda a: np.where(a >= 0, a, RRELU_SLOPE * a),
            lambda a: _sp().Max(a, _sp().Rational(11, 48) * a),
            "random slope in [1/8, 1/3] while training; 11/48 otherwise",
        ),
        _u("abs", np.abs, lambda a: _sp().Abs(a)),
        _u("neg", np.negative, lambda a: -a),
        _u("exp", np.exp, lambda a: _sp().exp(a)),
        _u("sin", np.sin, lambda a: _sp().sin(a)),
        _u("cos", np.cos, lambda a: _sp().cos(a)),
        _u("erf", _np_erf, lambda a: _sp().erf(a)),
        _u("square", np.square, lambda a: a**2),
        _u(
            "log",
            lambda a: np.log(np.abs(a) + LOG_EPS),
            lambda a: _sp().log(_sp().Abs(a) + _sp().Float(LOG_EPS)),
            "protected: log(|x| + 1e-6)",
        ),
        _u("sqrt", lambda a: np.sqrt(np.abs(a) + SQRT_EPS), lambda a: _sp().sqrt(_sp().Abs(a)), "protected: sqrt(|x|)"),
        Primitive("add", 2, np.add, lambda a, b: a + b),
        Primitive("sub", 2, np.subtract, lambda a, b: a - b),
        Primitive("mul", 2, np.multiply, lambda a, b: a * b),
        Primitive(
            "div",
            2,
            lambda a, b: a / _protect(b),
            _sp_div,
            "protected: |b| is raised to at least 1e-6; formulas show pdiv(a, b) where b may come near 0",
        ),
        Primitive("max", 2, np.maximum, lambda a, b: _sp().Max(a, b)),
        Primitive("min", 2, np.minimum, lambda a, b: _sp().Min(a, b)),
    ]
}

DEFAULT_UNARY = (
    "relu",
    "leaky_relu",
    "elu",
    "celu",
    "selu",
    "tanh",
    "sigmoid",
    "hardtanh",
    "hardswish",
    "hardshrink",
    "softshrink",
    "softplus",
    "abs",
    "neg",
    "exp",
    "sin",
    "cos",
    "erf",
    "square",
    "log",
    "sqrt",
)
DEFAULT_BINARY = ("add", "sub", "mul", "div", "max", "min")


def _key(name: str) -> str:
    return name.replace("_", "").lower()


_BY_KEY = {_key(n): n for n in PRIMITIVES}


def primitive_name(name: str, *, what: str = "primitive") -> str:
    """The canonical primitive name for ``name`` (case and ``_`` do not matter), or a one-line error."""
    hit = _BY_KEY.get(_key(name))
    if hit is None:
        close = difflib.get_close_matches(_key(name), list(_BY_KEY), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(repr(_BY_KEY[c]) for c in close)}? " if close else ""
        raise ActlabError(f"unknown {what} {_short(name, 30)}; {hint}choose from: {', '.join(PRIMITIVES)}")
    return hit


def _short(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[: n - 3] + "...")


# ------------------------------------------------------------------------ checks and values
def check_tree(node: Any) -> Node:
    """``node`` if it is a tree the parser could have made (known primitives with their arity,
    finite constants, at most MAX_NODES nodes and MAX_NESTING levels), else a one-line error.
    Iterative: a tree nested a million levels deep is refused, not a RecursionError."""
    todo, count = [(node, 0)], 0
    while todo:
        n, depth = todo.pop()
        count += 1
        if count > MAX_NODES or depth > MAX_NESTING:
            raise ActlabError(f"expression tree too large (at most {MAX_NODES} nodes, {MAX_NESTING} levels deep)")
        if isinstance(n, Var):
            continue
        if isinstance(n, Const):
            v = n.value
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ActlabError(
                    f"expression tree has the constant {_short(repr(v), 30)}; constants are finite numbers"
                )
            continue
        if (
            not isinstance(n, Call)
            or not isinstance(n.name, str)
            or n.name not in PRIMITIVES
            or not isinstance(n.args, (tuple, list))
        ):
            raise ActlabError(
                f"expression tree has the node {_short(repr(n), 40)}; use Var, Const and Call of "
                "a primitive (or write the expression as text)"
            )
        if len(n.args) != PRIMITIVES[n.name].arity:
            raise ActlabError(f"{n.name} takes {PRIMITIVES[n.name].arity} argument(s), got {len(n.args)}")
        todo.extend((a, depth + 1) for a in n.args)
    return node


def depends_on_x(node: Node) -> bool:
    """False for a constant expression (no ``x`` anywhere): no activation function."""
    return _fold(node) is None


def constants(node: Node) -> list[float]:
    """The values of the tree's constants, in prefix order (the order of the learnable ones)."""
    if isinstance(node, Const):
        return [float(node.value)]
    if isinstance(node, Call):
        return [c for a in node.args for c in constants(a)]
    return []


def _fold(node: Node) -> float | None:
    """The value of a subtree without ``x``, else None (float64, as Python floats)."""
    if isinstance(node, Const):
        return float(node.value)
    if isinstance(node, Var):
        return None
    vals = [_fold(a) for a in node.args]
    if any(v is None for v in vals):
        return None
    with np.errstate(all="ignore"):
        return float(PRIMITIVES[node.name].numpy(*(np.float64(v) for v in vals)))


def numpy_eval(node: Node, x: np.ndarray) -> np.ndarray:
    """The tree evaluated with NumPy (a reference implementation for tests; evaluation mode)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.asarray(_np(node, x), dtype=np.float64) + np.zeros_like(x)


def _np(node: Node, x):
    if isinstance(node, Var):
        return x
    if isinstance(node, Const):
        return np.full_like(x, node.value)
    return PRIMITIVES[node.name].numpy(*(_np(a, x) for a in node.args))
