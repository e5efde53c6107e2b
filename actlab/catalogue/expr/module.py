"""An expression as an ``nn.Module`` (:class:`Expression`) and as a catalogue entry
(:func:`entry` for ``"expr:TEXT"`` specs, :func:`learnable_entry` for ``"pexpr:TEXT"``)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from actlab._errors import ActlabError
from actlab.catalogue.expr.compile import compile_learnable, compile_torch
from actlab.catalogue.expr.parse import parse, to_text
from actlab.catalogue.expr.sympy import latex, start_sympy
from actlab.catalogue.expr.tree import (
    Call,
    Const,
    Node,
    Var,
    _short,
    check_tree,
    constants,
    depends_on_x,
    numpy_eval,
    primitives_used,
)

PREFIX = "expr:"
LEARN_PREFIX = "pexpr:"  # the same expression, its constants learned per layer with the weights


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
            raise ActlabError(
                f"an expression is text such as 'max(x, x*tanh(x))' (or an expression tree), "
                f"got {type(expression).__name__}"
            )
        self.text = to_text(self.node)
        self.learnable = bool(learnable)
        if self.learnable:
            init = constants(self.node)
            if values is not None:
                values = [float(v) for v in values]
                if len(values) != len(init) or not all(math.isfinite(v) for v in values):
                    raise ActlabError(
                        f"{self.text!r} has {len(init)} constant(s); got {len(values)} value(s) for them "
                        "(give one finite number per constant, in the order they are written)"
                    )
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


def template(spec: Any) -> Any:
    """A spec as a model takes it: an ``"expr:"`` or ``"pexpr:"`` spec becomes its
    :class:`Expression` directly, anything else stays as it is. No catalogue entry is built (no
    property measurement, LaTeX or sympy, which ``get`` would make), so callers check their specs
    first. One module per spec, as a template: a model gives each slot it fills its own copy
    (:func:`actlab.models.slot_modules`).

    Example::

        >>> template("expr:x * tanh(x)")
        Expression('x * tanh(x)')
        >>> template("relu")
        'relu'
    """
    text = spec.strip() if isinstance(spec, str) else ""
    for prefix, learnable in ((PREFIX, False), (LEARN_PREFIX, True)):
        if text.startswith(prefix):
            return Expression(text[len(prefix) :], learnable=learnable)
    return spec


@functools.lru_cache(maxsize=512)
def entry(text: str):
    """The catalogue :class:`~actlab.Entry` for ``"expr:" + text`` (what ``REGISTRY`` resolves).

    Properties (range, monotonic, smooth, zero-centred, gradient) are measured numerically on
    a grid, as the catalogue's tests measure the table's; None where the measurement fails."""
    from actlab.catalogue._registry import Entry

    node = parse(text)
    canon = to_text(node)
    if not depends_on_x(node):
        raise ActlabError(
            f"expression {_short(canon, 40)} is a constant: an activation function must depend on x "
            "(a constant has no gradient); write e.g. 'expr:x * sigmoid(x)'"
        )
    fn = compile_torch(node)

    def f(x: torch.Tensor) -> torch.Tensor:
        return fn(x, False)

    def ref(x):
        return numpy_eval(node, x)

    f.__name__ = PREFIX + canon
    start_sympy()  # it loads in its own process while the properties are measured
    e = _measured(
        Entry(
            name=PREFIX + canon,
            fn=f,
            formula="",
            note="An expression over x (actlab evolve / the expression language); properties measured on a grid.",
            reference="actlab expression language (Lapid & Sipper, GECCO 2022, for evolved ones)",
            kind="user",
            range=(-math.inf, math.inf),
            monotonic=None,
            smooth=None,
            zero_centred=None,
            numpy=ref,
            module=lambda: Expression(node),
            stochastic="rrelu" in primitives_used(node),
        )
    )
    formula = latex(node)
    pdiv = " pdiv(a, b) is the protected division: a / b with |b| raised to at least 1e-6." if "pdiv" in formula else ""
    return replace(e, formula=formula, note=e.note + pdiv)


def _measured(e):
    """``e`` with its range, monotonic, smooth, zero-centred and differentiable measured on a grid."""
    try:
        from actlab.catalogue.properties import measure

        m = measure(e)
        lo, hi = m["range"]
        rng = (lo if m["bounded_below"] else -math.inf, hi if m["bounded_above"] else math.inf)
        if all(math.isfinite(v) or math.isinf(v) for v in rng):
            e = replace(
                e,
                range=rng,
                monotonic=m["monotonic"],
                smooth=m["smooth"],
                zero_centred=m["zero_centred"],
                differentiable=m["differentiable"],
            )
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
    note = (
        f" Its {n} constant(s) are parameters, trained per layer with the weights (starting at the values written)."
        if n
        else " It has no constants to learn."
    )
    return replace(e, name=LEARN_PREFIX + canon, note=e.note + note, module=lambda: Expression(node, learnable=True))
