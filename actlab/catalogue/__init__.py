"""The catalogue of activation functions: one table, every entry a function and a module.

``get(spec)`` gives an ``nn.Module``, ``functional(spec)`` a callable, ``lookup(name)`` the
:class:`Entry` with formula, reference and properties, ``fast(spec)`` the fastest measured
implementation (eager or a compiled kernel). See ``_table.py`` for the table.
"""

from ._registry import KINDS, REGISTRY, Activation, Entry, entries, format_spec, functional, get, lookup, parse_spec, register, split_specs
from ._table import SIPPER48
from ._fast import FastActivation, fast
from .frelu import FReLU, frelu

__all__ = [
    "KINDS", "REGISTRY", "SIPPER48", "Activation", "Entry", "FastActivation", "FReLU", "entries", "fast", "format_spec", "frelu",
    "functional", "get", "lookup", "parse_spec", "register", "split_specs",
]
