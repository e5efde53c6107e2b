"""The expression language of evolved activation functions: ``"max(x, x*tanh(x))"``.

One variable ``x``, float constants, ``+ - * /`` (``/`` is the protected division), integer
powers ``x**2`` (rewritten with ``square``), and calls of the whitelisted primitives in
:data:`PRIMITIVES`. Text is read by a tokenizer and a recursive-descent parser of its own into
a small tree (:class:`Var`, :class:`Const`, :class:`Call`); nothing the user writes is ever
given to ``eval``, ``exec``, ``compile`` or sympy's string parser. Every mistake is an
:class:`~actlab.ActlabError` with a one-line message.

From the tree:

* :func:`compile_torch` gives a torch function (closures over torch ops, no code generation);
* :func:`numpy_eval` a NumPy reference;
* :func:`to_sympy` a sympy expression built node by node (``sympy.Max``, ``sympy.exp``, ...),
  and :func:`simplified` its simplification, as text and LaTeX;
* :func:`to_text` the canonical text, which parses back to the same tree.

Protected operations: ``div(a, b) = a / b`` with ``|b|`` raised to at least 1e-6 (keeping its
sign); ``log(x) = log(|x| + 1e-6)``; ``sqrt(x) = sqrt(|x|)`` (1e-12 is added under the root so
that the gradient at 0 stays finite). Formulas show what the function computes: ``a / b`` where
sympy proves ``|b| >= 1e-6``, ``pdiv(a, b)`` (the protected division, named) where ``b`` may come
closer to 0, and a constant denominator as the value the division uses (``x / 0`` is ``1000000 x``);
larger subtrees without ``x`` (or ones that overflow) are shown as the float64 value the torch
function folds them to.

``"expr:TEXT"`` works as an activation spec everywhere a catalogue name does, e.g.
``actlab.get("expr:max(x, x*tanh(x))")``; see :func:`entry`.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._errors import ActlabError

PREFIX = "expr:"
LEARN_PREFIX = "pexpr:"  # the same expression, its constants learned per layer with the weights
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
    if isinstance(b, torch.Tensor):
        return torch.where(b.abs() < DIV_EPS, torch.where(b < 0, torch.full_like(b, -DIV_EPS), torch.full_like(b, DIV_EPS)), b)
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


@functools.lru_cache(maxsize=None)
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
            return r"\operatorname{pdiv}\left(%s, %s\right)" % (a, b)

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
    """One whitelisted operation: its torch, NumPy and sympy forms."""

    name: str
    arity: int
    torch: Callable[..., torch.Tensor]  # (args..., training) for arity 1: torch(a, training)
    numpy: Callable[..., np.ndarray]
    sympy: Callable[..., Any]
    note: str = ""
    deriv: Callable[..., torch.Tensor] | None = None  # arity 1: f'(a) from (a, f(a)); torch's autograd conventions


def _u(name, t, n, s, note="", d=None):
    return Primitive(name, 1, t, n, s, note, d)


def _where(cond: torch.Tensor, like: torch.Tensor, hi: float, lo: float) -> torch.Tensor:
    """``hi`` where ``cond``, else ``lo``, in ``like``'s dtype."""
    return torch.where(cond, like.new_full((), hi), like.new_full((), lo))


