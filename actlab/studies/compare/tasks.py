"""A comparison over several tasks (``actlab compare --tasks iris,wine/mlp,digits``): the usual
comparison on each task, in its own sub-folder ``out/<dataset>__<model>/`` (same activations,
seeds and training budget; resumed run by run like any comparison), then the ranking of the
activations across the tasks (:func:`actlab.stats.ranking`: average ranks of the mean test
accuracies, Friedman's test, Nemenyi's critical difference, Holm's post-hoc against the baseline).
How a task is written: :mod:`actlab.execution.transfer`."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actlab._io import own_out, prepare_out, write_json_atomic
from actlab.execution import Runner
from actlab.execution.transfer import folder_name, format_ranking, label
from actlab.stats import ranking
from actlab.studies.compare.config import CompareConfig
from actlab.studies.compare.run import run_compare


def task_config(config: CompareConfig, dataset: str, model: str) -> CompareConfig:
    """``config`` on another dataset and model; the model's options only where the model is the same."""
    options = config.model_options if model == config.model else {}
    return dataclasses.replace(config, dataset=dataset, model=model, model_options=dict(options))


def run_tasks(
    config: CompareConfig,
    tasks: Sequence[tuple[str, str]],
    out: str | Path,
    progress: bool = True,
    runner: Runner | None = None,
    data_location: dict[str, Any] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Compare ``config``'s activations on each of ``tasks`` (``(dataset, model)``), each in its
    sub-folder of ``out``, then rank them across the tasks. Returns the ``results.json`` content
    (written to ``out``); the caller writes the reports."""
    out = prepare_out(out)
    own_out(out, "compare", force)
    per_task = []
    for dataset, model in tasks:
        if progress:
            print(f"task {label(dataset, model)}", file=sys.stderr, flush=True)
        cfg = task_config(config, dataset, model)
        sub = folder_name(dataset, model)
        results = run_compare(
            cfg, out / sub, progress=progress, runner=runner, data_location=data_location, force=force
        )
        per_task.append({"task": label(dataset, model), "folder": sub, "results": results})
    results = cross_task(config, per_task)
    write_json_atomic(out / "results.json", results)
    return results


def cross_task(config: CompareConfig, per_task: list[dict[str, Any]]) -> dict[str, Any]:
    """The results of a comparison over tasks: the config, each task's own results and the ranking
    of the activations' mean test accuracies across the tasks."""
    means = [[r["mean"] for r in t["results"]["summary"]] for t in per_task]
    shared = {k: v for k, v in config.to_dict().items() if k not in ("dataset", "model")}  # each task's own
    return {
        "config": {"tasks": [t["task"] for t in per_task], **shared},
        "tasks": per_task,
        "cross_task": {
            "tasks": [t["task"] for t in per_task],
            "means": means,
            **ranking(config.activations, means, config.baseline),
        },
    }


def format_cross_task(results: dict[str, Any]) -> str:
    """The cross-task table as plain text (each task's own table is in its sub-folder)."""
    cross = results["cross_task"]
    return format_ranking(cross["tasks"], cross["means"], cross)


__all__ = ["cross_task", "format_cross_task", "run_tasks", "task_config"]
