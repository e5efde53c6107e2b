"""Where a torch model's activations are: its activation modules (which actlab can replace) and
the activations its forward() calls as functions (which it cannot), found by tracing with torch.fx."""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import activation as _torch_activation

from actlab.catalogue import Activation, Expression, FastActivation, FReLU

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


def functional_activations(model: nn.Module) -> list[str] | None:
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


def activation_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The activation modules of ``model`` with their qualified names, each whole (parents first: an
    activation's parts stay its own); a module registered in two places is two slots."""
    found: list[tuple[str, nn.Module]] = []
    for name, m in model.named_modules(remove_duplicate=False):
        if name and is_activation(m) and not any(name.startswith(t + ".") for t, _ in found):
            found.append((name, m))
    return found


def put_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, attr, module)


HOW = (
    "make activations swappable by holding them as modules (self.act = nn.ReLU() or actlab.get('relu') in "
    "__init__, self.act(x) in forward()), or pass such a module where the model's constructor takes one"
)


def listed(calls: list[str]) -> str:
    return ", ".join(calls[:4]) + (f" and {len(calls) - 4} more" if len(calls) > 4 else "")


def unswappable(model: nn.Module) -> str:
    """Why ``model`` has nothing to swap, and what to do: one clause for a warning or an error."""
    if is_activation(model):
        return "the model is itself an activation module; use actlab.get(spec) to make a new one instead"
    calls = functional_activations(model)
    if calls:
        return f"its forward() calls {listed(calls)} directly: {HOW}"
    if calls is None:
        return f"if its forward() calls activations directly (torch.relu(x), F.relu(x)), {HOW}"
    return "it has no activations to swap"


__all__ = [
    "ACTIVATION_CLASSES",
    "HOW",
    "activation_modules",
    "functional_activations",
    "is_activation",
    "listed",
    "put_module",
    "unswappable",
]
