"""After the search: the best configurations and the baseline, trained alike, scored on test.

Every contender (the baseline, ReLU hidden units, and the top-k configurations of the search) is
trained the same way: ``final_seeds`` fresh seeds, the search's training settings for the full
epoch budget on the training split, the weights of the best validation-loss epoch restored, then
scored once on the test split. No contender gets its training length from its own lucky run
(a baseline whose one validation run stayed flat would otherwise be retrained for one epoch).
The runs go through the runner (packed where exact, in processes or on Dask) and are kept in
``out/final/``, so a killed final evaluation resumes. The top-k are compared with the baseline
by the two-sample permutation test, Holm-corrected (:mod:`actlab.stats`).

A comparison in which a side had not converged (its validation loss still falling at the end,
:func:`actlab.stats.converged`) says nothing about the functions, only about who learns faster:
then every contender is trained again, alike, with the epoch budget doubled, up to
``actlab.stats.EXTEND`` times the search's (the records of each budget are kept, so a resumed
evaluation retrains nothing). A comparison still not converged at the limit is reported as
``not converged``, not as a win, tie or loss.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from actlab._progress import Progress
from actlab.execution import Runner, Task, Unit, finished_text, provide_data
from actlab.stats import (
    ACCURACY,
    ALPHA,
    NOT_CONVERGED,
    converged,
    convergence_note,
    final_seeds,
    mean_std_ci,
    result_converged,
    until_converged,
    versus,
)
from actlab.studies.search.config import SearchConfig
from actlab.studies.search.space import baseline_plan, plan_of
from actlab.training import RunResult, run_score


def top_trials(study: optuna.Study, k: int) -> list[optuna.trial.FrozenTrial]:
    """The best ``k`` complete trials with distinct configurations (a retried or re-sampled
    configuration appears once, with its first trial)."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    seen, out = set(), []
    for t in sorted(done, key=lambda t: (-t.value, t.number)):
        key = tuple(sorted(t.params.items()))
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out[:k]


def final_evaluation(
    config: SearchConfig,
    study: optuna.Study,
    data,
    progress: bool = True,
    runner: Runner | None = None,
    folder: Path | None = None,
) -> dict[str, Any]:
    """Train the baseline and the top-k alike (see the module's docstring) and test them against
    the baseline; where a comparison had not converged, all of them again with the epoch budget
    doubled, up to ``EXTEND`` times the search's (:func:`actlab.stats.until_converged`)."""
    space = config.space(data.input_shape, data.n_classes)
    contenders = [{"name": "baseline", "raw_plan": baseline_plan(space), "trial": None}]
    for rank, t in enumerate(top_trials(study, config.top_k), 1):
        contenders.append(
            {"name": f"top-{rank}", "raw_plan": plan_of(t.params, space), "val_accuracy": t.value, "trial": t.number}
        )
    seeds = final_seeds(config.seed, config.final_seeds)
    own = runner is None
    runner = runner or Runner(pack=config.pack)
    try:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

        def evaluate(epochs: int) -> list[dict[str, Any]]:
            records = _train(config, contenders, seeds, epochs, data, runner, folder, progress)
            return _score(contenders, records)

        def longer(configs: list[dict[str, Any]], epochs: int) -> None:
            if progress:
                late = ", ".join(c["name"] for c in configs if not c["converged"])
                print(
                    f"final evaluation: {late} not converged: every contender again with {epochs} epochs",
                    file=sys.stderr,
                    flush=True,
                )

        configs, budgets = until_converged(evaluate, config.train.epochs, _unsettled, longer)
    finally:
        if own:
            runner.close()
    for c in configs:
        c["plan"] = {k: v or "linear" for k, v in c.pop("raw_plan").items()}
    doubled = (
        "; the budget doubled for every contender while a comparison had not converged "
        f"({', '.join(map(str, budgets))} epochs)"
    )
    return {
        "configs": configs,
        "alpha": ALPHA,
        "seeds": seeds,
        "epochs": budgets[-1],
        "budgets": budgets,
        "training": "every contender: the same seeds, the full epoch budget on the training split, the weights of "
        "the best validation-loss epoch tested" + (doubled if len(budgets) > 1 else ""),
        "test": "two-sample permutation test of test accuracy vs the baseline, Holm-corrected",
        "convergence": convergence_note(budgets[-1], "--epochs"),
    }


