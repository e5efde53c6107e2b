"""actlab: an activation-function laboratory for PyTorch.

The public names load on first use (PEP 562): ``import actlab`` costs nothing until one is used,
so that ``actlab --help`` does not import torch. ``actlab.get``, ``from actlab import load`` and
``actlab.catalogue.get`` work as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from actlab._errors import ActlabError

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ loads each on use
    from actlab.api import compare, evolve, screen, search
    from actlab.catalogue import (
        SIPPER48,
        Activation,
        Entry,
        Expression,
        FastActivation,
        FReLU,
        entries,
        fast,
        functional,
        get,
        lookup,
        register,
    )
    from actlab.interop import to_code, to_keras, to_onnx, to_timm, to_transformers
    from actlab.interop.swap import swap_activations
    from actlab.studies.evolve import load

__version__ = "0.1.0"

# the module that defines them -> public names
_FROM = {
    "actlab.api": ("compare", "evolve", "screen", "search"),
    "actlab.catalogue": (
        "SIPPER48",
        "Activation",
        "Entry",
        "Expression",
        "FastActivation",
        "FReLU",
        "entries",
        "fast",
        "functional",
        "get",
        "lookup",
        "register",
    ),
    "actlab.interop": ("to_code", "to_keras", "to_onnx", "to_timm", "to_transformers"),
    "actlab.interop.swap": ("swap_activations",),
    "actlab.studies.evolve": ("load",),
}
_WHERE = {name: module for module, names in _FROM.items() for name in names}
_PACKAGES = (
    "api",
    "catalogue",
    "cli",
    "data",
    "execution",
    "interop",
    "models",
    "report",
    "stats",
    "studies",
    "surrogate",
    "training",
)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
    elif name in _PACKAGES:  # actlab.catalogue.get after a bare `import actlab`
        value = importlib.import_module(f"actlab.{name}")
    else:
        raise AttributeError(f"module 'actlab' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE, *_PACKAGES})


__all__ = [
    "ActlabError",
    "Activation",
    "Entry",
    "Expression",
    "FastActivation",
    "FReLU",
    "SIPPER48",
    "compare",
    "entries",
    "evolve",
    "fast",
    "functional",
    "get",
    "load",
    "lookup",
    "register",
    "screen",
    "search",
    "swap_activations",
    "to_code",
    "to_keras",
    "to_onnx",
    "to_timm",
    "to_transformers",
    "__version__",
]
