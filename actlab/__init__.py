"""actlab: an activation-function laboratory for PyTorch."""

from actlab._errors import ActlabError
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

__all__ = [
    "ActlabError",
    "Activation",
    "Entry",
    "Expression",
    "FastActivation",
    "FReLU",
    "SIPPER48",
    "entries",
    "fast",
    "functional",
    "get",
    "load",
    "lookup",
    "register",
    "swap_activations",
    "to_code",
    "to_keras",
    "to_onnx",
    "to_timm",
    "to_transformers",
    "__version__",
]
