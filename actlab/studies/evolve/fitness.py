"""Fitness of one candidate: a short training with actlab's one trainer, scored on validation.

A *task* is a plain dict: the activation plan as spec strings (``"expr:TEXT"`` for evolved
functions, catalogue names for the others), the dataset and model by name, and the training
config. Tasks train on actlab's one runner (:mod:`actlab.execution.runner`): packed where exact, in this
process, in worker processes or on Dask.

Fitness is the best validation accuracy over the epochs. A run that diverges (a NaN or inf
loss) or fails in any other way scores 0 with its status recorded; it never raises.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from actlab.catalogue.expr import LEARN_PREFIX, PREFIX
from actlab.execution import Runner, Task, Unit
from actlab.stats import run_converged
from actlab.studies.evolve.config import EvolveConfig
from actlab.training import RunResult


def plan_for(mode: str, functions: Mapping[str, str], learnable: bool = False) -> dict[str, str]:
    """The model's activation plan for evolved functions (spec strings ``expr:TEXT``, or
    ``pexpr:TEXT`` when their constants are ``learnable``): one function everywhere but the output
    (single mode), else each slot's own (input, hidden, output; or a user's model's groups)."""
    prefix = LEARN_PREFIX if learnable else PREFIX
    if mode == "single":
        t = prefix + functions["all"]
        return {"input": t, "hidden": t}
    return {s: prefix + text for s, text in functions.items()}


def catalogue_plan(spec: str) -> dict[str, str]:
    """A catalogue function in every slot but the output (logits), as compare and search use it."""
    return {"input": spec, "hidden": spec}


def make_task(
    config: EvolveConfig, plan: Mapping[str, str], *, fidelity: int | None = 0, score_test: bool = False, **train
) -> dict[str, Any]:
    """A fitness task of an evolution's ``config`` for ``plan`` at the fidelity of that index (its
    epochs and share of the training split, :meth:`EvolveConfig.fidelity_levels`); None: the whole
    split, for the ``epochs`` given in ``train`` (the final evaluation's). ``train`` overrides
    training settings (the final evaluation's seeds too). The test and train splits are scored
    at the end where ``score_test`` alone: a fitness is read from validation."""
    if fidelity is None:
        epochs, share = train.pop("epochs"), 1.0
    else:
        epochs, share = config.fidelity_levels()[fidelity]
    settings = {"seed": config.seed, "epochs": epochs, "final_scores": score_test, **train}
    unit = Task.of(config).unit("task", plan, **settings, train_fraction=share)
    return {**{k: v for k, v in unit.to_dict().items() if k != "name"}, "score_test": score_test}


def unit_of(task: Mapping[str, Any], name: str) -> Unit:
    """A fitness task as the runner's unit (its training config already holds the seed)."""
    return Unit.from_dict({**task, "name": name})


