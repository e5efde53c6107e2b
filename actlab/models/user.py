"""A user's own model: any ``torch.nn.Module`` that a function builds, named as
``path/to/file.py:build`` or ``package.module:build`` (see :mod:`actlab._refs`).

The builder either

* returns a model with activation modules (``nn.ReLU()``, ``actlab.get("selu")``, ...): each is a
  *site*, named by its module name (``features.1``), and actlab puts a module of its own in each; or
* takes a parameter ``act`` and calls ``act("conv")`` for each activation it wants: the names it
  asks for are the slots (found by a first build with a recording ``act``).

A site's slot is its name, unless the ``slots`` option groups sites: ``"features.*=conv,fc*=head"``
(fnmatch patterns -> slot names, the first matching pattern wins; sites no pattern matches keep
their own name). A builder that takes ``input_shape`` or ``n_classes`` gets the data's; every other
model option is an argument of the builder.

A plan in the built-in models' words (``{"input": f, "hidden": f}``: one function everywhere but the
output) means ``f`` in every slot of a model whose slots are named otherwise.
"""

from __future__ import annotations

import fnmatch
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from actlab._errors import ActlabError
from actlab._refs import SOURCE, call_user, load_ref, qualified_name
from actlab.models.plan import Plan, SlotModel, _spec_text, resolve_plan, slot_modules
from actlab.models.sites import activation_modules, put_module, unswappable

SLOTS = "slots"  # the model option that groups sites into slots
_SLOT = re.compile(r"^[A-Za-z_][\w.-]{0,99}$")
_BUILTIN_WORDS = {"input", "hidden", "output"}


class UserModel(SlotModel):
    """A user's network (``self.net``) with actlab's activation module in each of its sites.
    ``acts`` maps each site to its module (the modules live in ``net``, registered once there);
    ``slot_layers()`` gives the weighted layer that feeds each site, as for the built-in models."""

    def __init__(self, net: nn.Module, slots: Sequence[str], sites: Mapping[str, nn.Module], specs: Mapping):
        super().__init__()
        self.net = net
        self.slots = tuple(slots)
        # a plain dict, read as the built-in models' ModuleDict is: the modules are registered once, in net
        self.acts = dict(sites)  # type: ignore[assignment]
        self.specs = {s: _spec_text(specs[s]) for s in self.slots}
        self._slot_layer_names = _feeding_layers(self, sites)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.net(*args, **kwargs)


def parse_groups(text: Any) -> list[tuple[str, str]]:
    """``"features.*=conv,fc*=head"`` -> ``[("features.*", "conv"), ("fc*", "head")]``."""
    if text is None or text == "":
        return []
    if not isinstance(text, str):
        raise ActlabError(f"--slots must be text such as 'features.*=conv,classifier.*=head', not {text!r}")
    out = []
    for part in (p.strip() for p in text.split(",")):
        pattern, eq, name = (x.strip() for x in part.partition("="))
        if not eq or not pattern or not _SLOT.match(name):
            raise ActlabError(
                f"--slots part {part!r} is not PATTERN=NAME; write e.g. 'features.*=conv,classifier.*=head'"
            )
        out.append((pattern, name))
    return out


def build_user(
    ref: str, input_shape: Sequence[int], n_classes: int, activations: Plan = "relu", **options: Any
) -> UserModel:
    """The model that the builder ``ref`` makes, with the activations of the plan in its slots."""
    groups = parse_groups(options.pop(SLOTS, None))
    options.pop(SOURCE, None)  # the builder file's hash and version: in a run's key, not an argument
    builder = load_ref(ref, "model builder")
    kwargs = _arguments(builder, ref, tuple(input_shape), n_classes, options)
    if "act" in inspect.signature(builder).parameters:
        return _build_asking(builder, kwargs, groups, activations)
    net = _made(builder, kwargs)
    found = [name for name, _ in activation_modules(net)]
    if not found:
        raise ActlabError(f"model {qualified_name(builder)} has no activation modules to replace; {unswappable(net)}")
    site_slot = _grouped(found, groups)
    modules = _site_modules(site_slot, activations)
    for site, module in modules.items():
        put_module(net, site, module)
    return UserModel(net, _slots(site_slot), modules, _slot_specs(activations, _slots(site_slot)))


