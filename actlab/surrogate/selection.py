"""Prune a search's candidate list with the surrogate: train the usual functions, keep the
candidates predicted best."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actlab._errors import ActlabError
from actlab._progress import Progress
from actlab.execution import Runner, Task, Unit, finished_text, provide_data
from actlab.surrogate.features import Task as FeatureTask
from actlab.surrogate.features import function_key
from actlab.surrogate.regressor import Surrogate
from actlab.training import run_score

USUAL = ("elu", "relu", "selu", "sigmoid", "softplus", "softsign", "swish", "tanh")  # trained first (AQuaSurF)
KEEP = 12  # candidates a search keeps by default when a surrogate prunes its list


def prune(
    candidates: Sequence[str],
    keep: int,
    task: Task,
    seed: int,
    runner: Runner,
    folder: str | Path,
    data=None,
    progress: bool = True,
) -> tuple[list[str], dict[str, Any]]:
    """The ``keep`` candidates predicted best, best first, and a record of how they were chosen.

    The eight usual functions are trained on the study's ``task`` with training seed ``seed``
    (each function in every slot but the output), as runner units in ``folder`` (a rerun trains none again), and a
    surrogate fit on their validation accuracy predicts the other candidates; a usual function
    among the candidates counts with its real score. A candidate that cannot run in the model is
    dropped. The choice depends only on the task, the trainings and the candidates, so it is the
    same on every rerun."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sur = Surrogate(FeatureTask.of(task, seed), data, folder=folder / "features")
    units = [task.unit(f"usual-{s}", s, seed=seed, diagnostics=False) for s in USUAL]
    provide_data(units[0], sur.data)
    bar = Progress(len(units), "runs for the surrogate", enabled=progress)

    def done(u: Unit, rec: dict[str, Any], cached: bool) -> None:
        bar.begin(f"{u.plan} seed {u.train['seed']}")
        bar.finish(finished_text(rec, cached, "val"), skipped=cached)

    recs = runner.run(units, folder, on_done=done)
    scores = {u.plan: run_score(recs[u.name]["result"]) for u in units if "result" in recs[u.name]}
    usual = {plan: v for plan, v in scores.items() if math.isfinite(v)}  # a training loop's diverged run: no score
    cands = [c for c in candidates if sur.ok(c)]
    if not cands:
        raise ActlabError(
            f"no candidate runs in model {task.model!r} ({sur.features(candidates[0])['note']}); "
            "choose other candidates"
        )
    sur.fit(list(usual), list(usual.values()), pool=cands)
    mean, std = sur.predict(cands)
    trained = {function_key(s): v for s, v in usual.items()}
    score = [trained.get(function_key(c), m) for c, m in zip(cands, mean, strict=True)]
    order = sorted(range(len(cands)), key=lambda i: (-score[i], i))[:keep]
    kept = [cands[i] for i in order]
    return kept, {
        "keep": keep,
        "kept": kept,
        "regressor": sur.regressor,
        "usual": usual,
        "predicted": {c: [float(m), float(s)] for c, m, s in zip(cands, mean, std, strict=True)},
        "dropped": {c: sur.features(c)["note"] for c in candidates if not sur.ok(c)},
    }
