"""The ``best.json`` of an evolution, read back: the best function(s) checked, as ``expr:`` specs
and as modules (:func:`load`, also ``actlab.load``), with the constants learned per layer.

``best.json`` (format ``actlab-evolve-best``, written by
:func:`actlab.studies.evolve.results.best_json`) holds ``mode``, ``functions`` (slot -> expression
text), ``plan``, ``fitness``, ``formulas``, the model it was found in, the final comparison and,
when the run learned its constants, ``learned`` (layer -> ``{"constants": [...]}``). A
``results.json`` reads as well. This module needs no DEAP and trains nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from actlab._errors import ActlabError
from actlab._io import finite_float, read_json
from actlab.catalogue import fast as fast_module
from actlab.catalogue.expr import LEARN_PREFIX, PREFIX, Expression, constants, depends_on_x, parse
from actlab.studies.evolve.modes import MODE_SLOTS, check_groups

FORMAT_BEST = "actlab-evolve-best"
FORMAT_RESULTS = "actlab-evolve-results"
MAX_LEARNED = 3.4e38  # a learned constant is a float32 value


def _short(value: Any, n: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def check_functions(functions: Any, mode: Any, where: str, groups: Any = None) -> dict[str, str]:
    """``functions`` of a best.json (slot -> expression text), checked: the slots of ``mode``
    (``all``, or ``input``, ``hidden``, ``output``; or the ``groups`` of a user's model in triple
    and coevolution mode), each an expression that reads and depends on ``x``; in slot order.
    ``where`` names the file in the one-line error."""
    if mode is not None and (not isinstance(mode, str) or mode not in MODE_SLOTS):
        raise ActlabError(f"{where} has the mode {_short(mode)}; an 'actlab evolve' run is {', '.join(MODE_SLOTS)}")
    if not isinstance(functions, dict) or not functions:
        raise ActlabError(f"{where} holds no evolved functions; give the best.json of a finished 'actlab evolve' run")
    slots = MODE_SLOTS[mode] if mode is not None else ("all",) if "all" in functions else MODE_SLOTS["triple"]
    if groups is not None and mode != "single":
        slots = check_groups(groups, where)
    if set(functions) != set(slots):
        have = ", ".join(_short(k, 20) for k in list(functions)[:4])
        raise ActlabError(
            f"{where} has functions for the slots {have}; an evolution{f' in {mode} mode' if mode else ''} has "
            f"{', '.join(slots)}"
        )
    out = {}
    for slot in slots:
        text = functions[slot]
        if not isinstance(text, str):
            raise ActlabError(f"{where}: the function for slot {slot!r} is {type(text).__name__}, not expression text")
        try:
            node = parse(text)
        except ActlabError as e:
            raise ActlabError(f"{where}, slot {slot!r}: {e}") from None
        if not depends_on_x(node):
            raise ActlabError(
                f"{where}, slot {slot!r}: the function {_short(text)} is a constant; an activation "
                "function must depend on x"
            )
        out[slot] = text
    return out


def read_best(path: str | Path) -> dict[str, Any]:
    """The content of an evolution's ``best.json`` (or of its ``results.json``), checked: a
    one-line :class:`~actlab.ActlabError` for anything else (not JSON, another file, slots that
    are not the mode's, functions that do not read or are constant)."""
    p = Path(path)
    where = repr(str(p))
    d = read_json(p, "best.json", "give the best.json of an 'actlab evolve' run")
    if isinstance(d, dict) and d.get("format") == FORMAT_RESULTS:
        best, config = d.get("best"), d.get("config")
        if not isinstance(best, dict) or not isinstance(config, dict):
            raise ActlabError(
                f"{where} holds no best function (an evolution that did not finish?); give the "
                "best.json of a finished 'actlab evolve' run"
            )
        d = {"format": FORMAT_BEST, "mode": config.get("mode"), "functions": best.get("functions")}
        if "groups" in config:
            d["groups"] = config["groups"]
    if not isinstance(d, dict) or d.get("format") != FORMAT_BEST:
        raise ActlabError(f"{where} is not the best.json of an 'actlab evolve' run")
    functions = check_functions(d.get("functions"), d.get("mode"), where, d.get("groups"))
    return {**d, "functions": functions, "learned": check_learned(d.get("learned"), functions, where)}


_LAYER = re.compile(r"input|hidden_[1-9][0-9]{0,3}|output")


def function_of(functions: Mapping[str, str], layer: str) -> str:
    """The evolved function of a model's activation slot (``input``, ``hidden_3``, ``output``)."""
    return functions["all"] if "all" in functions else functions["hidden" if layer.startswith("hidden") else layer]


def check_learned(learned: Any, functions: Mapping[str, str], where: str) -> dict[str, list[float]]:
    """The learned constants of a best.json (``{slot: {"constants": [...]}}``), checked: slot
    names of a model, one finite number per constant of that slot's function; as
    ``{slot: values}`` (empty when there are none)."""
    if learned is None:
        return {}
    if not isinstance(learned, dict) or len(learned) > 10_000:
        raise ActlabError(f"{where}: 'learned' is not a table of layers; give the best.json of an 'actlab evolve' run")
    out = {}
    for layer, params in learned.items():
        if not isinstance(layer, str) or not _LAYER.fullmatch(layer) or (layer == "output" and "all" in functions):
            raise ActlabError(
                f"{where}: learned constants for the layer {_short(layer, 20)}, which its functions do not have"
            )
        values = params.get("constants") if isinstance(params, dict) else None
        n = len(constants(parse(function_of(functions, layer))))
        floats = [finite_float(v) for v in values] if isinstance(values, list) and len(values) == n else [None]
        if not all(f is not None and abs(f) <= MAX_LEARNED for f in floats):  # trained in float32
            raise ActlabError(
                f"{where}: the learned constants of layer {layer!r} are not {n} finite number(s), one per "
                "constant of its function"
            )
        out[layer] = floats
    return out


def learned_functions(d: Mapping[str, Any]) -> dict[str, str]:
    """layer -> expression text with that layer's learned constants, of a best.json as
    :func:`read_best` returns it (empty when the run learned none): the functions as tested."""
    return {
        layer: Expression(function_of(d["functions"], layer), learnable=True, values=values).learned_text
        for layer, values in d["learned"].items()
    }


def best_specs(path: str | Path) -> dict[str, str]:
    """slot -> ``expr:`` spec of the best evolved function(s) in ``best.json`` (slot ``all`` in
    single mode), as they were tested: layer -> ``expr:`` spec with its learned constants when the
    run learned them (``pexpr:`` specs, constants learned from their written values, when it says
    it learned them but not their values)."""
    d = read_best(path)
    if d["learned"]:
        return {layer: PREFIX + text for layer, text in learned_functions(d).items()}
    prefix = LEARN_PREFIX if d.get("learn_constants") is True else PREFIX
    return {slot: prefix + text for slot, text in d["functions"].items()}


def distinct(functions: Mapping[str, str]) -> list[tuple[list[str], str]]:
    """``functions`` (slot or layer -> text or spec) with equal ones together: ``(slots, function)``
    in order, so that 10,000 layers that learned the same constants are one function."""
    together: dict[str, list[str]] = {}
    for slot, f in functions.items():
        together.setdefault(f, []).append(slot)
    return [(slots, f) for f, slots in together.items()]


def slots_text(slots: list[str]) -> str:
    """Slots or layers named briefly: ``input, hidden_1``, or the first two and the last of many."""
    if len(slots) <= 4:
        return ", ".join(slots)
    return f"{slots[0]}, {slots[1]}, ..., {slots[-1]} ({len(slots)} layers)"


def load(path: str | Path, fast: bool = False):
    """The evolved function(s) of ``best.json`` as ``nn.Module``\\ s: one module for a single-mode
    run; ``{"input": ..., "hidden": ..., "output": ...}`` for triple and coevolution runs (a plan
    that ``actlab.models.build`` takes as it is; on a user's model, a module per slot group). When
    the run learned its constants, one module per layer (``{"input": ..., "hidden_1": ..., ...}``,
    also a plan) holding the trained values as learnable constants. ``fast=True`` gives each as
    ``actlab.fast(spec)`` (learned constants fixed at their values): a compiled kernel where it
    measures faster than eager (compiling takes a few seconds; worth it for long trainings)."""
    d = read_best(path)
    if d["learned"]:
        mods = {
            layer: Expression(function_of(d["functions"], layer), learnable=True, values=values)
            for layer, values in d["learned"].items()
        }
        texts = {layer: m.learned_text for layer, m in mods.items()}
    else:
        mods, texts = None, d["functions"]
    if fast:
        mods = {slot: fast_module(PREFIX + text) for slot, text in texts.items()}
    elif mods is None:
        mods = {slot: Expression(text) for slot, text in texts.items()}
    return mods["all"] if set(mods) == {"all"} else mods


__all__ = [
    "FORMAT_BEST",
    "FORMAT_RESULTS",
    "best_specs",
    "check_functions",
    "check_learned",
    "distinct",
    "function_of",
    "learned_functions",
    "load",
    "read_best",
    "slots_text",
]