def _mask(cond: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return cond.to(like.dtype)


PRIMITIVES: dict[str, Primitive] = {p.name: p for p in [
    _u("relu", lambda a, tr: F.relu(a), lambda a: np.maximum(a, 0.0), lambda a: _sp().Max(0, a),
       d=lambda a, y: _mask(y > 0, a)),
    _u("leaky_relu", lambda a, tr: F.leaky_relu(a, 0.01), lambda a: np.where(a >= 0, a, 0.01 * a),
       lambda a: _sp().Max(a, a / 100), "slope 0.01 below zero", d=lambda a, y: _where(a > 0, a, 1.0, 0.01)),
    _u("elu", lambda a, tr: F.elu(a), lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0))), _sp_elu, "alpha 1",
       d=lambda a, y: torch.where(a > 0, a.new_ones(()), y + 1)),
    _u("celu", lambda a, tr: F.celu(a), lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0))), _sp_elu,
       "alpha 1 (then equal to elu)", d=lambda a, y: torch.where(a > 0, a.new_ones(()), y + 1)),
    _u("selu", lambda a, tr: F.selu(a),
       lambda a: SELU_SCALE * np.where(a > 0, a, SELU_ALPHA * np.expm1(np.minimum(a, 0))),
       lambda a: _sp_elu(a, _sp().Float(SELU_SCALE), _sp().Float(SELU_ALPHA)),
       d=lambda a, y: torch.where(a > 0, a.new_full((), SELU_SCALE), y + SELU_SCALE * SELU_ALPHA)),
    _u("tanh", lambda a, tr: torch.tanh(a), np.tanh, lambda a: _sp().tanh(a), d=lambda a, y: 1 - y * y),
    _u("sigmoid", lambda a, tr: torch.sigmoid(a), _np_sigmoid, lambda a: 1 / (1 + _sp().exp(-a)),
       d=lambda a, y: y * (1 - y)),
    _u("hardtanh", lambda a, tr: F.hardtanh(a), lambda a: np.clip(a, -1.0, 1.0), lambda a: _sp().Min(1, _sp().Max(-1, a)),
       d=lambda a, y: _mask((a > -1) & (a < 1), a)),
    _u("hardswish", lambda a, tr: F.hardswish(a), lambda a: a * np.clip(a + 3.0, 0.0, 6.0) / 6.0,
       lambda a: a * _sp().Min(1, _sp().Max(0, a / 6 + _sp().Rational(1, 2))),
       d=lambda a, y: torch.where(a <= -3, a.new_zeros(()), torch.where(a < 3, a / 3 + 0.5, a.new_ones(())))),
    _u("hardshrink", lambda a, tr: F.hardshrink(a), lambda a: np.where(np.abs(a) > 0.5, a, 0.0), _sp_hardshrink,
       "lambda 0.5", d=lambda a, y: _mask((a < -0.5) | (a > 0.5), a)),
    _u("softshrink", lambda a, tr: F.softshrink(a), lambda a: np.where(a > 0.5, a - 0.5, np.where(a < -0.5, a + 0.5, 0.0)),
       lambda a: _sp().Max(0, a - _sp().Rational(1, 2)) + _sp().Min(0, a + _sp().Rational(1, 2)), "lambda 0.5",
       d=lambda a, y: _mask((a < -0.5) | (a > 0.5), a)),
    _u("softplus", lambda a, tr: F.softplus(a), lambda a: np.logaddexp(0.0, a), lambda a: _sp().log(1 + _sp().exp(a)),
       d=lambda a, y: torch.where(a > 20, a.new_ones(()), torch.sigmoid(a))),
    _u("rrelu", lambda a, tr: F.rrelu(a, training=tr), lambda a: np.where(a >= 0, a, RRELU_SLOPE * a),
       lambda a: _sp().Max(a, _sp().Rational(11, 48) * a), "random slope in [1/8, 1/3] while training; 11/48 otherwise",
       d=lambda a, y: _where(a > 0, a, 1.0, RRELU_SLOPE)),
    _u("abs", lambda a, tr: torch.abs(a), np.abs, lambda a: _sp().Abs(a), d=lambda a, y: torch.sign(a)),
    _u("neg", lambda a, tr: torch.neg(a), np.negative, lambda a: -a, d=lambda a, y: -1.0),
    _u("exp", lambda a, tr: torch.exp(a), np.exp, lambda a: _sp().exp(a), d=lambda a, y: y),
    _u("sin", lambda a, tr: torch.sin(a), np.sin, lambda a: _sp().sin(a), d=lambda a, y: torch.cos(a)),
    _u("cos", lambda a, tr: torch.cos(a), np.cos, lambda a: _sp().cos(a), d=lambda a, y: -torch.sin(a)),
    _u("erf", lambda a, tr: torch.erf(a), _np_erf, lambda a: _sp().erf(a),
       d=lambda a, y: torch.exp(-a * a) * (2 / math.sqrt(math.pi))),
    _u("square", lambda a, tr: torch.square(a), np.square, lambda a: a ** 2, d=lambda a, y: 2 * a),
    _u("log", lambda a, tr: torch.log(a.abs() + LOG_EPS), lambda a: np.log(np.abs(a) + LOG_EPS),
       lambda a: _sp().log(_sp().Abs(a) + _sp().Float(LOG_EPS)), "protected: log(|x| + 1e-6)",
       d=lambda a, y: torch.sign(a) / (a.abs() + LOG_EPS)),
    _u("sqrt", lambda a, tr: torch.sqrt(a.abs() + SQRT_EPS), lambda a: np.sqrt(np.abs(a) + SQRT_EPS),
       lambda a: _sp().sqrt(_sp().Abs(a)), "protected: sqrt(|x|)", d=lambda a, y: torch.sign(a) * 0.5 / y),
    Primitive("add", 2, torch.add, np.add, lambda a, b: a + b),
    Primitive("sub", 2, torch.sub, np.subtract, lambda a, b: a - b),
    Primitive("mul", 2, torch.mul, np.multiply, lambda a, b: a * b),
    Primitive("div", 2, lambda a, b: a / _protect(b), lambda a, b: a / _protect(b), _sp_div,
              "protected: |b| is raised to at least 1e-6; formulas show pdiv(a, b) where b may come near 0"),
    Primitive("max", 2, torch.maximum, np.maximum, lambda a, b: _sp().Max(a, b)),
    Primitive("min", 2, torch.minimum, np.minimum, lambda a, b: _sp().Min(a, b)),
]}

