"""Use an actlab activation function in another stack: Keras 3, Hugging Face transformers, timm,
ONNX, or plain PyTorch code that runs without actlab; and swap the activations of your own model.

A function is named as everywhere in actlab: a catalogue spec (``"mish"``,
``"leaky_relu(negative_slope=0.1)"``), an expression (``"expr:max(x, x * tanh(x))"``), or the
``best.json`` that ``actlab evolve`` writes (a path; ``slot=`` picks one function of a triple or
coevolution run).

* :func:`to_keras` (``keras.py``): a function of ``keras.ops`` (any Keras backend), registered
  serialisable as ``"actlab>NAME"``, for ``activation=``; a model that uses it saves as ``.keras``
  and loads back wherever the function is registered again (by this call, or by importing the
  module that ``to_code(spec, "keras")`` writes).
* :func:`to_transformers` (``modules.py``): registers the function in ``transformers.activations``
  (``ACT2CLS`` and ``ACT2FN``) as ``"actlab:NAME"``, so that ``config.hidden_act = "actlab:NAME"``
  builds models with it.
* :func:`to_timm` (``modules.py``): an ``nn.Module`` class for ``timm.create_model(..., act_layer=CLASS)``.
* :func:`to_onnx` (``onnx.py``): the function alone as an ONNX model (``torch.onnx.export``).
* :func:`to_code` (``source.py``): the source of a standalone module (PyTorch; or Keras,
  transformers or timm registration) that a person can paste into a file or ship without actlab.
* :func:`functions` (``exported.py``): what a spec or ``best.json`` exports, each function with
  its name and how it is computed.
* :func:`swap_activations` (``swap.py``): replace the activation modules of a model in place.

Keras forms and standalone code come from each catalogue entry's ``portable`` form, written once
in keras.ops names in the catalogue's table, and for expressions from the tree, node by node
(``_forms.py``); no text is ever evaluated. Generated source is written by running the same forms
on placeholder values that record each operation (``_codegen.py``). Functions that have no such
form (FReLU, PReLU's learned slope, softmax and others that act along a dimension, ...) raise
:class:`~actlab.ActlabError` saying why; :func:`to_timm`, :func:`to_transformers` and
:func:`to_onnx` run actlab's own module, so they take those too where the target can use them.

``rrelu`` is exported in its evaluation form (the mean of its slope bounds; 11/48 inside
expressions), as actlab computes it outside training. The libraries of the targets are optional:
install them with ``pip install 'actlab[interop]'``.

>>> act = actlab.to_keras("expr:max(x, x * tanh(x))")  # doctest: +SKIP
>>> keras.layers.Dense(64, activation=act)  # doctest: +SKIP
"""

from actlab.interop.exported import (
    INSTALL,
    KERAS_PACKAGE,
    TARGETS,
    TRANSFORMERS_PREFIX,
    ExportedFunction,
    functions,
)
from actlab.interop.keras import to_keras
from actlab.interop.modules import to_timm, to_transformers
from actlab.interop.onnx import to_onnx
from actlab.interop.source import to_code
from actlab.interop.swap import swap_activations

__all__ = [
    "INSTALL",
    "KERAS_PACKAGE",
    "TARGETS",
    "TRANSFORMERS_PREFIX",
    "ExportedFunction",
    "functions",
    "swap_activations",
    "to_code",
    "to_keras",
    "to_onnx",
    "to_timm",
    "to_transformers",
]
