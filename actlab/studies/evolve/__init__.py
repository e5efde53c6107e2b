"""Evolve new activation functions with genetic programming (``actlab evolve``).

* the expression language (``"expr:max(x, x*tanh(x))"``) is part of the catalogue's spec
  language: :mod:`actlab.catalogue.expr`.
* :mod:`~actlab.studies.evolve.modes`: the modes and the activation slots each one fills.
* :mod:`~actlab.studies.evolve.config`: :class:`EvolveConfig`, every default and check of a run.
* :mod:`~actlab.studies.evolve.gp`: DEAP primitive set, operators, checks before training, hall of fame.
* :mod:`~actlab.studies.evolve.fitness`: one candidate's short training (the fitness).
* :mod:`~actlab.studies.evolve.tasks`: the fitness over several tasks (the mean standing against ReLU, and why).
* :mod:`~actlab.studies.evolve.loop`: the generation step, coevolution, successive halving, the surrogate.
* :mod:`~actlab.studies.evolve.checkpoint`: the checkpoint written after every generation, and its checks.
* :mod:`~actlab.studies.evolve.run`: :func:`run_evolution`, a session with its budget and progress.
* :mod:`~actlab.studies.evolve.final`: the best against ReLU and the best catalogue function on test.
* :mod:`~actlab.studies.evolve.results`: what a finished run writes (results.json, best.json).
* :mod:`~actlab.studies.evolve.best`: best.json read back (:func:`load`, also ``actlab.load``).

Importing this package loads only what reading a best.json needs; the evolution itself (DEAP,
the trainer) loads on first use of its names.
"""

from __future__ import annotations

import importlib

from actlab.catalogue.expr import PREFIX, Expression, canonical, parse, simplified, to_text
from actlab.studies.evolve.best import (
    best_specs,
    check_functions,
    distinct,
    function_of,
    learned_functions,
    load,
    read_best,
    slots_text,
)
from actlab.studies.evolve.modes import MODE_SLOTS, MODES, SLOT_NAMES, SLOTS

_LAZY = {"EvolveConfig": "config", "Evolution": "loop", "run_evolution": "run"}  # name -> module


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"actlab.studies.evolve.{_LAZY[name]}"), name)
    raise AttributeError(name)


__all__ = [
    "MODES",
    "MODE_SLOTS",
    "PREFIX",
    "SLOTS",
    "SLOT_NAMES",
    "Evolution",
    "EvolveConfig",
    "Expression",
    "best_specs",
    "canonical",
    "check_functions",
    "distinct",
    "function_of",
    "learned_functions",
    "load",
    "parse",
    "read_best",
    "run_evolution",
    "simplified",
    "slots_text",
    "to_text",
]