DEFAULT_UNARY = ("relu", "leaky_relu", "elu", "celu", "selu", "tanh", "sigmoid", "hardtanh", "hardswish", "hardshrink",
                 "softshrink", "softplus", "abs", "neg", "exp", "sin", "cos", "erf", "square", "log", "sqrt")
DEFAULT_BINARY = ("add", "sub", "mul", "div", "max", "min")
_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_PREC = {"add": 1, "sub": 1, "mul": 2, "div": 2}


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


# --------------------------------------------------------------------------------- the parser
_TOKEN = re.compile(
    r"(?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/(),^])",
    re.ASCII,
)
_SPACE = re.compile(r"[ \t\r\n]+", re.ASCII)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, i = [], 0
    while i < len(text):
        m = _SPACE.match(text, i)
        if m:
            i = m.end()
            continue
        m = _TOKEN.match(text, i)
        if not m:
            raise _error(text, f"unexpected character {text[i]!r} at position {i}")
        out.append((m.lastgroup, m.group(), i))
        i = m.end()
    return out


def _error(text: str, what: str) -> ActlabError:
    return ActlabError(f"cannot read expression {_short(text)}: {what}; write e.g. 'max(x, x*tanh(x))'")


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0
        self.nodes = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise _error(self.text, "it ends too early" + (f" (expected {value!r})" if value else ""))
        if value is not None and tok[1] != value:
            raise _error(self.text, f"expected {value!r} at position {tok[2]}, found {tok[1]!r}")
        self.i += 1
        return tok

    def node(self, n: Node) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _error(self.text, f"more than {MAX_NODES} nodes")
        return n

    def nest(self):
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _error(self.text, f"nested more than {MAX_NESTING} levels deep")

    def parse(self) -> Node:
        if not self.toks:
            raise _error(self.text, "it is empty")
        n = self.expr()
        tok = self.peek()
        if tok is not None:
            raise _error(self.text, f"unexpected {tok[1]!r} at position {tok[2]}")
        return n

    def expr(self) -> Node:
        self.nest()
        n = self.term()
        while (tok := self.peek()) is not None and tok[1] in "+-" and tok[0] == "op":
            self.take()
            n = self.node(Call("add" if tok[1] == "+" else "sub", (n, self.term())))
        self.depth -= 1
        return n

    def term(self) -> Node:
        n = self.factor()
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in ("*", "/"):
            self.take()
            n = self.node(Call("mul" if tok[1] == "*" else "div", (n, self.factor())))
        return n

    def factor(self) -> Node:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in "+-":
            self.take()
            self.nest()
            inner = self.factor()
            self.depth -= 1
            if tok[1] == "+":
                return inner
            if isinstance(inner, Const):
                return Const(-inner.value)
            return self.node(Call("neg", (inner,)))
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        tok = self.peek()
        if tok is None or tok[1] not in ("**", "^"):
            return base
        self.take()
        n = self.exponent(tok[2])
        if n < 0:
            return self.node(Call("div", (self.node(Const(1.0)), self._pow(base, -n))))
        return self._pow(base, n)

    def _pow(self, base: Node, n: int) -> Node:
        if n == 1:
            return base
        if n == 2:
            return self.node(Call("square", (base,)))
        if n == 3:
            return self.node(Call("mul", (self.node(Call("square", (base,))), base)))
        return self.node(Call("square", (self.node(Call("square", (base,))),)))  # n == 4

    def exponent(self, where: int) -> int:
        paren = self.peek() is not None and self.peek()[1] == "("
        if paren:
            self.take("(")
        sign = 1
        tok = self.peek()
        if tok is not None and tok[1] in ("-", "+"):
            self.take()
            sign = -1 if tok[1] == "-" else 1
        tok = self.peek()
        bad = _error(self.text, f"only integer powers from -4 to 4 (not 0) are supported at position {where}; "
                                f"use square(x) or mul()")
        if tok is None or tok[0] != "num":
            raise bad
        self.take()
        value = float(tok[1])
        if paren:
            self.take(")")
        if not value.is_integer() or not 1 <= abs(value) <= 4:
            raise bad
        return sign * int(value)

    def atom(self) -> Node:
        tok = self.take()
        kind, value, pos = tok
        if kind == "num":
            v = float(value)
            if not math.isfinite(v):
                raise _error(self.text, f"constant {_short(value, 20)} is too large")
            return self.node(Const(v))
        if kind == "name":
            nxt = self.peek()
            if nxt is None or nxt[1] != "(":
                if value.lower() == "x":
                    return self.node(X)
                raise _error(self.text, f"unknown name {_short(value, 30)} at position {pos}; the only variable is x")
            hit = _BY_KEY.get(_key(value))
            if hit is None:
                close = difflib.get_close_matches(_key(value), list(_BY_KEY), n=3, cutoff=0.6)
                hint = f" (did you mean {', '.join(repr(_BY_KEY[c]) for c in close)}?)" if close else ""
                raise _error(self.text, f"unknown function {_short(value, 30)} at position {pos}{hint}")
            prim = PRIMITIVES[hit]
            self.take("(")
            self.nest()
            args = []
            if self.peek() is not None and self.peek()[1] == ")":
                pass
            else:
                args.append(self.expr())
                while self.peek() is not None and self.peek()[1] == ",":
                    self.take(",")
                    args.append(self.expr())
            self.take(")")
            self.depth -= 1
            if len(args) != prim.arity:
                raise _error(self.text, f"{hit} takes {prim.arity} argument{'s' if prim.arity > 1 else ''}, "
                                        f"got {len(args)} at position {pos}")
            return self.node(Call(hit, tuple(args)))
        if value == "(":
            self.nest()
            n = self.expr()
            self.take(")")
            self.depth -= 1
            return n
        raise _error(self.text, f"unexpected {value!r} at position {pos}")


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
                raise ActlabError(f"expression tree has the constant {_short(repr(v), 30)}; constants are finite numbers")
            continue
        if not isinstance(n, Call) or not isinstance(n.name, str) or n.name not in PRIMITIVES or not isinstance(n.args, (tuple, list)):
            raise ActlabError(f"expression tree has the node {_short(repr(n), 40)}; use Var, Const and Call of "
                              "a primitive (or write the expression as text)")
        if len(n.args) != PRIMITIVES[n.name].arity:
            raise ActlabError(f"{n.name} takes {PRIMITIVES[n.name].arity} argument(s), got {len(n.args)}")
        todo.extend((a, depth + 1) for a in n.args)
    return node


