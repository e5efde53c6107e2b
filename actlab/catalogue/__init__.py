"""The catalogue of activation functions: one table, every entry a function and a module.

``get(spec)`` gives an ``nn.Module``, ``functional(spec)`` a callable, ``lookup(name)`` the
:class:`Entry` with formula, reference and properties, ``fast(spec)`` the fastest measured
implementation (eager or a compiled kernel). See ``_table.py`` for the table; ``expr/`` is the
expression language of ``"expr:TEXT"`` specs (evolved functions, or a user's own formula);
``"pexpr:TEXT"`` is the same function with its constants learned per layer.
"""

from actlab.catalogue import expr
from actlab.catalogue._fast import FastActivation, fast
from actlab.catalogue._registry import (
    KINDS,
    REGISTRY,
    Activation,
    Entry,
    entries,
    format_spec,
    functional,
    get,
    lookup,
    parse_spec,
    register,
    split_specs,
)
from actlab.catalogue._table import SIPPER48
from actlab.catalogue.expr import Expression
from actlab.catalogue.frelu import FReLU, frelu

REGISTRY.add_prefix(expr.PREFIX, expr.entry)  # "expr:TEXT" specs: the expression language (expr/)
REGISTRY.add_prefix(expr.LEARN_PREFIX, expr.learnable_entry)  # "pexpr:TEXT": its constants learned per layer

__all__ = [
    "KINDS",
    "REGISTRY",
    "SIPPER48",
    "Activation",
    "Entry",
    "Expression",
    "FastActivation",
    "FReLU",
    "entries",
    "fast",
    "format_spec",
    "frelu",
    "functional",
    "get",
    "lookup",
    "parse_spec",
    "register",
    "split_specs",
]
