"""Claims: how several processes on one folder split the work between them.

A claim is a small JSON file holding the claimant's pid, host, process start time and the time. It
is written beside its place and linked into it, so exactly one process can create it and nobody
reads it half written. Whoever creates it does the work, writes the result atomically, then
releases (removes) the claim. A claim whose process is dead (same host; pid gone, a zombie, or
reused by a process started later) is taken over. A claim from another host is respected: only
its own machine can tell whether it is alive.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
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
    ).encode()
    for _ in range(5):
        if _create(path, me):
            return True
        raw = _read_bytes(path)
        if raw is None:
            continue  # released meanwhile: try again
        if not _stale(path, raw):
            return False
        _take_over(path, raw)
    return False


def _create(path: Path, content: bytes) -> bool:
    """Create ``path`` holding ``content`` if it does not exist, atomically: the claim is written
    beside it and linked into place (a link never replaces a file), so nobody ever reads a claim
    half written."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.draft")
    try:
        draft.write_bytes(content)
        os.link(draft, path)
        return True
    except FileExistsError:
        return False
    finally:
        draft.unlink(missing_ok=True)


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
    """Remove the stale claim ``raw`` at ``path``, never a new claim made meanwhile. Take-overs in
    one folder are serialised by an exclusive lock on its ``.claims.lock`` (the kernel drops the
    lock of a process that dies), and the claim is read again under it: only the very claim
    judged stale is removed. Whoever then creates the claim first holds it."""
    with _folder_lock(path.parent):
        if _read_bytes(path) == raw:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    fd = os.open(folder / ".claims.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


__all__ = ["CLAIM_FORMAT", "claim", "claim_holder", "release"]