class Fitness:
    """``map(tasks) -> records``: the tasks trained on ``runner`` (packed, in processes or on
    Dask, as it is set up) and scored; ``evaluator(task)``, when given, replaces the training
    (tests)."""

    def __init__(
        self, runner: Runner | None = None, evaluator: Callable[[dict], dict] | None = None, folder: Path | None = None
    ):
        self.runner, self.evaluator, self.folder = runner, evaluator, folder
        self.name = "this process (test evaluator)" if evaluator is not None else runner.name
        self._meanwhile: list[Callable[[], None]] = []

    def meanwhile(self, *work: Callable[[], None]) -> None:
        """Work for this process the next time it waits for trainings, each once, in order: work it
        would otherwise do before they start or after they end (starting the sympy process, what a
        report needs), done while the workers train. Work still queued when the study ends is dropped."""
        self._meanwhile.extend(work)

    def _do_meanwhile(self) -> None:
        work, self._meanwhile = self._meanwhile, []
        for w in work:
            w()

    def map(
        self,
        tasks: Sequence[Mapping[str, Any]],
        folder: Path | None = None,
        prefix: str = "task",
        on_done: Callable[[int, Mapping[str, Any], bool], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Fitness records of ``tasks``, in order; with a ``folder`` (default: the one given when
        made), each finished training is kept there (as ``<prefix>-<its key>.json``) and not
        trained again: a generation killed half-way keeps the packs it finished.
        ``on_done(i, record, cached)`` after each task ``i`` trained (the runner's record), or read
        from the folder (``cached``)."""
        return self.start(tasks, folder, prefix, on_done).wait()

    def start(
        self,
        tasks: Sequence[Mapping[str, Any]],
        folder: Path | None = None,
        prefix: str = "task",
        on_done: Callable[[int, Mapping[str, Any], bool], None] | None = None,
    ) -> Started:
        """:meth:`map`, begun: the tasks handed to the runner (:meth:`Runner.start`), where they
        train while this process goes on and while later lists are waited for; ``wait()`` gives
        the records."""
        if self.evaluator is not None:
            records = [self.evaluator(dict(t)) for t in tasks]

            def evaluated() -> list[dict[str, Any]]:
                self._do_meanwhile()
                return records

            return Started(evaluated)
        units, seen = [], set()
        for i, t in enumerate(tasks):
            u = unit_of(t, prefix)
            u.name = f"{prefix}-{u.key()}" if u.key() not in seen else f"{prefix}-{u.key()}-{i}"
            seen.add(u.key())
            units.append(u)
        folder = folder or self.folder
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        index = {u.name: i for i, u in enumerate(units)}
        started = self.runner.start(
            units,
            folder,
            on_done=None if on_done is None else lambda u, rec, cached: on_done(index[u.name], rec, cached),
        )

        def records() -> list[dict[str, Any]]:
            self._do_meanwhile()
            by_name = started.wait()
            return [from_record(by_name[u.name], t) for u, t in zip(units, tasks, strict=True)]

        return Started(records)


class Started:
    """Fitness records on their way: :meth:`wait` returns them (once; later calls return the same)."""

    def __init__(self, records: Callable[[], list[dict[str, Any]]]):
        self._records, self._got = records, None

    def wait(self) -> list[dict[str, Any]]:
        if self._got is None:
            self._got = self._records()
        return self._got


def from_record(record: Mapping[str, Any], task: Mapping[str, Any]) -> dict[str, Any]:
    """A runner record as a fitness record (an error: fitness 0, the error's first line)."""
    if "error" in record:
        return {"fitness": 0.0, "status": f"error: {record['error'][:200]}", "val_accuracy": [], "seconds": 0.0}
    result = RunResult.from_dict(record["result"])
    return score(result, task, result.seconds / max(int(record.get("packed", 1)), 1))


def score(result, task: Mapping[str, Any], seconds: float) -> dict[str, Any]:
    """A training's result as a fitness record: its score (RunResult's rule: the best validation
    accuracy, or the metric a training loop of the user's is selected on);
    a candidate that diverged fails, with fitness 0, whatever it reached before."""
    accs = [e.get("val_accuracy") for e in result.epochs]
    scored = result.fit is not None or any(a is not None and math.isfinite(a) for a in accs)
    if result.status == "diverged" or not scored or not math.isfinite(result.score):
        out = {"fitness": 0.0, "status": "diverged"}
    else:
        out = {"fitness": result.score, "status": "ok"}
    out["val_accuracy"] = [a if a is not None and math.isfinite(a) else None for a in accs]
    out["seconds"] = seconds
    if task.get("score_test"):
        acc = result.test.get("accuracy", math.nan)
        out["test_accuracy"] = float(acc) if out["status"] == "ok" and math.isfinite(acc) else 0.0
        out["best_epoch"] = result.best_epoch
        out["converged"] = run_converged([e.get("val_loss") for e in result.epochs], result.status)
        if result.learned:
            out["learned"] = result.learned
        if result.diagnostics:
            out["diagnostics"] = result.diagnostics
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


__all__ = [
    "Fitness",
    "Started",
    "catalogue_plan",
    "from_record",
    "make_task",
    "plan_for",
    "sanitise",
    "score",
    "unit_of",
]
