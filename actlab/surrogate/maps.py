"""Maps of functions for reports: where each function sits in the surrogate's embedding of the
features at initialisation (two principal components)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actlab._errors import ActlabError
from actlab.surrogate.features import Task
from actlab.surrogate.regressor import Surrogate


def feature_map(task: Task, specs: Sequence[str], accuracies: Sequence[float], data=None) -> list[list[float] | None]:
    """Where each of ``specs`` sits in the surrogate's feature embedding on ``task`` (first two
    principal components; the surrogate is fit on these functions and ``accuracies``), None for a
    function that cannot run in the model. A map of families of functions for reports."""
    sur = Surrogate(task, data)
    ok = [i for i, s in enumerate(specs) if sur.ok(s)]
    if len(ok) < 3:
        raise ActlabError(f"a map needs at least 3 functions that run in model {task.model!r}; {len(ok)} do")
    sur.fit([specs[i] for i in ok], [accuracies[i] for i in ok])
    xy = sur.embedding(list(specs))
    return [[float(v) for v in xy[i]] if i in ok else None for i in range(len(specs))]


def feature_points(task: Task, items: Sequence[tuple[str, str, float]], data=None) -> dict[str, Any]:
    """The map of a report: ``items`` are ``(name, spec, accuracy)``; ``{"points": [{"name",
    "spec", "accuracy", "xy"}], "note"}``, ``xy`` None for a function that cannot run in the
    model, and no points (the note says why) when fewer than 3 can."""
    try:
        xy = feature_map(task, [s for _, s, _ in items], [a for _, _, a in items], data)
    except ActlabError as e:
        return {"points": [], "note": str(e)}
    return {
        "points": [{"name": n, "spec": s, "accuracy": a, "xy": p} for (n, s, a), p in zip(items, xy, strict=True)],
        "note": "first two principal components of the surrogate's embedding of the features at initialisation",
    }
