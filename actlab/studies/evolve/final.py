"""After the evolution: the hall of fame against ReLU and against the best catalogue function,
on test, over several seeds. Both sides are chosen alike.

1. *The catalogue* gets the training of an evolved candidate at every fidelity (same data, model,
   epochs, share of the training split and seed); ReLU trains too (it is compared on its own),
   so that every contender has the fitness a candidate would have had. The best of the
   ``catalogue`` list at the highest fidelity, as many as the hall of fame holds, are the
   catalogue's finalists (ties: the first listed), as the hall of fame holds the evolution's.
2. Every hall-of-fame member, every catalogue finalist and ReLU are trained ``final_seeds`` times
   (fresh seeds, not the seed used during the evolution) for ``final_epochs`` epochs on the whole
   training split; the weights of the best validation epoch are scored once on test.
3. *The evolved function* is the hall-of-fame member with the best mean validation accuracy over
   those seeds, *the best catalogue function* the finalist with the best (ties: the better
   ranked). After an evolution over several tasks, the final seeds train on the first task alone,
   so both are chosen by the evolution's fitness over the tasks instead (the catalogue trained on
   every task in step 1): the hall of fame's first and the best finalist. Evolved vs ReLU and
   evolved vs the catalogue function: two-sample permutation tests of mean test accuracy,
   Holm-corrected over the two. Where a side of a test had not converged
   (its validation loss still falling at the end, :func:`actlab.stats.converged`), step 2 and 3
   are done again for every contender with the epochs doubled, up to ``actlab.stats.EXTEND``
   times ``final_epochs``; a test still not converged then is reported as ``not converged``.
4. *Does it transfer?* With ``transfer_to``, the evolved function, ReLU and the best catalogue
   function train on those tasks too (:func:`actlab.execution.transfer.transfer`: the final seeds
   and epochs, nothing searched again), each task tested against ReLU and all ranked across tasks.
5. *Is the fitness honest?* For every fidelity, Spearman's rank correlation between the fitness
   at that fidelity and the mean test accuracy, over the contenders trained at it; and the same
   for the final training's own validation accuracy.
6. *Why?* The final runs measure per-slot diagnostics (dead units, saturation, effective rank,
   gradient norms); :func:`actlab.training.why.explain` says in sentences which differ most
   between the evolved function and ReLU, seed by seed.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from actlab._progress import Progress
from actlab.execution import Task, finished_text
from actlab.execution.transfer import transfer_section, transfer_to
from actlab.stats import (
    ACCURACY,
    ALPHA,
    NOT_CONVERGED,
    converged,
    convergence_note,
    final_seeds,
    mean_std_ci,
    rank_correlation,
    until_converged,
    versus,
)
from actlab.studies.evolve.config import EvolveConfig
from actlab.studies.evolve.fitness import catalogue_plan, make_task, plan_for
from actlab.studies.evolve.tasks import Standing
from actlab.surrogate.shape import shape_sentences
from actlab.training.why import explain

CHOSEN_BY = "mean validation accuracy over the final seeds"
CHOSEN_BY_TASKS = "fitness over the tasks (the final seeds train on the first task alone)"


def final_evaluation(
    config: EvolveConfig,
    hall_of_fame: Sequence[Mapping[str, Any]],
    executor,
    progress: bool = True,
    folder: Path | None = None,
    standing: Standing | None = None,
) -> dict[str, Any]:
    """The final evaluation of ``hall_of_fame`` (items with ``functions`` and ``rungs``, their
    fitness at each fidelity reached; best first). ``executor.map(tasks, folder, prefix)`` trains (see
    :class:`~actlab.studies.evolve.fitness.Fitness`); with a ``folder``, every finished run is kept there,
    so a killed final evaluation resumes. An evolution over several tasks passes its ``standing``
    (``config`` is then its first task's): the catalogue is chosen by the same fitness over the tasks,
    and the evolved function is the hall of fame's first, since the final seeds train on the first
    task alone."""
    selection, fit, finalists = _catalogue(config, len(hall_of_fame), executor, progress, folder, standing)
    learn = config.learn_constants
    contenders = [
        (
            f"hall of fame #{i + 1}",
            plan_for(config.mode, item["functions"], learn),
            list(item.get("rungs") or [item["fitness"]]),
        )
        for i, item in enumerate(hall_of_fame)
    ]
    contenders += [(c, catalogue_plan(c), [x.get("fitness", 0.0) for x in fit[c]]) for c in ["relu", *finalists]]
    seeds = final_seeds(config.seed, config.final_seeds)

    def evaluate(epochs: int) -> dict[str, Any]:
        rows = _train(config, contenders, seeds, epochs, executor, progress, folder)
        return _compare(rows, len(hall_of_fame), config.fidelity_levels(), by_fitness=standing is not None)

    def longer(final: Mapping[str, Any], epochs: int) -> None:
        if progress:
            late = ", ".join(r["name"] for r in final["contenders"][:3] if not r["converged"])
            print(
                f"final evaluation: {late} not converged: every contender again with {epochs} epochs",
                file=sys.stderr,
                flush=True,
            )

    final, budgets = until_converged(evaluate, config.final_epochs, _unsettled, longer)
    if config.transfer_to:
        final["transfer"] = _transfer(config, final, seeds, budgets[-1], executor, progress, folder)
    return {
        "catalogue_selection": selection,
        "relu_fitness": [x.get("fitness", 0.0) for x in fit["relu"]],
        "catalogue_finalists": finalists,
        **final,
        "alpha": ALPHA,
        "epochs": budgets[-1],
        "budgets": budgets,
        "test": "two-sample permutation test of mean test accuracy, evolved vs each, Holm-corrected",
        "convergence": convergence_note(budgets[-1], "--final-epochs"),
    }


def _transfer(
    config: EvolveConfig,
    final: Mapping[str, Any],
    seeds: Sequence[int],
    epochs: int,
    executor,
    progress: bool,
    folder: Path | None,
) -> dict[str, Any]:
    """Step 4: the evolved function, ReLU and the best catalogue function on ``config.transfer_to``,
    trained as in the final evaluation (``seeds``, ``epochs``)."""
    plans = {r["name"]: r["plan"] for r in final["contenders"]}
    names = ["evolved", "relu", *([final["best_catalogue"]] if final["best_catalogue"] else [])]
    train = {"epochs": epochs, "patience": None, "restore_best": True, "monitor": "val_accuracy"}
    where = None if folder is None else folder / "transfer"
    to = config.transfer_to or []
    base = Task.of(config)
    return transfer_to({n: plans[n] for n in names}, base, to, seeds, executor.runner, where, "relu", progress, **train)


def _unsettled(final: Mapping[str, Any]) -> bool:
    return any(c["outcome"] == NOT_CONVERGED for c in final["comparisons"])


def _catalogue(
    config: EvolveConfig, n: int, executor, progress: bool, folder: Path | None, standing: Standing | None = None
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], list[str]]:
    """Step 1: the catalogue trained as candidates are at every fidelity; the ``n`` best at the
    highest are its finalists. Returns the selection table, the fitness records and the finalists.
    With several tasks (``standing``), each function trains on every task and is chosen by its
    standing over them (``standing`` in the table); its records are its first task's."""
    n_fidelities = len(config.fidelity_levels())
    cands = list(dict.fromkeys(c for c in config.catalogue if c.strip().lower() != "relu"))
    names = ["relu", *cands]
    per = 1 if standing is None else len(standing.names)  # trainings per function and fidelity

    def tasks_of(c: str, f: int) -> list[dict[str, Any]]:
        plan = catalogue_plan(c)
        return [make_task(config, plan, fidelity=f)] if standing is None else standing.tasks(plan, f)

    tasks = [t for f in range(n_fidelities) for c in names for t in tasks_of(c, f)]
    if progress:
        print(
            f"catalogue at the fitness training: {len(names)} functions x {n_fidelities} fidelit"
            f"{'y' if n_fidelities == 1 else 'ies'}" + (f" x {per} tasks" if standing is not None else ""),
            file=sys.stderr,
            flush=True,
        )
    res = executor.map(tasks, folder, "select")

    def records(c: str, f: int) -> list[dict[str, Any]]:  # of function c at fidelity f, one per task
        start = (f * len(names) + names.index(c)) * per
        return res[start : start + per]

    fit = {c: [records(c, f)[0] for f in range(n_fidelities)] for c in names}
    selection = [
        {
            "activation": c,
            "val_accuracy": fit[c][-1].get("fitness", 0.0),
            "status": fit[c][-1].get("status"),
            "rungs": [x.get("fitness", 0.0) for x in fit[c]],
        }
        for c in cands
    ]
    if standing is not None:
        for row in selection:
            top = standing.combine(records(row["activation"], n_fidelities - 1), n_fidelities - 1)
            row["standing"], row["tasks"] = top["fitness"], {n: v[0] for n, v in top["tasks"].items()}
    key = "val_accuracy" if standing is None else "standing"
    ranked = sorted(range(len(cands)), key=lambda i: -selection[i][key])  # stable: ties keep the listed order
    finalists = [cands[i] for i in ranked[:n]]
    if progress and finalists:
        by = "on validation" if standing is None else "by their standing over the tasks"
        print(f"catalogue finalists {by}: {', '.join(finalists)}", file=sys.stderr, flush=True)
    return selection, fit, finalists


def _train(
    config: EvolveConfig,
    contenders: Sequence[tuple[str, dict, list]],
    seeds: Sequence[int],
    epochs: int,
    executor,
    progress: bool,
    folder: Path | None,
) -> list[dict[str, Any]]:
    """Step 2: every contender trained ``epochs`` epochs with each seed; one row per contender."""
    train = {"epochs": epochs, "patience": None, "restore_best": True, "monitor": "val_accuracy", "diagnostics": True}
    tasks = [
        make_task(config, plan, fidelity=None, score_test=True, **{**train, "seed": s})
        for _, plan, _ in contenders
        for s in seeds
    ]
    if progress:
        hof = sum(name.startswith("hall of fame #") for name, _, _ in contenders)
        print(
            f"final evaluation: {len(contenders)} contenders ({hof} from the hall of fame, relu, "
            f"{len(contenders) - hof - 1} from the catalogue) x {len(seeds)} seeds, {epochs} epochs",
            file=sys.stderr,
            flush=True,
        )
    bar = Progress(len(tasks), "final runs", enabled=progress)

    def done(i: int, rec: Mapping[str, Any], cached: bool) -> None:
        bar.begin(f"{contenders[i // len(seeds)][0]} seed {seeds[i % len(seeds)]}")
        bar.finish(finished_text(rec, cached), skipped=cached)

    results = executor.map(tasks, folder, "final", on_done=done)
    rows = []
    for i, (name, plan, fidelity) in enumerate(contenders):
        rs = results[i * len(seeds) : (i + 1) * len(seeds)]
        acc = [r.get("test_accuracy", 0.0) for r in rs]
        val = [r.get("fitness", 0.0) for r in rs]
        settled = [r.get("converged", True) for r in rs]
        m, sd, lo, hi = mean_std_ci(acc, bounds=ACCURACY)
        rows.append(
            {
                "name": name,
                "plan": plan,
                "seeds": list(seeds),
                "test_accuracy": acc,
                "mean": m,
                "std": sd,
                "ci_low": lo,
                "ci_high": hi,
                "val_accuracy": val,
                "val_mean": sum(val) / len(val),
                "fitness": fidelity,
                "status": [r.get("status") for r in rs],
                "best_epoch": [r.get("best_epoch") for r in rs],
                "unconverged": settled.count(False),
                "converged": converged(settled),
                "diagnostics": [r.get("diagnostics") or {} for r in rs],
            }
        )
        if any(r.get("learned") for r in rs):  # learnable constants: their trained values, per seed and layer
            rows[-1]["learned"] = [r.get("learned") or {} for r in rs]
    return rows


def _compare(
    rows: list[dict[str, Any]], n: int, fidelities: Sequence[tuple[int, float]], by_fitness: bool = False
) -> dict[str, Any]:
    """Step 3 and 4: the evolved function (of the first ``n`` rows, the hall of fame) and the best
    catalogue function chosen on validation (``by_fitness``: the first of each, as the fitness
    over several tasks ranked them), their tests, and the fitness correlations."""
    evolved, relu, catalogue = rows[:n], rows[n], rows[n + 1 :]
    chosen = 0 if by_fitness else _best(evolved)
    evolved[chosen]["name"] = "evolved"
    best = (0 if by_fitness else _best(catalogue)) if catalogue else None
    best_cat = catalogue[best]["name"] if catalogue else None
    head = [evolved[chosen], relu] + ([catalogue[best]] if catalogue else [])
    rows = head + [r for i, r in enumerate(evolved) if i != chosen] + [r for i, r in enumerate(catalogue) if i != best]
    samples = {r["name"]: r["test_accuracy"] for r in rows}
    late = [r["name"] for r in head if not r["converged"]]
    comps = [
        {"vs": t["reference"], **{k: t[k] for k in ("p_value", "p_holm", "significant", "difference", "outcome")}}
        for t in versus(samples, [("evolved", r["name"]) for r in head[1:]], unconverged=late)
    ]
    return {
        "best_catalogue": best_cat,
        "contenders": rows,
        "comparisons": comps,
        "chosen": {"hall_of_fame_rank": chosen + 1, "by": CHOSEN_BY_TASKS if by_fitness else CHOSEN_BY},
        "fidelity_correlation": correlations(rows, fidelities),
        "why": explain(evolved[chosen]["diagnostics"], relu["diagnostics"], "evolved", "relu"),
        "shape": shape_sentences(evolved[chosen]["plan"], relu["plan"], "evolved", "relu"),
    }


def _best(rows: Sequence[Mapping[str, Any]]) -> int:
    """The row with the best mean validation accuracy (ties: the first)."""
    return max(range(len(rows)), key=lambda i: rows[i]["val_mean"])


def correlations(rows: Sequence[Mapping[str, Any]], fidelities: Sequence[tuple[int, float]]) -> list[dict[str, Any]]:
    """Per fidelity (``(epochs, share)``, and for the final training's validation): Spearman's rank
    correlation with the mean test accuracy, over the contenders that have a fitness there."""
    out = []
    for f, (epochs, share) in enumerate(fidelities):
        pts = [(row["fitness"][f], row["mean"]) for row in rows if len(row["fitness"]) > f]
        out.append(
            {
                "fidelity": f + 1,
                "epochs": epochs,
                "train_fraction": share,
                **rank_correlation([a for a, _ in pts], [b for _, b in pts]),
            }
        )
    out.append(
        {
            "fidelity": "final",
            "epochs": None,
            "train_fraction": 1.0,
            **rank_correlation([row["val_mean"] for row in rows], [row["mean"] for row in rows]),
        }
    )
    return out


def format_final(final: Mapping[str, Any]) -> str:
    """The final table and the fidelity correlations as plain text."""
    lines = [f"{'activation':<34} {'val acc':>8} {'test acc mean ± std':>20}  {'p (Holm) vs evolved':>20}"]
    comps = {c["vs"]: c for c in final["comparisons"]}
    for r in final["contenders"]:
        c = comps.get(r["name"])
        p = (
            ""
            if c is None
            else f"{c['p_holm']:.3f} {c['outcome']}"
            if math.isfinite(c["p_holm"])
            else (f"n/a {NOT_CONVERGED}" if c["outcome"] == NOT_CONVERGED else "n/a")
        )
        sd = f"{r['std']:.3f}" if math.isfinite(r["std"]) else "n/a"
        val = f"{r['val_mean']:.3f}" if r.get("val_mean") is not None else ""
        lines.append(f"{r['name'][:34]:<34} {val:>8} {r['mean']:>11.3f} ± {sd:<6}  {p:>20}")
    n = len(final["contenders"][0]["test_accuracy"])
    chosen = final.get("chosen")
    pick = f"; evolved = hall of fame #{chosen['hall_of_fame_rank']}, chosen by {chosen['by']}" if chosen else ""
    budgets = final.get("budgets") or [final["epochs"]]
    longer = f" (doubled from {budgets[0]}: a side had not converged)" if len(budgets) > 1 else ""
    lines.append(
        f"{n} seeds each, {final['epochs']} epochs{longer}, weights of the best validation epoch tested{pick}; "
        f"outcome from the evolved function's side (p < {final['alpha']})"
    )
    if any(c["outcome"] == NOT_CONVERGED for c in final["comparisons"]) and final.get("convergence"):
        lines.append(final["convergence"])
    if final.get("fidelity_correlation"):
        lines.append(format_correlations(final["fidelity_correlation"]))
    if final.get("why"):
        lines.append("why evolved and relu differ (per-slot diagnostics on validation, the same seeds; no test):")
        lines.extend(f"  {x}" for x in final["why"])
    if final.get("shape"):
        lines.append("how their shapes differ (the surrogate's curve features):")
        lines.extend(f"  {x}" for x in final["shape"])
    if final.get("transfer"):
        lines.append(transfer_section(final["transfer"]))
    return "\n".join(lines)


def format_correlations(rows: Sequence[Mapping[str, Any]]) -> str:
    """Did the fitness predict the test accuracy? One line per fidelity."""
    parts = []
    for c in rows:
        what = (
            "final training (validation)"
            if c["fidelity"] == "final"
            else f"fidelity {c['fidelity']} ({c['epochs']} epochs"
            + (f", {c['train_fraction']:.0%} of the training split)" if c["train_fraction"] < 1 else ")")
        )
        rho = f"{c['spearman']:+.2f} over {c['n']}" if c["spearman"] is not None else f"n/a ({c['note']})"
        parts.append(f"  {what}: {rho}")
    return "rank correlation (Spearman) of the fitness with the mean test accuracy:\n" + "\n".join(parts)


__all__ = ["CHOSEN_BY", "correlations", "final_evaluation", "format_correlations", "format_final"]
