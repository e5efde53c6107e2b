"""Transfer: the same functions trained on several tasks with the same seeds and budget, each task
tested against a reference and all of them ranked across tasks. Any study uses it (studies do not
import each other, so the shared part lives here): compare's ``--tasks`` ranks its functions so,
evolve's ``--transfer-to`` takes its evolved function, ReLU and the best catalogue function to
other tasks.

How a task is written: :mod:`actlab.execution.tasks`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from actlab._errors import ActlabError
from actlab._progress import Progress
from actlab.execution.records import finished_text
from actlab.execution.runner import Runner
from actlab.execution.tasks import parse_tasks, retarget, task_name
from actlab.execution.units import Task, Unit
from actlab.stats import (
    ACCURACY,
    converged,
    format_p,
    mean_std_ci,
    ranking,
    result_converged,
    versus,
)


def transfer(
    contenders: Mapping[str, Any],
    tasks: Mapping[str, Task],
    seeds: Sequence[int],
    runner: Runner,
    folder: str | Path | None = None,
    reference: str = "relu",
    on_done: Callable[[str, dict[str, Any], bool], None] | None = None,
    **train: Any,
) -> dict[str, Any]:
    """Train every contender (name -> plan: a spec string or ``{slot: spec}``) on every task (its
    name -> the study's :class:`Task` there, :func:`actlab.execution.tasks.retarget`) with
    each seed, ``train`` overriding the tasks' training settings alike (epochs, patience, ...);
    with a ``folder``, every finished run is kept there and a rerun trains only what is missing.
    Returns :func:`transfer_table` of the runs; ``on_done(text, record, cached)`` after each."""
    if reference not in contenders:
        raise ActlabError(f"the reference {reference!r} is not among the functions: {', '.join(contenders)}")
    units: dict[tuple[int, str, int], Unit] = {}
    names = list(tasks)
    for t, task in enumerate(tasks.values()):
        for name, plan in contenders.items():
            for s in seeds:
                u = task.unit("transfer", plan, **{**train, "seed": s})
                u.name = f"transfer-{u.key()}"  # by content: two contenders with one plan train it once
                units[t, name, s] = u
    where: dict[str, str] = {}
    for (t, n, s), u in units.items():
        where[u.name] = f"{where[u.name]} = {n}" if u.name in where else f"{names[t]} {n} seed {s}"
    done = None if on_done is None else lambda u, rec, cached: on_done(where[u.name], rec, cached)
    if folder is not None:
        Path(folder).mkdir(parents=True, exist_ok=True)
    records = runner.run(list({u.name: u for u in units.values()}.values()), folder, on_done=done)
    failed = next((n for n, r in records.items() if "error" in r), None)
    if failed is not None:
        raise ActlabError(f"transfer run {where[failed]} failed ({records[failed]['error']}); fix it and rerun")
    runs = {key: records[u.name]["result"] for key, u in units.items()}
    return transfer_table(list(contenders), names, list(seeds), runs, reference)


def transfer_to(
    contenders: Mapping[str, Any],
    base: Task,
    to: Sequence[str],
    seeds: Sequence[int],
    runner: Runner,
    folder: Path | None,
    reference: str,
    progress: bool = True,
    **train: Any,
) -> dict[str, Any]:
    """A study's ``--transfer-to``: the ``contenders`` (name -> plan) on the tasks ``to`` (texts of
    :mod:`actlab.execution.tasks`), each the study's ``base`` task retargeted, with ``seeds`` and
    ``train``; nothing searched again. A progress line per run; :func:`transfer` for the rest."""
    tasks = {task_name(t): retarget(base, t) for t in parse_tasks(list(to), base.model)}
    if progress:
        print(
            f"transfer: {', '.join(contenders)} on {', '.join(tasks)}, {len(seeds)} seeds, "
            f"{train.get('epochs')} epochs",
            file=sys.stderr,
            flush=True,
        )
    bar = Progress(len(contenders) * len(tasks) * len(seeds), "transfer runs", enabled=progress)

    def done(what: str, rec: Mapping[str, Any], cached: bool) -> None:
        bar.begin(what)
        bar.finish(finished_text(rec, cached), skipped=cached)

    return transfer(contenders, tasks, seeds, runner, folder, reference, done, **train)


def transfer_table(
    names: list[str],
    tasks: list[str],
    seeds: list[int],
    runs: Mapping[tuple[int, str, int], Mapping[str, Any]],
    reference: str,
) -> dict[str, Any]:
    """Per task, each function's test accuracy over the seeds tested against ``reference`` (the
    two-sample permutation test, Holm-corrected within the task, :func:`~actlab.stats.versus`),
    then the ranking across tasks of the mean test accuracies (:func:`~actlab.stats.ranking`).
    ``runs[task index, name, seed]`` is a run's record (``RunResult.to_dict()``)."""
    per_task: list[dict[str, Any]] = []
    for t, task in enumerate(tasks):
        acc = {n: [runs[t, n, s]["test"].get("accuracy", math.nan) for s in seeds] for n in names}
        settled = {n: converged([result_converged(runs[t, n, s]) for s in seeds]) for n in names}
        tests = versus(
            acc, [(n, reference) for n in names if n != reference], unconverged=[n for n in names if not settled[n]]
        )
        by_name = {v["contender"]: v for v in tests}
        rows = []
        for n in names:
            m, sd, lo, hi = mean_std_ci(acc[n], bounds=ACCURACY)
            row = {"function": n, "test_accuracy": acc[n], "mean": m, "std": sd, "ci_low": lo, "ci_high": hi}
            rows.append({**row, "converged": settled[n], **_verdict(by_name.get(n))})
        per_task.append({"task": task, "rows": rows})
    means = [[r["mean"] for r in t["rows"]] for t in per_task]
    return {
        "functions": names,
        "reference": reference,
        "seeds": seeds,
        "tasks": per_task,
        "ranking": ranking(names, means, reference),
        "test": "per task: two-sample permutation test of mean test accuracy vs the reference, Holm-corrected "
        "within the task; across tasks: Friedman test of the ranks, Holm post-hoc vs the reference",
    }


