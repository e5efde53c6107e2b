"""Models with named activation slots.

Every model puts each of its activation functions in a named *slot*: ``input`` (after the
first layer), ``hidden_1``, ``hidden_2``, ... and ``output`` (after the last layer; identity by
default, so the model returns logits). An activation plan is

* one spec for every slot but ``output`` (``"relu"``);
* a list, one spec per slot in order (without or with ``output``);
* a mapping of slot names or groups: ``{"input": "selu", "hidden": "relu", "output": None}``
  (``hidden`` means every hidden slot; a specific ``hidden_3`` wins over ``hidden``).

Every slot owns its activation module (:func:`slot_modules`): a spec (a name, a spec with arguments,
``expr:``, ``pexpr:``, a callable, ``None``) makes a new module per slot. A module instance given for
one slot is used as it is, so the model holds the very module given; one given for several slots
is a template that each of them gets a deep copy of (the instance itself stays out of the model),
so no two slots ever share a module, its parameters or its diagnostics.

``build(name, input_shape, n_classes, activations, **options)`` makes any model by name.
Models that need a kind of input say so in one line: ``seed-cnn`` and ``resnet`` images
``(C, H, W)``, ``cnn1d`` signals ``(C, L)``, ``transformer`` signals ``(C, L)`` or vectors ``(d,)``;
``mlp`` takes anything (flattened). ``path/to/file.py:build`` or ``package.module:build`` names a
user's own model (:mod:`~actlab.models.user`).

Modules: :mod:`~actlab.models.plan` (plans, slots, the base class), :mod:`~actlab.models.mlp`,
:mod:`~actlab.models.convnets`, :mod:`~actlab.models.transformer`, :mod:`~actlab.models.registry`
(models by name).
"""

from actlab.models.convnets import CNN1D, ResNet, SeedCNN
from actlab.models.mlp import MLP
from actlab.models.plan import SlotModel, copy_activation, resolve_plan, slot_modules
from actlab.models.registry import MODELS, build, count_parameters, lookup, model_summary, names, slot_names
from actlab.models.transformer import Transformer
from actlab.models.user import UserModel

__all__ = [
    "CNN1D",
    "MLP",
    "MODELS",
    "ResNet",
    "SeedCNN",
    "SlotModel",
    "Transformer",
    "UserModel",
    "build",
    "copy_activation",
    "count_parameters",
    "lookup",
    "model_summary",
    "names",
    "resolve_plan",
    "slot_modules",
    "slot_names",
]