def _unsettled(configs: list[dict[str, Any]]) -> bool:
    return any(c["outcome"] == NOT_CONVERGED for c in configs)


def _train(
    config: SearchConfig,
    contenders: list[dict[str, Any]],
    seeds: list[int],
    epochs: int,
    data,
    runner: Runner,
    folder: Path | None,
    progress: bool,
) -> list[list[dict[str, Any]]]:
    """Every contender's runs of ``epochs`` epochs, one runner record per seed (a top-k
    configuration equal to the baseline trains once)."""
    task = Task.of(config)
    train = {"epochs": epochs, "patience": None, "restore_best": True, "monitor": "val_loss", "diagnostics": True}
    units: dict[str, Unit] = {}  # by name
    names, who = [], {}  # the unit name of each contender's seeds; the contenders of each unit
    for c in contenders:
        names.append([])
        for s in seeds:
            u = task.unit("final", c["raw_plan"], **train, seed=s)
            u.name = f"final-{u.key()}"  # by content: a resumed search whose top-k changed keeps what was trained
            units.setdefault(u.name, u)
            who.setdefault(u.name, []).append(c["name"])
            names[-1].append(u.name)
    provide_data(next(iter(units.values())), data)
    bar = Progress(len(units), f"final runs ({epochs} epochs)", enabled=progress)

    def done(u: Unit, rec: dict[str, Any], cached: bool) -> None:
        bar.begin(f"{' = '.join(who[u.name])} seed {u.train['seed']}")
        bar.finish(finished_text(rec, cached), skipped=cached)

    records = runner.run(list(units.values()), folder, on_done=done)
    return [[records[n] for n in row] for row in names]


def _score(contenders: list[dict[str, Any]], records: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each contender's statistics over its seeds and its test against the baseline."""
    out = []
    for c, recs in zip(contenders, records, strict=True):
        results = [RunResult.from_dict(r["result"]) if "result" in r else None for r in recs]
        settled = [result_converged(r["result"]) for r in recs if "result" in r]
        row = {
            **c,
            "test_accuracy": [
                r.test.get("accuracy", math.nan) if r is not None and r.status != "diverged" else 0.0 for r in results
            ],
            "diverged": sum(r is not None and r.status == "diverged" for r in results),  # scored 0, as failed runs
            "failed": sum(r is None for r in results),
            "epochs": [r.best_epoch for r in results if r is not None],
            "unconverged": settled.count(False),
            "converged": converged(settled),
            "diagnostics": results[0].diagnostics if results and results[0] is not None else None,
        }
        if row.get("val_accuracy") is None:  # the baseline had no trial: its final runs' best validation accuracy
            row["val_accuracy"] = mean_std_ci([run_score(r["result"]) for r in recs if "result" in r])[0]
        row["mean"], row["std"], row["ci_low"], row["ci_high"] = mean_std_ci(row["test_accuracy"], bounds=ACCURACY)
        out.append(row)
    samples = {c["name"]: c["test_accuracy"] for c in out}
    late = [c["name"] for c in out if not c["converged"]]
    tests = {t["contender"]: t for t in versus(samples, [(c["name"], "baseline") for c in out[1:]], unconverged=late)}
    for c in out:
        t = tests.get(c["name"])
        c.update(
            {"p_value": math.nan, "p_holm": math.nan, "significant": False, "outcome": "baseline"}
            if t is None
            else {k: t[k] for k in ("p_value", "p_holm", "significant", "outcome")}
        )
    return out


__all__ = ["final_evaluation", "top_trials"]
