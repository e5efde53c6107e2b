"""What a worker process runs: :func:`train_units` trains a part of units (as dicts) and returns
one record each. Every process loads a dataset once and keeps it for the next units on it
(:func:`load_data`, :func:`provide_data`).

A unit that cannot train is recorded, not raised: :data:`BAD_UNIT` is what a function that
cannot run in a model raises (see :mod:`actlab._errors`); anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from actlab._errors import ActlabError, first_line
from actlab.catalogue.expr import LEARN_PREFIX, PREFIX, Expression
from actlab.data import Dataset, load
from actlab.execution.units import Unit
from actlab.models import build
from actlab.training import RunResult, TrainConfig, train
from actlab.training.population import packable, train_population

#: What a unit that cannot train raises, recorded as its error: a user's mistake (ActlabError, a
#: ValueError) and the failures of a function in a model: torch's shape errors (RuntimeError, and
#: IndexError for a ``dim`` the model's tensors lack, e.g. ``softmax(dim=3)`` in an MLP) and
#: arithmetic ones. FReLU in an MLP says so itself (an ActlabError).
BAD_UNIT: tuple[type[Exception], ...] = (ActlabError, RuntimeError, ValueError, ArithmeticError, IndexError)

_DATA: dict[str, Dataset] = {}
_KEEP = 4  # datasets one process keeps loaded


def provide_data(unit: Unit, data: Dataset) -> None:
    """Let this process use ``data`` (already loaded) for units on the same dataset and split."""
    _DATA[_data_key(unit.to_dict())] = data


def load_data(u: Mapping[str, Any]) -> Dataset:
    """The dataset of unit ``u`` (a dict), loaded once per process."""
    key = _data_key(u)
    if key not in _DATA:
        if len(_DATA) >= _KEEP:
            _DATA.pop(next(iter(_DATA)))
        _DATA[key] = load(u["dataset"], seed=int(u["data_seed"]), **(u.get("data_options") or {}))
    return _DATA[key]


def _data_key(u: Mapping[str, Any]) -> str:
    """The dataset of ``u`` as loaded now: its tensors take torch's default dtype, so that is in the key too
    (a set loaded while float64 was the default is another set than the float32 one)."""
    where = [u["dataset"], int(u["data_seed"]), u.get("data_options") or {}, str(torch.get_default_dtype())]
    return json.dumps(where, sort_keys=True, default=str)


def plan_templates(plan: Any) -> Any:
    """Spec strings as the model takes them; ``expr:`` and ``pexpr:`` specs become their module
    directly (no property measurement, LaTeX or sympy, which the catalogue's ``get`` would make;
    the studies check their specs before they make units). One module per spec, as a template:
    the model gives each slot it fills a copy of its own (:func:`actlab.models.slot_modules`)."""

    def one(spec: Any) -> Any:
        text = spec.strip() if isinstance(spec, str) else ""
        for prefix, learnable in ((PREFIX, False), (LEARN_PREFIX, True)):
            if text.startswith(prefix):
                return Expression(text[len(prefix) :], learnable=learnable)
        return spec

    return {slot: one(s) for slot, s in plan.items()} if isinstance(plan, Mapping) else one(plan)


def train_units(units: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Train units (as dicts) in this process: those that share everything but the plan, on a
    packable model, in one packed model; the rest one by one. One record per unit, in order:
    ``{"result": RunResult dict, "packed": K}`` or ``{"error": "one line"}``; never raises for a
    unit that cannot train."""
    out: dict[int, dict[str, Any]] = {}
    groups: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        key = Unit.from_dict(u).pack_key() if packable(u["model"], u["plan"], u["train"].get("fit")) else f"alone:{i}"
        groups.setdefault(key, []).append(i)
    for idx in groups.values():
        results = _train_pack([units[i] for i in idx]) if len(idx) > 1 else None
        if results is not None:
            out.update({i: {"result": r.to_dict(), "packed": len(idx)} for i, r in zip(idx, results, strict=True)})
        else:
            out.update({i: _train_alone(units[i]) for i in idx})
    return [out[i] for i in range(len(units))]


def _train_pack(units: Sequence[Mapping[str, Any]]) -> list[RunResult] | None:
    """Units that differ only in their plan, trained in one packed model; None when one member
    cannot be built (then they train one by one, and each says why)."""
    first = units[0]
    try:
        data = load_data(first)
        if data.streamed:  # the packed trainer holds the data in memory: each unit trains alone
            return None
        cfg = TrainConfig.from_dict(first["train"])
        options = dict(first.get("model_options") or {})
        return train_population([plan_templates(u["plan"]) for u in units], data, cfg, options)
    except BAD_UNIT:
        return None


def _train_alone(u: Mapping[str, Any]) -> dict[str, Any]:
    """One unit in a model of its own: its record."""
    try:
        data = load_data(u)
        plan = plan_templates(u["plan"])
        options = dict(u.get("model_options") or {})
        r = train(
            lambda: build(u["model"], data.input_shape, data.n_classes, plan, **options),
            data,
            TrainConfig.from_dict(u["train"]),
        )
    except BAD_UNIT as e:
        return {"error": first_line(e)}
    return {"result": r.to_dict(), "packed": 1}


__all__ = ["BAD_UNIT", "load_data", "plan_templates", "provide_data", "train_units"]
