"""Use what actlab found in your own model: replace its activation modules in place."""

from __future__ import annotations

import copy
import fnmatch
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import activation as _torch_activation

from actlab._errors import ActlabError, first_line
from actlab.catalogue import Activation, Expression, FastActivation, FReLU, get

_NOT_ACTIVATIONS = {nn.MultiheadAttention}


def _activation_classes() -> tuple[type, ...]:
    found = [
        obj
        for obj in vars(_torch_activation).values()
        if isinstance(obj, type)
        and issubclass(obj, nn.Module)
        and obj.__module__ == _torch_activation.__name__
        and obj is not nn.Module
        and obj not in _NOT_ACTIVATIONS
    ]
    return (*found, Activation, Expression, FastActivation, FReLU)


ACTIVATION_CLASSES = _activation_classes()


def is_activation(module: nn.Module) -> bool:
    """True for PyTorch's activation modules (``torch.nn.modules.activation``) and actlab's own
    (catalogue functions, ``expr:`` expressions, ``actlab.fast`` functions, FReLU)."""
    return isinstance(module, ACTIVATION_CLASSES)


# activations called as functions in a forward(): what swap_activations cannot replace
# (softmax and its kin are left out: a model's last step, not a hidden activation)
_CALLED = tuple(
    n + inplace
    for n in (
        "relu",
        "relu6",
        "elu",
        "selu",
        "celu",
        "gelu",
        "silu",
        "mish",
        "leaky_relu",
        "prelu",
        "rrelu",
        "hardtanh",
        "hardswish",
        "hardsigmoid",
        "sigmoid",
        "tanh",
        "softplus",
        "softsign",
        "logsigmoid",
        "hardshrink",
        "softshrink",
        "tanhshrink",
        "threshold",
        "glu",
    )
    for inplace in ("", "_")
)


def _functional_table() -> dict[Any, str]:
    """Each function of ``_CALLED`` in ``torch.nn.functional`` and ``torch`` -> how a user writes it."""
    table: dict[Any, str] = {}
    for prefix, namespace in (("F", F), ("torch", torch)):
        for name in _CALLED:
            if hasattr(namespace, name):
                table.setdefault(getattr(namespace, name), f"{prefix}.{name}")
    return table


_FUNCTIONAL = _functional_table()


class _Tracer(torch.fx.Tracer):
    """torch.fx's tracer that keeps every activation module (actlab's too) as one call."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return is_activation(m) or super().is_leaf_module(m, qualname)


def _functional_activations(model: nn.Module) -> list[str] | None:
    """The activations ``model`` calls as functions in a forward() (``F.relu(x)``, ``torch.tanh(x)``,
    ``x.sigmoid()``), each with the submodule it is called in, found by tracing with ``torch.fx``;
    None where the model cannot be traced (e.g. control flow on tensor values)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = _Tracer().trace(model)
    except Exception:  # any forward() that symbolic tracing cannot follow
        return None
    found: list[str] = []
    for node in graph.nodes:
        if node.op == "call_function" and node.target in _FUNCTIONAL:
            call = _FUNCTIONAL[node.target] + "()"
        elif node.op == "call_method" and node.target in _CALLED:
            call = f"Tensor.{node.target}()"
        else:
            continue
        where = list(node.meta.get("nn_module_stack") or {})
        call += f" in {where[-1]}" if where else ""
        if call not in found:
            found.append(call)
    return found


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


def _activation_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The activation modules of ``model`` with their qualified names, each whole (parents first: an
    activation's parts stay its own); a module registered in two places is two slots."""
    found: list[tuple[str, nn.Module]] = []
    for name, m in model.named_modules(remove_duplicate=False):
        if name and is_activation(m) and not any(name.startswith(t + ".") for t, _ in found):
            found.append((name, m))
    return found


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


def _put(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, attr, module)


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


_HOW = (
    "make activations swappable by holding them as modules (self.act = nn.ReLU() or actlab.get('relu') in "
    "__init__, self.act(x) in forward()), or pass such a module where the model's constructor takes one"
)


def _listed(calls: list[str]) -> str:
    return ", ".join(calls[:4]) + (f" and {len(calls) - 4} more" if len(calls) > 4 else "")


def _unswappable(model: nn.Module) -> str:
    """Why ``model`` has nothing to swap, and what to do: one clause for a warning or an error."""
    if is_activation(model):
        return "the model is itself an activation module; use actlab.get(spec) to make a new one instead"
    calls = _functional_activations(model)
    if calls:
        return f"its forward() calls {_listed(calls)} directly: {_HOW}"
    if calls is None:
        return f"if its forward() calls activations directly (torch.relu(x), F.relu(x)), {_HOW}"
    return "it has no activations to swap"


def _fresh(spec: Any) -> nn.Module:
    if isinstance(spec, nn.Module):
        return copy.deepcopy(spec)
    return get(spec)


def _is_lazy(m: nn.Module) -> bool:
    has = getattr(m, "has_uninitialized_params", None)
    return bool(has and has())


__all__ = ["ACTIVATION_CLASSES", "Swap", "is_activation", "swap_activations"]
