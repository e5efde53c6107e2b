"""actlab: an activation-function laboratory for PyTorch."""

from ._errors import ActlabError
from .catalogue import SIPPER48, Activation, Entry, FReLU, entries, functional, get, lookup, register
from .evolve import Expression, load  # also registers the "expr:" spec prefix
from .swap import swap_activations

__version__ = "0.1.0"

__all__ = [
    "ActlabError", "Activation", "Entry", "Expression", "FReLU", "SIPPER48", "entries", "functional", "get", "load",
    "lookup", "register", "swap_activations", "__version__",
]
