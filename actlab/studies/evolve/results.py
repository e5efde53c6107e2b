"""What a finished evolution writes: ``results.json`` (:func:`collect`, with the final evaluation
added by the run) and ``best.json`` (:func:`best_json`; read back by :mod:`~actlab.studies.evolve.best`).

A hall-of-fame entry holds ``rank``, ``key`` (its behaviour), ``slots`` (expression text),
``functions`` and sympy's ``formulas`` by slot, ``fitness``, ``rungs`` (its fitness at each
fidelity reached, lowest first), ``status``, ``nodes`` and the ``generation`` it was found in;
with several tasks, ``tasks``: each task's score at each fidelity reached (``results["tasks"]``
holds the task names, how their scores are combined, and ReLU's reference scores).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from actlab.catalogue import expr as E
from actlab.studies.evolve.best import FORMAT_BEST, FORMAT_RESULTS
from actlab.studies.evolve.fitness import plan_for

FITNESS = "best validation accuracy over a short training (higher is better)"
MULTI_TASK = "mean standing against ReLU over the tasks (see 'tasks'; higher is better)"
BY_FIDELITY = (
    "; with several fidelities, candidates rank first by the highest fidelity they reached, then by the fitness there"
)


def collect(evo, data, known: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The results of the finished loop of ``evo`` (an :class:`~actlab.studies.evolve.loop.Evolution`)
    on ``data``: hall of fame with simplified formulas, history, totals. ``known``: formulas by
    expression text, those already simplified (:func:`formulas`); the others are added to it."""
    config = evo.config
    known = {} if known is None else known
    hof = []
    for rank, item in enumerate(evo.hof.items, 1):
        functions = dict(zip(config.slots, item["slots"], strict=True))
        formulas(evo, known, functions.values())
        simplified = {s: known[t] for s, t in functions.items()}
        hof.append({"rank": rank, **item, "functions": functions, "formulas": simplified})
    return {
        "format": FORMAT_RESULTS,
        "config": config.to_dict(),
        "dataset": {
            "name": data.name,
            "n_classes": data.n_classes,
            "input_shape": list(data.input_shape),
            "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
        },
        "history": evo.history,
        "totals": evo.totals(),
        "sessions": evo.sessions,
        "hall_of_fame": hof,
        "best": hof[0] if hof else None,
        "fitness": (FITNESS if evo.standing is None else MULTI_TASK)
        + (BY_FIDELITY if len(config.fidelity_levels()) > 1 else ""),
        **({} if evo.standing is None else {"tasks": evo.standing.summary()}),
    }


def formulas(evo, known: dict[str, dict[str, Any]], texts: Iterable[str] | None = None) -> None:
    """Simplify into ``known`` (by text) the formulas of ``texts`` not in it yet; by default those
    the results may hold: the hall of fame's, and those of the candidates whose last fidelity is
    still training (:attr:`~actlab.studies.evolve.loop.Evolution.pending`)."""
    if texts is None:
        texts = [t for item in [*evo.hof.items, *evo.pending.values()] for t in item["slots"]]
    for text in texts:
        if text not in known:
            known[text] = E.simplified(E.parse(text))


def best_json(results: Mapping[str, Any]) -> dict[str, Any]:
    """What ``best.json`` holds: the best functions, their formulas and how they did on test."""
    c = results["config"]
    b = results["best"]
    learn = bool(c.get("learn_constants"))
    d = {
        "format": FORMAT_BEST,
        "version": 1,
        "mode": c["mode"],
        "functions": b["functions"],
        "plan": plan_for(c["mode"], b["functions"], learn),
        "fitness": b["fitness"],
        "formulas": b["formulas"],
        "hall_of_fame_rank": b["rank"],
        "learn_constants": learn,
        "dataset": c["dataset"],
        "model": c["model"],
        "model_options": c["model_options"],
    }
    if "groups" in c:  # a user's model, a function per slot group
        d["groups"] = c["groups"]
    final = results.get("final")
    if final:
        d.update(_tested(final, learn))
    return d


def _tested(final: Mapping[str, Any], learn: bool) -> dict[str, Any]:
    """How the contenders did on test, and the constants of the evolved function's final run best
    on validation (when it learned them)."""
    d = {
        "final": {
            r["name"]: {"mean": r["mean"], "std": r["std"], "n": len(r["test_accuracy"])} for r in final["contenders"]
        },
        "comparisons": final["comparisons"],
    }
    evolved = final["contenders"][0]
    if learn and any(evolved.get("learned") or ()):
        i = max(range(len(evolved["seeds"])), key=lambda i: evolved["val_accuracy"][i])
        d["learned"] = evolved["learned"][i]
        d["learned_from"] = {
            "seed": evolved["seeds"][i],
            "val_accuracy": evolved["val_accuracy"][i],
            "test_accuracy": evolved["test_accuracy"][i],
        }
    return d


__all__ = ["best_json", "collect", "formulas"]
