"""Claims: how several processes on one folder split the work between them.

A claim is a small JSON file created with ``O_CREAT | O_EXCL`` (exactly one process can create
it) holding the claimant's pid, host, process start time and the time. Whoever creates it does the
work, writes the result atomically, then releases (removes) the claim. A claim whose process is
dead (same host; pid gone, a zombie, or reused by a process started later) is taken over. A claim
from another host is respected: only its own machine can tell whether it is alive.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from actlab._io import pid_alive, process_start, read_json_table

CLAIM_FORMAT = "actlab-claim"
UNREADABLE_CLAIM_AGE = 10.0  # seconds: an empty or garbled claim older than this is stale


def claim(path: str | Path) -> bool:
    """Try to claim the work that ``path`` stands for: True if this process created the claim
    file (and must :func:`release` it when the work is written), False if a live process holds
    it. A stale claim (see the module docstring) is taken over."""
    path = Path(path)
    me = json.dumps(
        {
            "format": CLAIM_FORMAT,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "start": process_start(os.getpid()),
            "time": time.time(),
            "token": os.urandom(8).hex(),
        }
    )
    for _ in range(5):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            raw = _read_bytes(path)
            if raw is None:
                continue  # released meanwhile: try again
            if not _stale(path, raw):
                return False
            _take_over(path, raw)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(me)
        return True
    return False


def release(path: str | Path) -> None:
    """Remove this process's claim ``path`` (a claim of another process is left alone)."""
    path = Path(path)
    d = claim_holder(path)
    if d is not None and (d.get("pid") != os.getpid() or d.get("host") != socket.gethostname()):
        return
    path.unlink(missing_ok=True)


def claim_holder(path: str | Path) -> dict[str, Any] | None:
    """What a claim file says (pid, host, start, time), or None if it is absent or unreadable."""
    return read_json_table(path)


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _stale(path: Path, raw: bytes) -> bool:
    try:
        d = json.loads(raw)
        pid, host = int(d["pid"]), str(d["host"])
    except (ValueError, KeyError, TypeError, RecursionError):  # being written this instant, or junk
        try:  # junk once it has aged
            return time.time() - path.stat().st_mtime > UNREADABLE_CLAIM_AGE
        except FileNotFoundError:
            return False
    if host != socket.gethostname():
        return False
    return not pid_alive(pid, d.get("start"))


def _take_over(path: Path, raw: bytes) -> None:
    """Remove the stale claim ``raw`` at ``path``, but never a new claim made meanwhile: move it
    aside atomically, and if what was moved is not the stale claim, put it back."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # another process moved it first
    try:
        if _read_bytes(aside) != raw:
            with contextlib.suppress(FileExistsError):  # yet another claim exists: that one then holds it
                os.link(aside, path)
    finally:
        aside.unlink(missing_ok=True)


__all__ = ["CLAIM_FORMAT", "claim", "claim_holder", "release"]
