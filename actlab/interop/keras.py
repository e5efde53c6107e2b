"""A function as a Keras 3 activation: :func:`to_keras`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actlab._errors import ActlabError
from actlab.interop._forms import KerasTarget, pdiv
from actlab.interop.exported import KERAS_PACKAGE, ExportedFunction, no_form, one, require

_KERAS: dict[str, tuple[str, Callable]] = {}  # Keras name -> (spec, function) made by to_keras


def to_keras(spec: str | Path, *, name: str | None = None, slot: str | None = None) -> Callable:
    """The function as a Keras 3 activation built from ``keras.ops`` (any backend), registered
    serialisable as ``"actlab>NAME"``.

    Use it as ``activation=`` in any layer; a model saved as ``.keras`` loads back with
    ``keras.saving.load_model`` in a process where the same name is registered again (call this
    again, or import the module ``to_code(spec, "keras")`` writes). ``name``: the Python and Keras
    name (see :func:`~actlab.interop.functions`); one name serves one function.

    >>> dense = keras.layers.Dense(64, activation=actlab.to_keras("mish"))  # doctest: +SKIP
    """
    f = one(spec, name, slot)
    if f.run is None:
        raise no_form(f, "Keras")
    keras = require("keras", "to_keras")
    known = _KERAS.get(f.name)
    if known is not None and known[0] != f.spec:
        raise ActlabError(f"the Keras name {f.name!r} already stands for {known[0]!r}; pass another name=")
    fn = known[1] if known is not None else _keras_function(f, keras.ops)
    register = keras.saving.register_keras_serializable(package=KERAS_PACKAGE, name=f.name)
    register(fn)  # again: an imported module may have replaced it
    _KERAS[f.name] = (f.spec, fn)
    return fn


def _keras_function(f: ExportedFunction, ops: Any) -> Callable:
    target, run = KerasTarget(ops, functools.partial(pdiv, ops)), f.run

    def activation(x):
        return run(target, ops.convert_to_tensor(x))  # NumPy arrays too, as keras.activations take them

    activation.__name__ = activation.__qualname__ = f.name
    activation.__doc__ = f.doc
    return activation


__all__ = ["to_keras"]
