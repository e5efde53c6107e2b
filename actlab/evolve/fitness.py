"""Fitness of one candidate: a short training with actlab's one trainer, scored on validation.

A *task* is a plain dict (JSON-ready, so it travels to worker processes and Dask workers as
is): the activation plan as spec strings (``"expr:TEXT"`` for evolved functions, catalogue
names for the others), the dataset and model by name, and the training config. No model or
tensor is ever sent; every process loads the data once and builds the model itself.

Fitness is the best validation accuracy over the epochs. A run that diverges (a NaN or inf
loss) or fails in any other way scores 0 with its status recorded; it never raises.
"""

from __future__ import annotations

import functools
import json
import math
import time
from typing import Any, Mapping, Sequence

import torch

from .._errors import ActlabError
from . import expr as E


@functools.lru_cache(maxsize=4)
def _data(dataset: str, data_seed: int, options: str):
    from ..data import load

    return load(dataset, seed=data_seed, **json.loads(options))


def load_data(task: Mapping[str, Any]):
    return _data(task["dataset"], int(task["data_seed"]), json.dumps(task.get("data_options") or {}, sort_keys=True))


def activation(spec: Any):
    """``"expr:TEXT"`` -> an :class:`~actlab.evolve.expr.Expression` (no property measurement);
    anything else is left for the catalogue."""
    if isinstance(spec, str) and spec.strip().startswith(E.PREFIX):
        return E.Expression(spec.strip()[len(E.PREFIX):])
    return spec


def evaluate_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """Train once and score: ``{"fitness", "status", "val_accuracy", "seconds"}`` (+ ``test_accuracy``
    and ``best_epoch`` when ``task["score_test"]``). Never raises for a bad candidate."""
    from ..models import build
    from ..training import TrainConfig, train

    t0 = time.perf_counter()
    try:
        cfg = TrainConfig.from_dict(task["train"])
        data = load_data(task)
        plan = {slot: activation(spec) for slot, spec in task["plan"].items()}
        opts = dict(task.get("model_options") or {})
        result = train(lambda: build(task["model"], data.input_shape, data.n_classes, plan, **opts), data, cfg)
    except _BAD_CANDIDATE as e:
        return _error(e, time.perf_counter() - t0)
    return score(result, task, time.perf_counter() - t0)


def evaluate_tasks(tasks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Evaluate several tasks; tasks that differ only in their plan, on a model the population
    trainer packs (the MLP), train together in one packed model (each as if alone, see
    :mod:`actlab.training.population`); the rest one by one."""
    from ..training import TrainConfig
    from ..training.population import packable, train_population

    out: list[dict[str, Any] | None] = [None] * len(tasks)
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(tasks):
        groups.setdefault(json.dumps({k: v for k, v in t.items() if k != "plan"}, sort_keys=True), []).append(i)
    for idx in groups.values():
        first = tasks[idx[0]]
        cfg = TrainConfig.from_dict(first["train"])
        if len(idx) > 1 and packable(first["model"]):
            t0 = time.perf_counter()
            try:
                data = load_data(first)
                plans = [{s: activation(spec) for s, spec in tasks[i]["plan"].items()} for i in idx]
                results = train_population(plans, data, cfg, dict(first.get("model_options") or {}))
            except _BAD_CANDIDATE:  # one member cannot be built: find it, train the others alone
                results = None
            if results is not None:
                seconds = (time.perf_counter() - t0) / len(idx)
                for i, r in zip(idx, results):
                    out[i] = score(r, tasks[i], seconds)
                continue
        for i in idx:
            out[i] = evaluate_task(tasks[i])
    return out  # type: ignore[return-value]


_BAD_CANDIDATE = (ActlabError, RuntimeError, ValueError, TypeError, ArithmeticError, IndexError)


def _error(e: Exception, seconds: float) -> dict[str, Any]:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return {"fitness": 0.0, "status": f"error: {first[:200]}", "val_accuracy": [], "seconds": seconds}


def score(result, task: Mapping[str, Any], seconds: float) -> dict[str, Any]:
    """A training's result as a fitness record: the best validation accuracy, 0 if it diverged."""
    accs = [e.get("val_accuracy") for e in result.epochs]
    finite = [a for a in accs if a is not None and math.isfinite(a)]
    if result.status == "diverged" or not finite:
        out = {"fitness": 0.0, "status": "diverged"}
    else:
        out = {"fitness": float(max(finite)), "status": "ok"}
    out["val_accuracy"] = [a if a is not None and math.isfinite(a) else None for a in accs]
    out["seconds"] = seconds
    if task.get("score_test"):
        acc = result.test.get("accuracy", math.nan)
        out["test_accuracy"] = float(acc) if out["status"] == "ok" and math.isfinite(acc) else 0.0
        out["best_epoch"] = result.best_epoch
    return out


def sanitise(result: Any) -> dict[str, Any]:
    """A result as the evolution records it: fitness a finite number in [0, 1], else 0 and 'failed'."""
    if not isinstance(result, Mapping):
        return {"fitness": 0.0, "status": f"failed: evaluator returned {type(result).__name__}"}
    out = dict(result)
    f = out.get("fitness")
    if not isinstance(f, (int, float)) or isinstance(f, bool) or not math.isfinite(f):
        out["fitness"], out["status"] = 0.0, f"failed: fitness {f!r}"
    else:
        out["fitness"] = float(f)
        out.setdefault("status", "ok")
    return out


def init_worker(threads: int | None) -> None:
    """Initialiser of local worker processes: one torch thread each (no oversubscription)."""
    torch.set_num_threads(int(threads or 1))


__all__ = ["activation", "evaluate_task", "evaluate_tasks", "score", "init_worker", "load_data", "sanitise"]
