"""How actlab's worker processes start (the runner's workers and a search's processes).

On Linux they are forked from a fork server (``multiprocessing``'s "forkserver", Python's default
start method there since 3.14) that imports :data:`PRELOAD` once, when it starts (through
:mod:`actlab._preload`: the garbage collector off, what it imported frozen out of its sight): a
worker is ready in milliseconds instead of importing torch and actlab itself (1-2 s of CPU each),
in this pool and every later one of the process, and it ends at once. Elsewhere (macOS, Windows) they are spawned,
and each imports what it needs. Either way a worker is a fresh process with its parent's
``sys.path`` and working folder, and takes its parent's environment variables as they are when
it is made (:func:`adopt_environ`), since the server's may be older.

The server ends at once when the process that started it ends (:data:`ENDS_AT_ONCE`): Python's
own teardown of the torch it imported took about 1 s of CPU after every command, and kept the
command's output open to whoever read it to its end.

This module imports neither torch nor actlab's training code, so that :func:`start_server` can
set the server importing them while the command imports its own.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing as mp
import os
import sys
from multiprocessing.context import BaseContext

#: What the fork server imports once for every worker it starts: the training code, and
#: ``torch._dynamo``, which torch's optimizers import when the first one is built (about 1 s).
#: The server imports them through :mod:`actlab._preload`, with the garbage collector off.
PRELOAD = ["actlab.execution.worker", "torch._dynamo"]


def worker_context() -> BaseContext:
    """The ``multiprocessing`` context worker processes start from (see the module docstring)."""
    if not sys.platform.startswith("linux"):
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["actlab._preload"])  # read when the server starts; a running server keeps its own
    return ctx


def adopt_environ(environ: dict[str, str]) -> None:
    """Make this worker's environment variables ``environ``, its parent's (``dict(os.environ)``
    when the worker was made): a forked worker has the fork server's, which may be older."""
    if dict(os.environ) != environ:
        os.environ.clear()
        os.environ.update(environ)


def _in_fork_server() -> bool:
    """Whether this module is being imported by ``multiprocessing``'s fork server, as it imports
    :data:`PRELOAD` (its ``main`` is on the stack)."""
    server = sys.modules.get("multiprocessing.forkserver")
    if server is None:
        return False
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code is server.main.__code__:
            return True
        frame = frame.f_back
    return False


def _end_now() -> None:
    """The fork server's exit: the exit handlers registered after this one have run; the
    interpreter is not torn down (workers, forked from the server, end the same way)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


#: True in the fork server alone: when the process that started it ends, the server ends at once.
ENDS_AT_ONCE = _in_fork_server()
if ENDS_AT_ONCE:
    atexit.register(_end_now)


def start_server() -> None:
    """Start the fork server now, where there is one (Linux): it imports :data:`PRELOAD` in the
    background, and the first worker process starts without waiting for that."""
    if worker_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


__all__ = ["ENDS_AT_ONCE", "PRELOAD", "adopt_environ", "start_server", "worker_context"]
