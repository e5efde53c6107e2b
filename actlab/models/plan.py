"""Activation plans and the model base class: which activation module each named slot of a model
gets (see :mod:`actlab.models` for the plan's forms and the rule that no two slots share a module)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from actlab._errors import ActlabError, first_line
from actlab.catalogue import get

Plan = Any  # str | Sequence | Mapping | nn.Module | Callable | None


def resolve_plan(plan: Plan, slots: Sequence[str]) -> dict[str, Any]:
    """Map an activation plan onto slot names -> spec (``output`` defaults to identity)."""
    hidden = [s for s in slots if s.startswith("hidden")]
    if plan is None or isinstance(plan, (str, nn.Module)) or callable(plan) and not isinstance(plan, Mapping):
        return {s: (None if s == "output" else plan) for s in slots}
    if isinstance(plan, Mapping):
        unknown = [k for k in plan if k not in slots and k != "hidden"]
        if unknown:
            raise ActlabError(
                f"unknown activation slot {unknown[0]!r}; this model's slots are: {', '.join(slots)} (or 'hidden')"
            )
        out = {}
        for s in slots:
            if s in plan:
                out[s] = plan[s]
            elif s in hidden and "hidden" in plan:
                out[s] = plan["hidden"]
            elif s == "output":
                out[s] = None
            else:
                raise ActlabError(f"no activation given for slot {s!r}; give every slot of: {', '.join(slots)}")
        return out
    plan = list(plan)
    body = [s for s in slots if s != "output"]
    if len(plan) == len(body):
        given = dict(zip(body, plan, strict=True))
        return {**given, "output": None} if "output" in slots else given
    if len(plan) == len(slots):
        return dict(zip(slots, plan, strict=True))
    raise ActlabError(
        f"{len(plan)} activations given for a model with {len(body)} slots "
        f"({', '.join(body)}) plus 'output'; give {len(body)} or {len(slots)}"
    )


def slot_modules(plan: Plan, slots: Sequence[str]) -> dict[str, nn.Module]:
    """Each slot's own activation module for a plan (see the module docstring): specs are made
    anew per slot, in slot order; a module given for one slot is used as it is, one given for
    several slots is deep-copied for each."""
    specs = resolve_plan(plan, slots)
    uses: dict[int, list[str]] = {}
    for s in slots:
        if isinstance(specs[s], nn.Module):
            uses.setdefault(id(specs[s]), []).append(s)

    def own(s: str) -> nn.Module:
        shared = uses.get(id(specs[s]), ())
        return copy_activation(specs[s], f"slots {', '.join(shared)}") if len(shared) > 1 else get(specs[s])

    return {s: own(s) for s in slots}


def copy_activation(module: nn.Module, given_for: str) -> nn.Module:
    """A deep copy of an activation module that is ``given_for`` several places (``"slots input,
    hidden_1"``); one line when it cannot be copied."""
    try:
        return copy.deepcopy(module)
    except Exception as e:  # whatever a module's state refuses (locks, open files, non-leaf tensors)
        raise ActlabError(
            f"activation module {type(module).__name__} is given for {given_for} but cannot be copied "
            f"for each ({first_line(e)}); give each a module of its own"
        ) from None


class SlotModel(nn.Module):
    """Base class: activation modules live in ``self.acts[slot]``; ``self.slot_layers[slot]``
    is the parametrised layer whose output the slot's activation receives."""

    slots: tuple[str, ...] = ()

    def _init_acts(
        self, plan: Plan, layers: Mapping[str, nn.Module], acts: Mapping[str, nn.Module] | None = None
    ) -> None:
        """Give each slot its own activation from the plan (or take it from ``acts``, made by
        :func:`slot_modules` from the same plan) and remember which layer feeds it."""
        specs = resolve_plan(plan, self.slots)
        self.acts = nn.ModuleDict(acts if acts is not None else slot_modules(specs, self.slots))
        self.specs = {s: _spec_text(specs[s]) for s in self.slots}
        self._slot_layer_names = {s: _name_in(self, m) for s, m in layers.items()}

    def slot_layers(self) -> dict[str, nn.Module]:
        return {s: self.get_submodule(n) for s, n in self._slot_layer_names.items()}


def _name_in(root: nn.Module, target: nn.Module) -> str:
    for name, m in root.named_modules():
        if m is target:
            return name
    raise ValueError("layer is not part of the model")


def _spec_text(spec: Any) -> str:
    if spec is None:
        return "linear"
    if isinstance(spec, str):
        return spec
    return getattr(spec, "__name__", None) or type(spec).__name__