def _build_asking(builder: Callable, kwargs: dict, groups: list, activations: Plan) -> UserModel:
    """Form (b): the builder asks ``act(name)`` for each activation it wants."""
    asked: list[str] = []

    def record(name: Any) -> nn.Module:
        if not isinstance(name, str) or not _SLOT.match(name):
            raise ActlabError(f"model {qualified_name(builder)} asked act() for {name!r}; name a slot with a word")
        asked.append(name)
        return nn.Identity()

    _made(builder, {**kwargs, "act": record})
    if not asked:
        raise ActlabError(f"model {qualified_name(builder)} takes act but never called it; call act('name') per slot")
    sites = [f"{n}.{asked[:i].count(n)}" if asked.count(n) > 1 else n for i, n in enumerate(asked)]
    site_slot = _grouped(list(dict.fromkeys(asked)), groups)
    modules = _site_modules({s: site_slot[n] for s, n in zip(sites, asked, strict=True)}, activations)
    handed = iter(zip(asked, modules.values(), strict=True))

    def act(name: Any) -> nn.Module:
        expected, module = next(handed, (None, None))
        if name != expected or module is None:
            raise ActlabError(
                f"model {qualified_name(builder)} asked act() for {name!r} where its first build asked for "
                f"{expected!r}; ask for the same slots in the same order on every build"
            )
        return module

    net = _made(builder, {**kwargs, "act": act})
    by_id = {id(m): n for n, m in net.named_modules()}
    shown = {by_id.get(id(m), s): m for s, m in modules.items()}
    slots = _slots(site_slot)
    return UserModel(net, slots, shown, _slot_specs(activations, slots))


def _arguments(builder: Callable, ref: str, shape: tuple, n_classes: int, options: dict) -> dict[str, Any]:
    params = inspect.signature(builder).parameters
    free = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [k for k in options if k not in params or k in ("act", "input_shape", "n_classes")]
    if unknown and not (free and all(k not in params for k in unknown)):
        raise ActlabError(
            f"model builder {ref} takes no argument {unknown[0]!r}; its arguments are: "
            f"{', '.join(p for p in params if p not in ('act', 'input_shape', 'n_classes')) or 'none'}"
        )
    data = {"input_shape": shape, "n_classes": n_classes}
    return {**{k: v for k, v in data.items() if k in params}, **options}


def _made(builder: Callable, kwargs: dict) -> nn.Module:
    net = call_user(builder, what="model builder", **kwargs)
    if not isinstance(net, nn.Module):
        raise ActlabError(
            f"the model builder {qualified_name(builder)} returned a {type(net).__name__}, not a torch.nn.Module"
        )
    return net


def _grouped(sites: list[str], groups: list[tuple[str, str]]) -> dict[str, str]:
    """Each site -> its slot: the name of the first pattern that matches it, else its own name."""
    unused = [p for p, _ in groups if not any(fnmatch.fnmatchcase(s, p) for s in sites)]
    if unused:
        raise ActlabError(f"--slots pattern {unused[0]!r} matches no activation; they are: {', '.join(sites)}")
    return {s: next((n for p, n in groups if fnmatch.fnmatchcase(s, p)), s) for s in sites}


def _slots(site_slot: Mapping[str, str]) -> list[str]:
    return list(dict.fromkeys(site_slot.values()))


def _slot_specs(plan: Plan, slots: Sequence[str]) -> dict[str, Any]:
    """The plan on the model's slots. The built-in models' words (input, hidden, output): where the
    slots are grouped so, a word the model has no slot for is left out; where its slots are named
    otherwise, the hidden function (else the input's) is every slot's."""
    if isinstance(plan, Mapping) and plan and set(plan) <= _BUILTIN_WORDS:
        if set(plan) & set(slots) or "hidden" in plan and any(s.startswith("hidden") for s in slots):
            return resolve_plan({k: v for k, v in plan.items() if k in slots or k == "hidden"}, slots)
        if plan.get("output") is not None:
            raise ActlabError(
                f"this model's slots are {', '.join(slots)}; a function each for input, hidden and output needs "
                "them grouped so, e.g. --slots 'features.0=input,*=hidden'"
            )
        plan = plan.get("hidden", plan.get("input"))
    return resolve_plan(plan, slots)


def _site_modules(site_slot: Mapping[str, str], plan: Plan) -> dict[str, nn.Module]:
    """Each site's own module: its slot's spec, made anew (a module given for several sites: a copy each)."""
    specs = _slot_specs(plan, _slots(site_slot))
    return slot_modules({site: specs[slot] for site, slot in site_slot.items()}, list(site_slot))


def _feeding_layers(model: nn.Module, sites: Mapping[str, nn.Module]) -> dict[str, str]:
    """Each site -> the name of the last weighted layer (a weight of 2 or more dimensions: linear,
    convolution) registered before it: the layer whose output it receives in a sequential model."""
    last, out = None, {}
    where = {id(m): s for s, m in sites.items()}
    for name, m in model.named_modules():
        if id(m) in where:
            if last is not None:
                out[where[id(m)]] = last
        elif isinstance(getattr(m, "weight", None), torch.Tensor) and m.weight.dim() >= 2:
            last = name
    return out


__all__ = ["SLOTS", "UserModel", "build_user", "parse_groups"]
