"""How an exported function is computed in another stack.

A function to export is a :data:`Run`: ``run(target, x)``, computed with what a :class:`Target`
offers. :class:`KerasTarget` is keras.ops (on Keras tensors, or :class:`~._codegen.Names` that
write Keras source); :class:`TorchSource` writes PyTorch source. A catalogue entry runs its
``portable`` form, written once in keras.ops names in the catalogue's table (PyTorch source calls
the entry's own function instead where that is torch's: ``F.mish(x)``). An expression runs node by
node as :func:`~actlab.catalogue.expr.compile_torch` computes it: its unary primitives are the
catalogue's functions at their defaults, apart from the protected ``log`` and ``sqrt``.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from actlab.catalogue import REGISTRY, Entry
from actlab.catalogue import expr as E
from actlab.catalogue.ops import torch_spelling
from actlab.interop._codegen import Names, Tape

PDIV_DOC = "a / b with |b| raised to at least 1e-06, its sign kept (0 counts as positive): the protected division."


def pdiv(ops: Any, a: Any, b: Any) -> Any:
    """The protected division in keras.ops names (as :func:`~actlab.catalogue.expr.compile_torch` computes it)."""
    eps = E.DIV_EPS
    return a / ops.where(ops.abs(b) < eps, ops.where(b < 0, ops.full_like(b, -eps), ops.full_like(b, eps)), b)


def torch_call(fn: Callable) -> tuple[str, dict[str, Any]] | None:
    """``("F.gelu", {"approximate": "tanh"})`` where ``fn`` is a public function of
    ``torch.nn.functional`` or ``torch`` (or one with keyword arguments fixed), else None."""
    fixed: dict[str, Any] = {}
    if isinstance(fn, functools.partial) and not fn.args:
        fn, fixed = fn.func, dict(fn.keywords)
    for prefix, module in (("F", F), ("torch", torch)):
        name = next((n for n in dir(module) if not n.startswith("_") and getattr(module, n, None) is fn), None)
        if name is not None:
            return f"{prefix}.{name}", fixed
    return None


class KerasTarget:
    """keras.ops: ``keras.ops`` itself on tensors, or names that write Keras source."""

    def __init__(self, ops: Any, divide: Callable[[Any, Any], Any]):
        self.ops, self.pdiv = ops, divide

    def clamp(self, name: str, a: Any, c: float) -> Any:
        """``max(a, c)`` or ``min(a, c)`` for a constant ``c``."""
        return self.ops.maximum(a, c) if name == "max" else self.ops.minimum(a, c)

    def entry(self, entry: Entry, params: Mapping[str, Any], x: Any) -> Any:
        return entry.portable(x, ops=self.ops, **params)


class TorchSource:
    """Names that write PyTorch source: keras.ops names as PyTorch spells them, ``_pdiv`` for the
    protected division (written as a helper), and catalogue functions that are torch's own by name."""

    def __init__(self, tape: Tape):
        self.tape, self.ops = tape, Names(tape, torch_spelling)

    def pdiv(self, a: Any, b: Any) -> Any:
        return self.tape.call("_pdiv", a, b)

    def clamp(self, name: str, a: Any, c: float) -> Any:
        return self.tape.call("torch.clamp_min" if name == "max" else "torch.clamp_max", a, c)

    def entry(self, entry: Entry, params: Mapping[str, Any], x: Any) -> Any:
        own = torch_call(entry.fn)
        if own is None:
            return entry.portable(x, ops=self.ops, **params)
        function, fixed = own
        return self.tape.call(function, x, **fixed, **params)


def keras_source(tape: Tape) -> KerasTarget:
    """A target that writes Keras source (``ops.NAME(...)``, ``_pdiv(a, b)``)."""
    return KerasTarget(Names(tape, lambda op: f"ops.{op}"), functools.partial(tape.call, "_pdiv"))


Target = KerasTarget | TorchSource
Run = Callable[[Target, Any], Any]  # (target, x) -> y


def entry_run(entry: Entry, params: Mapping[str, Any]) -> Run:
    """A catalogue entry with all its parameters."""
    return lambda t, x: t.entry(entry, params, x)