def depends_on_x(node: Node) -> bool:
    """False for a constant expression (no ``x`` anywhere): no activation function."""
    return _fold(node) is None


def parse(text: str) -> Node:
    """Parse expression text into a tree; ``ActlabError`` (one line) for anything else."""
    if not isinstance(text, str):
        raise ActlabError(f"an expression is text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ActlabError(f"expression of {len(text)} characters is too long (at most {MAX_CHARS})")
    return _Parser(text).parse()


# -------------------------------------------------------------------------------- the printer
def _const_text(v: float) -> str:
    return repr(float(v))


def to_text(node: Node) -> str:
    """Canonical text: ``+ - * /`` infix, every other primitive as a call; parses back to ``node``."""
    if isinstance(node, Var):
        return "x"
    if isinstance(node, Const):
        return _const_text(node.value)
    if node.name in _INFIX:
        p = _PREC[node.name]
        a, b = node.args
        left, right = to_text(a), to_text(b)
        if isinstance(a, Call) and _PREC.get(a.name, 3) < p:
            left = f"({left})"
        if isinstance(b, Call) and _PREC.get(b.name, 3) <= p:
            right = f"({right})"
        return f"{left} {_INFIX[node.name]} {right}"
    return f"{node.name}({', '.join(to_text(a) for a in node.args)})"


def canonical(text: str) -> str:
    return to_text(parse(text))


# -------------------------------------------------------------------------------- evaluators
TorchFn = Callable[[torch.Tensor, bool], torch.Tensor]


def compile_torch(node: Node) -> TorchFn:
    """A torch function ``f(x, training)`` of the tree (closures over torch ops; constants folded)."""
    c = _fold(node)
    if c is not None:
        return lambda x, training=False: torch.full_like(x, c)
    if isinstance(node, Var):
        return lambda x, training=False: x
    prim = PRIMITIVES[node.name]
    if prim.arity == 1:
        fa, op = compile_torch(node.args[0]), prim.torch
        return lambda x, training=False: op(fa(x, training), training)
    a, b = node.args
    ca, cb = _fold(a), _fold(b)
    op = prim.torch
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


def constants(node: Node) -> list[float]:
    """The values of the tree's constants, in prefix order (the order of the learnable ones)."""
    if isinstance(node, Const):
        return [float(node.value)]
    if isinstance(node, Call):
        return [c for a in node.args for c in constants(a)]
    return []


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
        op = PRIMITIVES[n.name].torch
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
    prim = PRIMITIVES[node.name]
    if prim.arity == 1:
        fa, op, d = compile_dual(node.args[0], inductor), prim.torch, prim.deriv
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
        fa = compile_dual(a, inductor)
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
    if ca is not None:  # scalar op tensor
        fb = compile_dual(b, inductor)
        if name in ("max", "min"):
            return compile_dual(Call(name, (b, a)), inductor)
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
    fa, fb = compile_dual(a, inductor), compile_dual(b, inductor)

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


# ----------------------------------------------------------------------------------- sympy
def _sp_const(v: float):
    sp = _sp()
    if float(v).is_integer() and abs(v) < 1e15:
        return sp.Integer(int(v))
    text = repr(float(v))
    if len(text) <= 10:
        f = Fraction(text)  # the decimal the text shows, exactly (stdlib, not sympy's parser)
        return sp.Rational(f.numerator, f.denominator)
    return sp.Float(v)


EXACT_CONSTANT_NODES = 6  # a larger subtree without x is shown as its value


def to_sympy(node: Node):
    """A sympy expression in the symbol ``x``, built from sympy objects (no string parsing).
    A subtree without ``x`` stays exact (``erf(51/50)``) while small and finite; a larger one,
    or one whose value overflows, becomes its float64 value as :func:`compile_torch` folds it
    (so ``square(square(...(3)))`` is never a huge exact integer, and ``exp(exp(exp(2)))``
    shows the infinity the function computes)."""
    sp = _sp()
    if isinstance(node, Var):
        return sp.Symbol("x", real=True)
    c = _fold(node)
    if c is not None and (isinstance(node, Const) or not math.isfinite(c) or size(node) > EXACT_CONSTANT_NODES):
        if math.isnan(c):
            return sp.nan
        return _sp_const(c) if math.isfinite(c) else (sp.oo if c > 0 else -sp.oo)
    return PRIMITIVES[node.name].sympy(*(to_sympy(a) for a in node.args))


# sympy's simplify has no size that is safe: trees of 4-6 nodes were measured to take minutes
# (e.g. hardshrink(relu(selu(tanh(hardswish(x)))))), and the median time grows with the size
# (about 0.05 s at 6 nodes, 1 s at 15; 1,300 random trees of 2-16 nodes). So: no simplification
# above SIMPLIFY_MAX_NODES nodes or SIMPLIFY_MAX_OPS operations, and a time limit for the rest
# (:func:`_run_limited`); the expression as built otherwise, with a note.
SIMPLIFY_MAX_OPS = 40
SIMPLIFY_MAX_NODES = 20
SIMPLIFY_SECONDS = 2.0
LATEX_SECONDS = 5.0  # building and printing the expression as built (no simplification)


class _OutOfTime(BaseException):
    """Raised inside sympy when its time is up (a BaseException: sympy's ``except Exception``
    clauses must not swallow it)."""


def _guarded(fn: Callable[[], Any]) -> Any:
    """Runs ``fn`` for :func:`_run_limited`; its frame on the stack marks 'inside the limited work'."""
    return fn()


def _run_limited(fn: Callable[[], Any], seconds: float) -> tuple[bool, Any]:
    """``(True, fn())``, or ``(False, None)`` when ``fn`` runs longer than ``seconds``.

    A watchdog thread raises :class:`_OutOfTime` in this thread (CPython's
    ``PyThreadState_SetAsyncExc``, as a signal would, but in any thread) while ``fn`` is still
    running, and again every 0.1 s should the first be swallowed (e.g. raised inside a finalizer).
    It raises only while this thread is inside ``fn`` (:func:`_guarded` on its stack) and never
    after the cleanup below, which also cancels an exception still pending. sympy is pure Python,
    so it stops at its next function call; nothing else is changed (no signal handler, no tracer)."""
    import ctypes
    import gc
    import sys
    import threading

    tid = threading.get_ident()
    lock = threading.Lock()
    stop = threading.Event()
    state = {"done": False}
    mark = _guarded.__code__

    def inside() -> bool:
        f = sys._current_frames().get(tid)
        while f is not None:
            if f.f_code is mark:
                return True
            f = f.f_back
        return False

    def watch() -> None:
        wait = seconds
        while not stop.wait(wait):
            with lock:
                if state["done"]:
                    return
                if inside():
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(_OutOfTime))
            wait = 0.1

    threading.Thread(target=watch, name="actlab-sympy-time-limit", daemon=True).start()
    out: tuple[bool, Any] = (False, None)
    collecting = gc.isenabled()
    gc.disable()  # no garbage-collector callbacks (other libraries' too) run meanwhile: the exception lands in sympy
    try:
        out = (True, _guarded(fn))
    except _OutOfTime:
        pass
    finally:
        while True:  # an exception already pending may still arrive here: finish the cleanup regardless
            try:
                with lock:
                    state["done"] = True
                stop.set()
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), None)  # cancel a pending one
                if collecting:
                    gc.enable()
                break
            except _OutOfTime:
                continue
    return out


