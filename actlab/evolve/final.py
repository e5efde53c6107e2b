"""After the evolution: the best evolved function(s) against ReLU and against the best catalogue
function, on test, over several seeds.

1. *The best catalogue function* is chosen honestly, on validation: every function of the
   ``catalogue`` list (ReLU left out; it is compared on its own) gets the same short training as
   an evolved candidate (same data, model, epochs and seed); the best validation accuracy wins
   (ties: the first listed).
2. The evolved plan, ReLU and that catalogue function are trained ``final_seeds`` times (fresh
   seeds, not the seed used during the evolution) for ``final_epochs`` epochs on the training
   split; the weights of the best validation epoch are scored once on test.
3. Evolved vs ReLU and evolved vs the catalogue function: two-sample permutation tests of mean
   test accuracy, Holm-corrected over the two.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Mapping

from ..stats import ALPHA, final_seeds, mean_std_ci, versus
from .fitness import catalogue_plan, make_task, plan_for


def final_evaluation(config: Any, functions: Mapping[str, str], executor, progress: bool = True,
                     folder: Path | None = None) -> dict[str, Any]:
    """``executor.map(tasks, folder)`` trains (see :class:`~actlab.evolve.fitness.Fitness`); with
    a ``folder``, every finished run is kept there, so a killed final evaluation resumes."""
    cands = [c for c in config.catalogue if c.strip().lower() != "relu"]
    selection = []
    best_cat = None
    if cands:
        res = executor.map([make_task(config, catalogue_plan(c)) for c in cands], folder, "select")
        selection = [{"activation": c, "val_accuracy": r.get("fitness", 0.0), "status": r.get("status")} for c, r in zip(cands, res)]
        best_cat = max(selection, key=lambda r: r["val_accuracy"])["activation"]  # max keeps the first of ties
        if progress:
            print(f"best catalogue function on validation: {best_cat} "
                  f"({max(r['val_accuracy'] for r in selection):.3f})", file=sys.stderr, flush=True)
    contenders = [("evolved", plan_for(config.mode, functions)), ("relu", catalogue_plan("relu"))]
    if best_cat is not None:
        contenders.append((best_cat, catalogue_plan(best_cat)))
    seeds = final_seeds(config.seed, config.final_seeds)
    train = {"epochs": config.final_epochs, "patience": None, "restore_best": True, "monitor": "val_accuracy"}
    tasks = [make_task(config, plan, score_test=True, **{**train, "seed": s}) for _, plan in contenders for s in seeds]
    if progress:
        print(f"final evaluation: {len(contenders)} contenders x {len(seeds)} seeds, {config.final_epochs} epochs",
              file=sys.stderr, flush=True)
    results = executor.map(tasks, folder, "final")
    rows = []
    for i, (name, plan) in enumerate(contenders):
        rs = results[i * len(seeds):(i + 1) * len(seeds)]
        acc = [r.get("test_accuracy", 0.0) for r in rs]
        m, sd, lo, hi = mean_std_ci(acc)
        rows.append({"name": name, "plan": plan, "seeds": seeds, "test_accuracy": acc, "mean": m, "std": sd,
                     "ci_low": lo, "ci_high": hi, "status": [r.get("status") for r in rs],
                     "best_epoch": [r.get("best_epoch") for r in rs]})
    samples = {r["name"]: r["test_accuracy"] for r in rows}
    comps = [{"vs": t["reference"], **{k: t[k] for k in ("p_value", "p_holm", "significant", "difference", "outcome")}}
             for t in versus(samples, [("evolved", r["name"]) for r in rows[1:]])]
    return {"catalogue_selection": selection, "best_catalogue": best_cat, "contenders": rows, "comparisons": comps,
            "alpha": ALPHA, "epochs": config.final_epochs,
            "test": "two-sample permutation test of mean test accuracy, evolved vs each, Holm-corrected"}


def format_final(final: Mapping[str, Any]) -> str:
    """The final table as plain text."""
    lines = [f"{'activation':<34} {'test acc mean ± std':>20}  {'p (Holm) vs evolved':>20}"]
    comps = {c["vs"]: c for c in final["comparisons"]}
    for r in final["contenders"]:
        c = comps.get(r["name"])
        p = "" if c is None else f"{c['p_holm']:.3f} {c['outcome']}" if math.isfinite(c["p_holm"]) else "n/a"
        sd = f"{r['std']:.3f}" if math.isfinite(r["std"]) else "n/a"
        lines.append(f"{r['name'][:34]:<34} {r['mean']:>11.3f} ± {sd:<6}  {p:>20}")
    n = len(final["contenders"][0]["test_accuracy"])
    lines.append(f"{n} seeds each, {final['epochs']} epochs, weights of the best validation epoch tested; "
                 f"outcome from the evolved function's side (p < {final['alpha']})")
    return "\n".join(lines)


__all__ = ["final_evaluation", "format_final"]
