"""Using what actlab found outside it: export to Keras, transformers, timm, ONNX and plain PyTorch
code (:mod:`actlab.interop.export`), and swapping the activations of your own model
(:mod:`actlab.interop.swap`)."""

from actlab.interop.export import to_code, to_keras, to_onnx, to_timm, to_transformers
from actlab.interop.swap import swap_activations

__all__ = ["swap_activations", "to_code", "to_keras", "to_onnx", "to_timm", "to_transformers"]