# ------------------------------------------------------------------------ the expression language
def _protected(form: Callable[[Any, Any], Any]) -> Callable[[Target, Any], Any]:
    return lambda t, a: form(t.ops, a)


def _primitive(name: str) -> Callable[[Target, Any], Any]:
    """A unary primitive: the catalogue's function of that name at its defaults (as compile_torch)."""
    entry = REGISTRY.lookup(name)
    if entry.portable is None:
        raise RuntimeError(f"the primitive {name!r} has no portable form in the catalogue")
    params = dict(entry.params)
    return lambda t, a: t.entry(entry, params, a)


# the unary primitives (log and sqrt protected: of |a| plus a small constant)
UNARY: dict[str, Callable[[Target, Any], Any]] = {
    "log": _protected(lambda ops, a: ops.log(ops.abs(a) + E.LOG_EPS)),
    "sqrt": _protected(lambda ops, a: ops.sqrt(ops.abs(a) + E.SQRT_EPS)),
}
UNARY.update({n: _primitive(n) for n, p in E.PRIMITIVES.items() if p.arity == 1 and n not in UNARY})
_OPERATORS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}
# the binary primitives of two tensors
BINARY: dict[str, Callable[[Target, Any, Any], Any]] = {
    **{name: (lambda t, a, b, op=op: op(a, b)) for name, op in _OPERATORS.items()},
    "div": lambda t, a, b: t.pdiv(a, b),
    "max": lambda t, a, b: t.ops.maximum(a, b),
    "min": lambda t, a, b: t.ops.minimum(a, b),
}


def _constant(node: E.Node) -> float | None:
    """The value of a subtree without ``x`` (float64, as compile_torch folds it), else None."""
    return None if E.depends_on_x(node) else float(E.numpy_eval(node, np.zeros(1))[0])


def _protect(c: float) -> float:
    """A constant divisor as the protected division uses it."""
    return c if abs(c) >= E.DIV_EPS else math.copysign(E.DIV_EPS, c) if c != 0 else E.DIV_EPS


def tree_run(node: E.Node) -> Run:
    """An expression tree, structured as :func:`~actlab.catalogue.expr.compile_torch` computes it:
    constants folded, a constant divisor protected once, ``max``/``min`` against a constant as a clamp."""
    if isinstance(node, E.Var):
        return lambda t, x: x
    name = node.name
    if len(node.args) == 1:
        inner, form = tree_run(node.args[0]), UNARY[name]
        return lambda t, x: form(t, inner(t, x))
    a, b = node.args
    ca, cb = _constant(a), _constant(b)
    if cb is not None:
        return _tensor_op_constant(name, tree_run(a), cb)
    if ca is not None:
        return _constant_op_tensor(name, ca, tree_run(b))
    fa, fb, both = tree_run(a), tree_run(b), BINARY[name]
    return lambda t, x: both(t, fa(t, x), fb(t, x))


def _tensor_op_constant(name: str, fa: Run, c: float) -> Run:
    if name == "div":
        s = _protect(c)
        return lambda t, x: fa(t, x) / s
    if name in ("max", "min"):
        return lambda t, x: t.clamp(name, fa(t, x), c)
    op = _OPERATORS[name]
    return lambda t, x: op(fa(t, x), c)


def _constant_op_tensor(name: str, c: float, fb: Run) -> Run:
    if name == "div":
        return lambda t, x: t.pdiv(c, fb(t, x))
    if name in ("max", "min"):
        return lambda t, x: t.clamp(name, fb(t, x), c)
    if name == "sub":
        return lambda t, x: c - fb(t, x)
    op = _OPERATORS[name]  # add and mul commute
    return lambda t, x: op(fb(t, x), c)


__all__ = [
    "BINARY",
    "PDIV_DOC",
    "UNARY",
    "KerasTarget",
    "Run",
    "Target",
    "TorchSource",
    "entry_run",
    "keras_source",
    "pdiv",
    "torch_call",
    "tree_run",
]
