"""Use what actlab found in your own model: replace its activation modules in place."""

from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn
from torch.nn.modules import activation as _torch_activation

from ._errors import ActlabError
from .catalogue import Activation, FReLU, get

_NOT_ACTIVATIONS = {nn.MultiheadAttention}


def _activation_classes() -> tuple[type, ...]:
    found = [
        obj for obj in vars(_torch_activation).values()
        if isinstance(obj, type) and issubclass(obj, nn.Module) and obj.__module__ == _torch_activation.__name__
        and obj is not nn.Module and obj not in _NOT_ACTIVATIONS
    ]
    return (*found, Activation, FReLU)


ACTIVATION_CLASSES = _activation_classes()


def is_activation(module: nn.Module) -> bool:
    """True for PyTorch's activation modules (``torch.nn.modules.activation``) and actlab's own."""
    return isinstance(module, ACTIVATION_CLASSES)


@dataclass(frozen=True)
class Swap:
    """One replaced module: its qualified name, the old module and the new one."""

    name: str
    old: nn.Module
    new: nn.Module


def swap_activations(
    model: nn.Module,
    spec: Any,
    *,
    example_input: torch.Tensor | None = None,
) -> list[Swap]:
    """Replace the activation modules of ``model`` in place and return what was swapped.

    ``spec`` is one activation spec for every activation module (``"silu"``,
    ``"leaky_relu(negative_slope=0.1)"``, a module or a callable), or a mapping from
    qualified module names or ``fnmatch`` patterns (``"layer1.*"``) to specs; the first
    matching pattern wins and unmatched modules are kept. A spec of ``None`` removes the
    activation (identity). Each replaced slot gets a module of its own, so learnable
    activations (PReLU, FReLU) never share parameters; new modules go to the device and
    dtype of the model's parameters.

    FReLU infers its channels at the first call: pass ``example_input`` (or run one
    forward pass yourself) before creating the optimizer.

    >>> swaps = swap_activations(resnet, "frelu", example_input=torch.zeros(1, 3, 32, 32))  # doctest: +SKIP
    """
    if not isinstance(model, nn.Module):
        raise ActlabError(f"swap_activations changes a torch.nn.Module in place; got {type(model).__name__}")
    if isinstance(spec, Mapping):
        patterns = list(spec.items())
        odd = next((p for p, _ in patterns if not isinstance(p, str)), None)
        if odd is not None:
            raise ActlabError(f"module name pattern {odd!r} is not text; map names or patterns such as 'layer1.*' to specs")

        def choose(name: str) -> tuple[bool, Any]:
            for pattern, s in patterns:
                if fnmatch.fnmatchcase(name, pattern):
                    return True, s
            return False, None
    else:
        def choose(name: str) -> tuple[bool, Any]:
            return True, spec

    # remove_duplicate=False: a module registered in two places is two slots, both swapped
    targets = [(name, m) for name, m in model.named_modules(remove_duplicate=False) if name and is_activation(m)]
    if isinstance(spec, Mapping):
        unused = [p for p, _ in spec.items() if not any(fnmatch.fnmatchcase(n, p) for n, _ in targets)]
        if unused:
            names = ", ".join(n for n, _ in targets[:6]) or "none"
            raise ActlabError(f"no activation module matches {unused[0]!r}; activation modules are: {names}")
    ref = next(model.parameters(), None)
    swaps = []
    for name, old in targets:  # make every new module first: a bad spec leaves the model untouched
        matched, s = choose(name)
        if not matched:
            continue
        new = _fresh(s)
        if ref is not None:
            new = new.to(device=ref.device, dtype=ref.dtype) if not _is_lazy(new) else new.to(device=ref.device)
        swaps.append(Swap(name, old, new))
    for swap in swaps:
        parent_name, _, attr = swap.name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, swap.new)
    if example_input is not None:
        was_training = model.training
        with torch.no_grad():
            model.eval()(example_input)
        model.train(was_training)
    return swaps


def _fresh(spec: Any) -> nn.Module:
    if isinstance(spec, nn.Module):
        return copy.deepcopy(spec)
    return get(spec)


def _is_lazy(m: nn.Module) -> bool:
    has = getattr(m, "has_uninitialized_params", None)
    return bool(has and has())


__all__ = ["ACTIVATION_CLASSES", "Swap", "is_activation", "swap_activations"]