def _sympy_text(node: Node, seconds: float) -> tuple[Any, str, str] | None:
    """(sympy expression, text, LaTeX) of the expression as built, or None where sympy fails or
    takes longer than ``seconds``."""
    sp = _sp()

    def build():
        e = to_sympy(node)
        return e, sp.sstr(e), sp.latex(e)

    try:
        ok, built = _run_limited(build, seconds)
    except Exception:  # sympy refuses it (e.g. Max of nan): the caller shows actlab's own text
        return None
    return built if ok else None


def simplified(node: Node, max_ops: int = SIMPLIFY_MAX_OPS, max_nodes: int = SIMPLIFY_MAX_NODES,
               seconds: float = SIMPLIFY_SECONDS) -> dict[str, Any]:
    """``{"text", "latex", "simplified", "note"}``: sympy's simplification when the tree is small
    (at most ``max_nodes`` nodes and ``max_ops`` operations) and sympy finishes within ``seconds``;
    else the expression as built, with ``simplified`` False and ``note`` saying why (empty when
    sympy found nothing shorter). Python's ``random`` state is kept (sympy may draw random
    numbers while simplifying)."""
    import random

    sp = _sp()
    state = random.getstate()
    try:
        built = _sympy_text(node, max(seconds, LATEX_SECONDS))
        if built is None:
            text = to_text(node)
            return {"text": text, "latex": _latex_of_text(text), "simplified": False,
                    "note": "not simplified: sympy cannot handle this expression"}
        e, text, tex = built
        if size(node) > max_nodes:
            note = f"not simplified: more than {max_nodes} nodes"
        elif sp.count_ops(e) > max_ops:
            note = f"not simplified: more than {max_ops} operations"
        else:
            def simplify():
                s = sp.simplify(e)
                return None if sp.count_ops(s) > sp.count_ops(e) else (sp.sstr(s), sp.latex(s))

            try:
                ok, got = _run_limited(simplify, seconds)
            except Exception:  # sympy gave up on it: keep the expression as built
                ok, got, note = True, None, "not simplified: sympy gave up"
            else:
                note = "" if ok else f"not simplified: sympy took longer than {seconds:g} s"
            if ok and got is not None:
                return {"text": got[0], "latex": got[1], "simplified": True, "note": ""}
        return {"text": text, "latex": tex, "simplified": False, "note": note}  # note "": as built is shortest
    finally:
        random.setstate(state)


