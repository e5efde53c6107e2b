"""After the search: the best configurations and the baseline, trained alike, scored on test.

Every contender (the baseline, ReLU hidden units, and the top-k configurations of the search) is
trained the same way: ``final_seeds`` fresh seeds, the search's training settings for the full
epoch budget on the training split, the weights of the best validation-loss epoch restored, then
scored once on the test split. No contender gets its training length from its own lucky run
(a baseline whose one validation run stayed flat would otherwise be retrained for one epoch).
The runs go through the runner (packed where exact, in processes or on Dask) and are kept in
``out/final/``, so a killed final evaluation resumes. The top-k are compared with the baseline
by the two-sample permutation test, Holm-corrected (:mod:`actlab.stats`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from .._progress import Progress
from ..runner import Runner, Unit, finished_text, provide_data
from ..stats import ACCURACY, ALPHA, final_seeds, mean_std_ci, versus
from ..training import RunResult
from . import SearchConfig, baseline_plan, plan_of


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


def final_evaluation(config: SearchConfig, study: optuna.Study, data, progress: bool = True,
                     runner: Runner | None = None, folder: Path | None = None) -> dict[str, Any]:
    space = config.space(data.input_shape, data.n_classes)
    contenders = [{"name": "baseline", "raw_plan": baseline_plan(space), "val_accuracy": None, "trial": None}]
    for rank, t in enumerate(top_trials(study, config.top_k), 1):
        contenders.append({"name": f"top-{rank}", "raw_plan": plan_of(t.params, space), "val_accuracy": t.value,
                           "trial": t.number})
    seeds = final_seeds(config.seed, config.final_seeds)
    train = {**config.train.to_dict(), "patience": None, "restore_best": True, "monitor": "val_loss", "diagnostics": True}
    units: dict[str, Unit] = {}  # by name; a top-k configuration equal to the baseline trains once
    names, who = [], {}  # the unit name of each contender's seeds; the contenders of each unit
    for c in contenders:
        names.append([])
        for s in seeds:
            u = Unit(name="final", plan=c["raw_plan"], dataset=config.dataset, model=config.model,
                     train={**train, "seed": s}, data_seed=config.data_seed, data_options=dict(config.data_options),
                     model_options=config.model_options)
            u.name = f"final-{u.key()}"  # by content: a resumed search whose top-k changed keeps what was trained
            units.setdefault(u.name, u)
            who.setdefault(u.name, []).append(c["name"])
            names[-1].append(u.name)
    provide_data(next(iter(units.values())), data)
    bar = Progress(len(units), "final runs", enabled=progress)

    def done(u: Unit, rec: dict[str, Any], cached: bool) -> None:
        bar.begin(f"{' = '.join(who[u.name])} seed {u.train['seed']}")
        bar.finish(finished_text(rec, cached), skipped=cached)

    own = runner is None
    runner = runner or Runner(pack=config.pack)
    try:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        records = runner.run(list(units.values()), folder, on_done=done)
    finally:
        if own:
            runner.close()
    for c, row in zip(contenders, names):
        recs = [records[n] for n in row]
        results = [RunResult.from_dict(r["result"]) if "result" in r else None for r in recs]
        c["test_accuracy"] = [r.test["accuracy"] if r is not None and r.status != "diverged" else 0.0 for r in results]
        c["diverged"] = sum(r is not None and r.status == "diverged" for r in results)  # scored 0, as failed runs
        c["failed"] = sum(r is None for r in results)
        c["epochs"] = [r.best_epoch for r in results if r is not None]
        best_val = [max((e.get("val_accuracy") or 0.0) for e in r.epochs) for r in results if r is not None and r.epochs]
        if c["val_accuracy"] is None:  # the baseline had no trial: its final runs' best validation accuracy
            c["val_accuracy"] = mean_std_ci(best_val)[0]
        c["diagnostics"] = results[0].diagnostics if results and results[0] is not None else None
        c["mean"], c["std"], c["ci_low"], c["ci_high"] = mean_std_ci(c["test_accuracy"], bounds=ACCURACY)
        c["plan"] = {k: v or "linear" for k, v in c.pop("raw_plan").items()}
    samples = {c["name"]: c["test_accuracy"] for c in contenders}
    tests = {t["contender"]: t for t in versus(samples, [(c["name"], "baseline") for c in contenders[1:]])}
    for c in contenders:
        t = tests.get(c["name"])
        c.update({"p_value": math.nan, "p_holm": math.nan, "significant": False, "outcome": "baseline"} if t is None else
                 {k: t[k] for k in ("p_value", "p_holm", "significant", "outcome")})
    return {"configs": contenders, "alpha": ALPHA, "seeds": seeds, "epochs": config.train.epochs,
            "training": "every contender: the same seeds, the full epoch budget on the training split, the weights of "
                        "the best validation-loss epoch tested",
            "test": "two-sample permutation test of test accuracy vs the baseline, Holm-corrected"}


__all__ = ["final_evaluation", "top_trials"]
