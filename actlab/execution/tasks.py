"""How a study names several tasks: ``--tasks`` of compare and evolve, ``--transfer-to``.

A task is ``DATASET[:LIMIT][/MODEL]``, several separated by commas (or given as a list of such
texts, or of tables ``{"dataset", "model", "limit"}``):

* ``DATASET``: a built-in name, ``csv:PATH``, ``npz:PATH`` or a loader of yours
  (``path/to/file.py:function``); it may hold ``/``, so the text is cut at the first ``/`` that
  has a dataset before it and a model after it;
* ``LIMIT``: training examples of a built-in dataset (``fashion-mnist:10000``), else the study's
  ``--limit``;
* ``MODEL``: a built-in name or a model of yours (``nets/net.py:build``); else the study's
  ``--model``, with its options (a task's own model trains with its defaults).

Every other setting (epochs, seeds, the data seed) is the study's, the same for every task.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from actlab._errors import ActlabError
from actlab._refs import SOURCE, is_data_file, is_ref, source_hash
from actlab.data import names as dataset_names
from actlab.execution.units import slug
from actlab.models import names as model_names

MAX_TASKS = 32
TASKS_HELP = (
    "DATASET[:LIMIT][/MODEL], separated by commas: LIMIT training examples of a built-in dataset, MODEL a "
    "built-in model or yours (path/to/file.py:function; without one, --model trains)"
)
_LIMIT = re.compile(r"^(.+):([0-9]+)$")


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _builtin(text: str) -> bool:
    return _norm(text) in {_norm(n) for n in dataset_names()}


def _is_dataset(text: str) -> bool:
    m = _LIMIT.match(text)
    return ":" in text or _builtin(m.group(1) if m else text)


def _is_model(text: str) -> bool:
    return text in model_names() or is_ref(text)


def split_task(text: str) -> tuple[str, str | None]:
    """``(dataset, model)`` of one task, ``model`` None where it names none (see the module docstring).

    >>> split_task("wine/mlp"), split_task("csv:data/x.csv"), split_task("data/load.py:load/nets/n.py:build")
    (('wine', 'mlp'), ('csv:data/x.csv', None), ('data/load.py:load', 'nets/n.py:build'))
    """
    text = text.strip()
    for i, c in enumerate(text):
        if c == "/" and _is_dataset(text[:i]) and _is_model(text[i + 1 :]):
            return text[:i], text[i + 1 :]
    return text, None


def _item(item: Any, model: str) -> dict[str, Any]:
    """One task of :func:`parse_tasks` as ``{"dataset", "model", "limit"}``."""
    if isinstance(item, Mapping):
        dataset, own, limit = item.get("dataset"), item.get("model"), item.get("limit")
    elif isinstance(item, str) and item.strip():
        dataset, own = split_task(item)
        m = _LIMIT.match(dataset)
        dataset, limit = (m.group(1), int(m.group(2))) if m and _builtin(m.group(1)) else (dataset, None)
    else:
        raise ActlabError(
            f"a task is DATASET[:LIMIT][/MODEL], e.g. digits or fashion-mnist:10000/seed-cnn; got {item!r}"
        )
    if not isinstance(dataset, str) or not _is_dataset(dataset):
        raise ActlabError(
            f"task {item!r}: {dataset!r} is no dataset ({', '.join(dataset_names())}, csv:PATH, npz:PATH or a loader "
            "of yours, path/to/file.py:FUNCTION); a task is DATASET[:LIMIT][/MODEL]"
        )
    if own is not None and (not isinstance(own, str) or not _is_model(own)):
        raise ActlabError(
            f"task {item!r}: {own!r} is no model ({', '.join(model_names())} or path/to/file.py:FUNCTION)"
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ActlabError(f"task {item!r}: a task's limit is a whole number of training examples from 1")
    return {"dataset": dataset.strip(), "model": (own or model).strip(), "limit": limit}


def parse_tasks(value: Any, model: str) -> list[dict[str, Any]]:
    """The tasks of ``value`` (see the module docstring) as ``[{"dataset", "model", "limit"}, ...]``,
    ``model`` where a task names none; each task once, 1 to :data:`MAX_TASKS` of them. A name that is
    no dataset is one line now, before any training (whether a dataset loads is its loader's
    question, when its task trains)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not 1 <= len(items) <= MAX_TASKS:
        raise ActlabError(f"tasks: 1 to {MAX_TASKS} tasks separated by commas, e.g. mnist1d,wine/mlp; got {value!r}")
    tasks = [_item(t, model) for t in items]
    names = [task_name(t) for t in tasks]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise ActlabError(f"task {twice!r} is listed twice; list each once")
    return tasks


def _source(ref: str, what: str) -> dict[str, Any]:
    """``{"source": {"sha256": ...}}`` for a model or loader of the user's, else nothing."""
    if not is_ref(ref) or is_data_file(ref):
        return {}
    digest = source_hash(ref, what)
    return {SOURCE: {"sha256": digest}} if digest is not None else {}


def task_name(task: Mapping[str, Any]) -> str:
    """A task as tables print it, ``DATASET[:LIMIT]/MODEL``."""
    limit = f":{task['limit']}" if task.get("limit") is not None else ""
    return f"{task['dataset']}{limit}/{task['model']}"


def folder_name(task: Mapping[str, Any]) -> str:
    """A task's own sub-folder: a file-name-safe, collision-free name."""
    return slug(task_name(task).replace("/", "__"))


def retarget(base: Any, task: Mapping[str, Any]) -> Any:
    """``base`` (a study's :class:`Task` or config: a dataclass with ``dataset``, ``model``,
    ``data_options``, ``model_options``) on ``task``: the same training and data seed; the limit
    the task's where it gives one; the model's options only where the model is the same. A model or
    loader of the user's that only the task names gets its file's hash (``source``), so that its
    runs' keys change with the file, as the study's own do."""
    options = dict(base.model_options) if task["model"] == base.model else _source(task["model"], "model builder")
    data = {k: v for k, v in base.data_options.items() if k != SOURCE}
    if task["dataset"] == base.dataset and SOURCE in base.data_options:
        data[SOURCE] = base.data_options[SOURCE]
    elif task["dataset"] != base.dataset:
        data.update(_source(task["dataset"], "data loader"))
    if task.get("limit") is not None:
        data["limit"] = task["limit"]
    return dataclasses.replace(
        base, dataset=task["dataset"], model=task["model"], model_options=dict(options), data_options=data
    )


__all__ = ["MAX_TASKS", "TASKS_HELP", "folder_name", "parse_tasks", "retarget", "split_task", "task_name"]
