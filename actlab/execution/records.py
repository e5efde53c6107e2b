"""A unit's record: what a finished unit leaves in a study's folder as ``<name>.json``, how it is
read back (a damaged one is set aside and the unit trains again), and how it reads in a progress
line.

A record is ``{"format": "actlab-unit", "key", "unit", "result": RunResult dict, "packed": K,
"trained_by"}``, or ``{..., "error": "one line"}`` for a unit that could not train (kept in
memory, never written: a rerun tries it again). What a valid ``result`` is, is
:meth:`actlab.training.RunResult.check`'s to say.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from actlab._errors import ActlabError
from actlab._io import oversized
from actlab.execution.units import FORMAT_UNIT, Unit
from actlab.training import RunResult, score_line


def unit_record(u: Unit, trained: Mapping[str, Any]) -> dict[str, Any]:
    """The record of ``u`` from what its worker returned (``{"result", "packed"}`` or
    ``{"error"}``), with its key, its unit and which process trained it."""
    return {
        "format": FORMAT_UNIT,
        "key": u.key(),
        "unit": u.to_dict(),
        **trained,
        "trained_by": f"{socket.gethostname()}:{os.getpid()}",
    }


def read_unit(folder: Path, u: Unit) -> dict[str, Any] | None:
    """The record of ``u`` in ``folder``, or None if it has not finished there. A file that is
    not a usable unit record (unreadable, another format, a result without its numbers) counts as
    not finished and is trained again, the file kept as ``NAME.json.damaged``; a record of another
    unit under the same name is refused."""
    path = folder / f"{u.name}.json"
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, MemoryError):
        d = None
    if not _usable(d):
        # Damaged (or foreign): it counts as not finished, and the unit trains again. Nothing is
        # lost: the file is kept beside as NAME.json.damaged, and every finished run stays.
        _set_aside(path)
        return None
    if d.get("key") != u.key():
        why = u.code_changed(d.get("unit"))
        raise ActlabError(
            f"{str(folder)!r} holds a run {u.name!r} of a different configuration{f' ({why})' if why else ''}; "
            f"use a new --out, or delete {str(folder)!r} to start over"
        )
    return d


def _usable(d: Any) -> bool:
    """Whether ``d`` is a unit record actlab wrote: its format and key, and a usable result or a
    one-line error; nothing larger than actlab writes."""
    return (
        isinstance(d, dict)
        and d.get("format") == FORMAT_UNIT
        and isinstance(d.get("key"), str)
        and (isinstance(d["error"], str) if "error" in d else RunResult.check(d.get("result")))
        and oversized(d) is None
    )


def _set_aside(path: Path) -> None:
    """Keep a damaged run file as ``NAME.json.damaged`` (its rerun then writes a fresh NAME.json)."""
    # OSError: gone meanwhile (another process set it aside), or a read-only folder: the rerun says so
    with contextlib.suppress(OSError):
        os.replace(path, path.with_name(path.name + ".damaged"))


def finished_text(record: Mapping[str, Any], cached: bool, score: str = "test") -> str:
    """How a finished unit reads in a progress line: skipped, its error, or its status and its
    ``score`` (``"test"``: test accuracy; ``"val"``: the score the studies select on)."""
    if cached:
        return "already done, skipped"
    if "error" in record:
        return f"error: {record['error']}"
    r = record["result"]
    if score != "test":
        return f"{r['status']}, {score_line(r)}"
    acc = r["test"].get("accuracy")
    shown = f"{acc:.3f}" if isinstance(acc, (int, float)) and math.isfinite(acc) else "n/a"
    return f"{r['status']}, test acc {shown}"


__all__ = ["finished_text", "read_unit", "unit_record"]
