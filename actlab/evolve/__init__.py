"""Evolve new activation functions with genetic programming (``actlab evolve``).

* :mod:`~actlab.evolve.expr`: the expression language (``"expr:max(x, x*tanh(x))"``); importing
  this package registers the ``expr:`` spec prefix with the catalogue.
* :mod:`~actlab.evolve.gp`: DEAP primitive set, operators, checks before training, hall of fame.
* :mod:`~actlab.evolve.fitness`: one candidate's short training (the fitness).
* :mod:`~actlab.evolve.run`: modes, generation loop, checkpoints, workers and Dask.
* :mod:`~actlab.evolve.final`: the best against ReLU and the best catalogue function on test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._errors import ActlabError
from .expr import PREFIX, Expression, canonical, parse, simplified, to_text


def read_best(path: str | Path) -> dict[str, Any]:
    """The content of an evolution's ``best.json`` (or of its ``results.json``), checked."""
    p = Path(path)
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ActlabError(f"cannot read {str(p)!r} ({getattr(e, 'strerror', None) or e}); give the best.json of an "
                          "'actlab evolve' run") from None
    if isinstance(d, dict) and d.get("format") == "actlab-evolve-results" and d.get("best"):
        d = {"format": "actlab-evolve-best", "mode": d["config"]["mode"], "functions": d["best"]["functions"]}
    if not isinstance(d, dict) or d.get("format") != "actlab-evolve-best" or not isinstance(d.get("functions"), dict):
        raise ActlabError(f"{str(p)!r} is not the best.json of an 'actlab evolve' run")
    return d


def best_specs(path: str | Path) -> dict[str, str]:
    """slot -> ``expr:`` spec of the best evolved function(s) in ``best.json`` (slot ``all`` in single mode)."""
    return {slot: PREFIX + text for slot, text in read_best(path)["functions"].items()}


def load(path: str | Path, fast: bool = False):
    """The evolved function(s) of ``best.json`` as ``nn.Module``\\ s: one module for a single-mode
    run; ``{"input": ..., "hidden": ..., "output": ...}`` for triple and coevolution runs (a plan
    that ``actlab.models.build`` takes as it is). ``fast=True`` gives each as
    ``actlab.fast(spec)``: a compiled kernel where it measures faster than eager (compiling takes
    a few seconds; worth it for long trainings)."""
    d = read_best(path)
    if fast:
        from ..catalogue import fast as fast_module

        mods = {slot: fast_module(PREFIX + text) for slot, text in d["functions"].items()}
    else:
        mods = {slot: Expression(text) for slot, text in d["functions"].items()}
    return mods["all"] if set(mods) == {"all"} else mods


def __getattr__(name: str):  # the heavier parts load on first use
    if name in ("EvolveConfig", "run_evolution"):
        from . import run

        return getattr(run, name)
    raise AttributeError(name)


__all__ = ["EvolveConfig", "Expression", "PREFIX", "best_specs", "canonical", "load", "parse", "read_best",
           "run_evolution", "simplified", "to_text"]