def _verdict(test: Mapping[str, Any] | None) -> dict[str, Any]:
    if test is None:
        return {"p_value": None, "p_holm": None, "outcome": "reference"}
    return {"p_value": test["p_value"], "p_holm": test["p_holm"], "outcome": test["outcome"]}


def format_ranking(tasks: Sequence[str], means: Sequence[Sequence[float]], rank: Mapping[str, Any]) -> str:
    """The cross-task table as text: per task each function's mean and rank, then the average
    rank, Holm's post-hoc against the reference, Friedman's p-value and the critical difference."""
    names = rank["functions"]
    width = max(12, *(len(n) for n in names))
    cols = [max(14, len(t)) for t in tasks]  # a task's whole name: a cut one could read as another limit
    head = f"{'function':<{width}} " + " ".join(f"{t:>{w}}" for t, w in zip(tasks, cols, strict=True))
    head += f" {'avg rank':>8} {'Holm p':>8}"
    lines = [head, "-" * len(head)]
    post = {v["function"]: v for v in rank["versus_reference"]}
    for j, n in enumerate(names):
        cells = " ".join(f"{_cell(means[t][j], rank['ranks'][t][j]):>{cols[t]}}" for t in range(len(tasks)))
        v = post.get(n)
        verdict = "ref" if n == rank["reference"] else format_p(v["p_holm"]) if v else ""
        mark = f" {v['outcome']}" if v and v["significant"] else ""
        lines.append(f"{n[:width]:<{width}} {cells} {rank['average_rank'][j]:>8.2f} {verdict:>8}{mark}")
    lines.append(ranking_note(rank, len(tasks)))
    return "\n".join(lines)


def _cell(mean: float, rank: float) -> str:
    return f"{mean:.3f} ({rank:g})" if math.isfinite(mean) else f"n/a ({rank:g})"


def ranking_note(rank: Mapping[str, Any], n_tasks: int) -> str:
    """One line under a cross-task table: what the cells are, Friedman's p and the critical difference."""
    cells = "cells: mean test accuracy over the seeds (rank on the task, 1 = best, ties share the average rank)"
    if rank["friedman"] is None:
        return f"{cells}; {rank['note']}"
    f = rank["friedman"]
    return (
        f"{cells}; Friedman chi2 = {f['statistic']:.2f}, p = {format_p(f['p_value'])} over {n_tasks} tasks; "
        f"Nemenyi critical difference {rank['cd']:.2f} at "
        f"alpha {rank['alpha']}; Holm p = post-hoc of the average rank vs {rank['reference']}"
    )


def transfer_text(table: Mapping[str, Any]) -> str:
    """:func:`format_ranking` of a :func:`transfer_table`."""
    means = [[r["mean"] for r in t["rows"]] for t in table["tasks"]]
    return format_ranking([t["task"] for t in table["tasks"]], means, table["ranking"])


def transfer_section(table: Mapping[str, Any]) -> str:
    """A study's printed transfer: a heading line, then :func:`transfer_text`."""
    return (
        f"transfer to other tasks (test accuracy; Holm p of the average rank vs {table['reference']}):\n"
        + transfer_text(table)
    )


__all__ = [
    "format_ranking",
    "ranking_note",
    "transfer",
    "transfer_section",
    "transfer_table",
    "transfer_text",
    "transfer_to",
]