def _latex_of_text(text: str) -> str:
    """Expression text as LaTeX (upright, as it is written): where sympy cannot print it."""
    return r"\mathrm{" + text.replace("\\", "").replace("_", r"\_").replace(" ", r"\ ") + "}"


def latex(node: Node, seconds: float = LATEX_SECONDS) -> str:
    """LaTeX of the expression as built (sympy's automatic evaluation, no simplify); the
    expression's own text where sympy fails or takes longer than ``seconds``."""
    built = _sympy_text(node, seconds)
    return built[2] if built is not None else _latex_of_text(to_text(node))


# ------------------------------------------------------------------------ modules and entries
class Expression(nn.Module):
    """An evolved (or written) activation function as an ``nn.Module``: ``Expression("max(x, x*tanh(x))")``.

    Element-wise; any shape. ``rrelu`` inside the expression draws its slope only in training mode.

    With ``learnable=True`` the expression's constants are a parameter, ``constants`` (prefix
    order, starting at their written values, or at ``values``), trained with the weights: each
    layer's module learns its own (Bingham & Miikkulainen, "Discovering parametric activation
    functions", Neural Networks 2022). :attr:`learned_text` writes the expression with them.
    """

    def __init__(self, expression: str | Node, learnable: bool = False, values: Sequence[float] | None = None):
        super().__init__()
        if isinstance(expression, str):
            self.node = parse(expression)
        elif isinstance(expression, (Var, Const, Call)):
            self.node = check_tree(expression)
        else:
            raise ActlabError(f"an expression is text such as 'max(x, x*tanh(x))' (or an expression tree), "
                              f"got {type(expression).__name__}")
        self.text = to_text(self.node)
        self.learnable = bool(learnable)
        if self.learnable:
            init = constants(self.node)
            if values is not None:
                values = [float(v) for v in values]
                if len(values) != len(init) or not all(math.isfinite(v) for v in values):
                    raise ActlabError(f"{self.text!r} has {len(init)} constant(s); got {len(values)} value(s) for them "
                                      "(give one finite number per constant, in the order they are written)")
                init = values
            self.constants = nn.Parameter(torch.tensor(init, dtype=torch.get_default_dtype()))
        elif values is not None:
            raise ActlabError("values are for learnable constants; add learnable=True")
        self._compile()

    def _compile(self) -> None:
        if self.learnable:
            fn = compile_learnable(self.node)
            self._fn = lambda x, training: fn(x, training, self.constants.to(x.dtype))
        else:
            self._fn = compile_torch(self.node)

    @property
    def learned_text(self) -> str:
        """The expression with its constants as they are now."""
        if not self.learnable:
            return self.text
        values = iter(self.constants.detach().double().tolist())

        def put(n: Node) -> Node:
            if isinstance(n, Const):
                return Const(round(next(values), 6))
            if isinstance(n, Call):
                return Call(n.name, tuple(put(a) for a in n.args))
            return n

        return to_text(put(self.node))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fn(x, self.training)

    def extra_repr(self) -> str:
        return repr(self.text) + (", learnable=True" if self.learnable else "")

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_fn", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._compile()


