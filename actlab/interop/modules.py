"""A function as an ``nn.Module`` class for PyTorch model libraries: :func:`to_timm` (``act_layer=``)
and :func:`to_transformers` (``hidden_act=``). Each instance holds actlab's own module."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from actlab._errors import ActlabError
from actlab.catalogue import get
from actlab.interop.exported import ExportedFunction, one, require


def to_timm(spec: str | Path, *, name: str | None = None, slot: str | None = None) -> type[nn.Module]:
    """An ``nn.Module`` class of the function for timm: ``timm.create_model("resnet18",
    pretrained=False, act_layer=actlab.to_timm("mish"))``.

    Each instance holds actlab's own module (any spec, FReLU and PReLU included); the class
    accepts timm's ``inplace=`` and ignores it (the input is never changed). Models keep their
    weights with ``state_dict``; pickling a whole model needs the class importable, as in the
    module ``to_code(spec, "timm")`` writes.
    """
    return module_class(one(spec, name, slot))


def to_transformers(spec: str | Path, *, name: str | None = None, slot: str | None = None) -> str:
    """Register the function with Hugging Face transformers as ``"actlab:NAME"`` and return that,
    for ``config.hidden_act`` (``BertConfig``; ``activation_function`` in ``GPT2Config``).

    It goes into ``transformers.activations.ACT2CLS`` and ``ACT2FN``; models built from a
    config that names it (also one loaded with ``from_pretrained``) use actlab's module. The
    prefix keeps it apart from transformers' own names; one name serves one function. Functions
    that act along a dimension or on images are refused: hidden states are ``(batch, tokens, features)``.

    >>> config = BertConfig(hidden_act=actlab.to_transformers("serf"))  # doctest: +SKIP
    """
    f = one(spec, name, slot)
    if f.entry is not None and not f.entry.elementwise:
        raise ActlabError(
            f"cannot register {f.spec!r} with transformers: it acts along a dimension or on images, and "
            "hidden activations act on each value; choose an element-wise function"
        )
    activations = require("transformers.activations", "to_transformers")
    cls = module_class(f)
    key = f.transformers_name
    have = activations.ACT2CLS.get(key)
    if have is not None and getattr(have, "actlab_spec", None) != f.spec:
        raise ActlabError(
            f"the transformers name {key!r} already stands for {getattr(have, 'actlab_spec', have)!r}; "
            "pass another name="
        )
    activations.ACT2CLS[key] = cls
    activations.ACT2FN[key] = cls
    return key


_CLASSES: dict[tuple[str, str], type[nn.Module]] = {}  # (spec, name) -> class: one class per function


def module_class(f: ExportedFunction) -> type[nn.Module]:
    """The class of the function's module. The spec is checked once, here (``get`` runs it on a
    probe); instances are made without the check, since libraries build models on the meta device
    (transformers' ``from_pretrained``), where no value can be read."""
    if (f.spec, f.name) not in _CLASSES:
        if f.entry is not None:
            get(f.spec)
        _CLASSES[f.spec, f.name] = _new_class(f)
    return _CLASSES[f.spec, f.name]


def _new_class(f: ExportedFunction) -> type[nn.Module]:
    def __init__(self, inplace: bool = False):
        nn.Module.__init__(self)
        self.act = f.module()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x)

    doc = f"{f.doc} (actlab spec {f.spec!r}; ``inplace`` is accepted and ignored.)"
    return type(
        f.class_name,
        (nn.Module,),
        {"__init__": __init__, "forward": forward, "__doc__": doc, "__module__": __name__, "actlab_spec": f.spec},
    )


__all__ = ["module_class", "to_timm", "to_transformers"]
