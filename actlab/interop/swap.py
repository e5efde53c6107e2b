"""Use what actlab found in your own model: replace its activation modules in place."""

from __future__ import annotations

import copy
import fnmatch
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from actlab._errors import ActlabError, first_line
from actlab.catalogue import get
from actlab.models.sites import ACTIVATION_CLASSES, is_activation
from actlab.models.sites import HOW as _HOW
from actlab.models.sites import activation_modules as _activation_modules
from actlab.models.sites import functional_activations as _functional_activations
from actlab.models.sites import listed as _listed
from actlab.models.sites import put_module as _put
from actlab.models.sites import unswappable as _unswappable


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

    Only modules can be swapped: activations a ``forward()`` calls as functions (``F.relu(x)``,
    ``torch.tanh(x)``) stay. A ``UserWarning`` says so when nothing was swapped, and names such
    calls where tracing the model with ``torch.fx`` finds them.

    >>> swaps = swap_activations(resnet, "frelu", example_input=torch.zeros(1, 3, 32, 32))  # doctest: +SKIP
    """
    if not isinstance(model, nn.Module):
        raise ActlabError(f"swap_activations changes a torch.nn.Module in place; got {type(model).__name__}")
    choose = _chooser(spec)
    targets = _activation_modules(model)
    if isinstance(spec, Mapping):
        unused = [p for p, _ in spec.items() if not any(fnmatch.fnmatchcase(n, p) for n, _ in targets)]
        if unused:
            names = ", ".join(n for n, _ in targets[:6]) or f"none ({_unswappable(model)})"
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
    _warn_unswapped(model, targets)
    for swap in swaps:
        _put(model, swap.name, swap.new)
    if example_input is not None:
        _first_call(model, example_input, swaps)
    return swaps


def _chooser(spec: Any) -> Callable[[str], tuple[bool, Any]]:
    """``choose(module_name) -> (matched, spec)``: one spec for all, or the first matching pattern's."""
    if not isinstance(spec, Mapping):
        return lambda name: (True, spec)
    patterns = list(spec.items())
    odd = next((p for p, _ in patterns if not isinstance(p, str)), None)
    if odd is not None:
        raise ActlabError(f"module name pattern {odd!r} is not text; map names or patterns such as 'layer1.*' to specs")

    def choose(name: str) -> tuple[bool, Any]:
        for pattern, s in patterns:
            if fnmatch.fnmatchcase(name, pattern):
                return True, s
        return False, None

    return choose


def _warn_unswapped(model: nn.Module, targets: list[tuple[str, nn.Module]]) -> None:
    """A UserWarning where nothing could be swapped, or where forward() also calls activations as functions."""
    if not targets:
        warnings.warn(
            f"swap_activations found no activation modules in {type(model).__name__}, so nothing was "
            f"swapped; {_unswappable(model)}",
            UserWarning,
            stacklevel=3,
        )
        return
    calls = _functional_activations(model)
    if calls:
        warnings.warn(
            f"{type(model).__name__}'s forward() also calls {_listed(calls)} directly, which "
            f"swap_activations cannot replace; {_HOW}",
            UserWarning,
            stacklevel=3,
        )


def _first_call(model: nn.Module, example_input: Any, swaps: list[Swap]) -> None:
    """Run ``model`` once on ``example_input`` (new modules size themselves); an input the model
    cannot take puts the old modules back and is one line."""
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(example_input)
    except Exception as e:  # a shape, dtype or device the model does not take: torch's error, any type
        for swap in swaps:
            _put(model, swap.name, swap.old)
        shape = tuple(example_input.shape) if isinstance(example_input, torch.Tensor) else type(example_input).__name__
        raise ActlabError(
            f"example_input {shape} does not fit {type(model).__name__} ({type(e).__name__}: "
            f"{first_line(e)[:200]}); give an input the model takes, e.g. one batch of its data. "
            "The model was left as it was"
        ) from None
    finally:
        model.train(was_training)


def _fresh(spec: Any) -> nn.Module:
    if isinstance(spec, nn.Module):
        return copy.deepcopy(spec)
    return get(spec)


def _is_lazy(m: nn.Module) -> bool:
    has = getattr(m, "has_uninitialized_params", None)
    return bool(has and has())


__all__ = ["ACTIVATION_CLASSES", "Swap", "is_activation", "swap_activations"]