def module(text: str) -> Expression:
    return Expression(text)


@functools.lru_cache(maxsize=512)
def entry(text: str):
    """The catalogue :class:`~actlab.Entry` for ``"expr:" + text`` (what ``REGISTRY`` resolves).

    Properties (range, monotonic, smooth, zero-centred, gradient) are measured numerically on
    a grid, as the catalogue's tests measure the table's; None where the measurement fails."""
    from ._registry import Entry

    node = parse(text)
    canon = to_text(node)
    if not depends_on_x(node):
        raise ActlabError(f"expression {_short(canon, 40)} is a constant: an activation function must depend on x "
                          "(a constant has no gradient); write e.g. 'expr:x * sigmoid(x)'")
    fn = compile_torch(node)

    def f(x: torch.Tensor) -> torch.Tensor:
        return fn(x, False)

    def ref(x):
        return numpy_eval(node, x)

    f.__name__ = PREFIX + canon
    formula = latex(node)
    pdiv = " pdiv(a, b) is the protected division: a / b with |b| raised to at least 1e-6." if "pdiv" in formula else ""
    e = Entry(name=PREFIX + canon, fn=f, formula=formula,
              note="An expression over x (actlab evolve / the expression language); properties measured on a grid." + pdiv,
              reference="actlab expression language (Lapid & Sipper, GECCO 2022, for evolved ones)", kind="user",
              range=(-math.inf, math.inf), monotonic=None, smooth=None, zero_centred=None, numpy=ref,
              module=lambda: Expression(node), stochastic="rrelu" in primitives_used(node))
    try:
        from .properties import measure

        m = measure(e)
        lo, hi = m["range"]
        rng = (lo if m["bounded_below"] else -math.inf, hi if m["bounded_above"] else math.inf)
        if all(math.isfinite(v) or math.isinf(v) for v in rng):
            e = replace(e, range=rng, monotonic=m["monotonic"], smooth=m["smooth"], zero_centred=m["zero_centred"],
                        differentiable=m["differentiable"])
    except Exception:  # a function the measurement cannot handle (NaN everywhere, ...): properties unknown
        pass
    return e


@functools.lru_cache(maxsize=512)
def learnable_entry(text: str):
    """The catalogue entry for ``"pexpr:" + text``: the expression of ``"expr:" + text`` with its
    constants learned per layer (its function, formula and properties: at the written values)."""
    e = entry(text)
    node = parse(text)
    canon = to_text(node)
    n = len(constants(node))
    note = (f" Its {n} constant(s) are parameters, trained per layer with the weights (starting at the values written)."
            if n else " It has no constants to learn.")
    return replace(e, name=LEARN_PREFIX + canon, note=e.note + note, module=lambda: Expression(node, learnable=True))


__all__ = ["Call", "Const", "DEFAULT_BINARY", "DEFAULT_UNARY", "Expression", "LEARN_PREFIX", "PREFIX", "PRIMITIVES", "Var",
           "X", "canonical", "check_tree", "compile_dual", "compile_learnable", "compile_torch", "constants", "learnable_entry", "depends_on_x", "entry", "height", "latex", "module", "numpy_eval", "parse",
           "primitive_name", "simplified", "size", "to_sympy", "to_text"]
