"""sympy in a child process with a hard time limit: :func:`ask`.

sympy's simplify can run for minutes on a tree of five nodes, and pure-Python work cannot be
stopped safely from outside within the same process. So sympy runs in a child process
(:mod:`._child`): one per process that needs it, started on first use and reused. A request may
carry ``cpu_seconds``: the child stops its own work after that much CPU time and answers
``{"timeout": True}``, staying up. Past the wall-clock limit of :func:`ask` the child is killed
(and reaped); the next request starts a fresh one. The two speak
JSON lines over the child's stdin and stdout: a request carries the expression as actlab's
canonical text, which the child reads with actlab's own parser; a reply carries strings, numbers
and flags. Nothing is pickled or evaluated.

The child is a plain ``subprocess`` of ``sys.executable``, not a ``multiprocessing`` process, so it
also works from daemonic processes (Dask's workers, a pool's workers), which multiprocessing
refuses children. One thread at a time talks to it (a lock); other threads wait their turn. It
dies with its parent: it exits when its stdin closes (which the kernel does when the parent exits
or is killed), the parent kills it at exit, and a forked process closes its copies of the pipes
and starts its own. Where no child can start (no ``sys.executable``, a sandbox without
processes), every request answers ``{"failed": why}`` at once and formulas stay unsimplified.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from actlab._errors import first_line

STARTUP_SECONDS = 30.0  # for the child to load sympy and say that it is ready
RETRY_SECONDS = 60.0  # after a failed start, requests fail at once for this long before the next try
MAX_REPLY = 16 << 20  # bytes
CHILD = Path(__file__).with_name("_child.py")


class _Failed(Exception):
    """No child answered; the message says why (one line)."""


class SympyProcess:
    """The persistent child that runs sympy, used by one thread at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._ready = False  # the child said that it has loaded sympy
        self._pending = b""  # read from the child, not yet a whole line
        self._retry_at = 0.0
        self._why = ""
        self._inherited: list[subprocess.Popen] = []  # after a fork: the parent's child, never touched
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)
        atexit.register(self._stop)

    @property
    def pid(self) -> int | None:
        """The running child's process id, or None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def ask(self, request: dict[str, Any], seconds: float) -> dict[str, Any]:
        """The child's reply to ``request``; ``{"timeout": True}`` where it takes longer than
        ``seconds`` (the child is killed); ``{"failed": why}`` where no child could answer."""
        with self._lock:
            try:
                proc = self._running()
                self._send(proc, request)
                reply = self._receive(proc, seconds)
            except _Failed as e:
                self._stop()
                return {"failed": str(e)}
            except BaseException:  # interrupted mid-request (Ctrl-C): its reply would come late
                self._stop()
                raise
            if reply is None:
                self._stop()
                return {"timeout": True}
            return reply

    def start(self) -> None:
        """Starts the child, if none runs, without waiting for it: it loads sympy while this process
        goes on; the next :meth:`ask` waits for it to be ready."""
        if not self._lock.acquire(blocking=False):
            return  # another thread is using it
        try:
            if self._proc is None or self._proc.poll() is not None:
                self._stop()
                self._spawn()
        except _Failed:
            pass  # the next ask answers why
        finally:
            self._lock.release()

    def _running(self) -> subprocess.Popen:
        if self._proc is None or (self._ready and self._proc.poll() is not None):
            self._stop()
            self._spawn()
        if not self._ready:
            try:
                hello = self._receive(self._proc, STARTUP_SECONDS)
            except _Failed as e:
                self._failed_start(str(e))
            if hello is None:
                self._failed_start(f"its process did not start within {STARTUP_SECONDS:g} s")
            if hello.get("ready") is not True:
                self._failed_start(str(hello.get("error", "its process did not start")))
            self._ready = True
        return self._proc

    def _spawn(self) -> None:
        if time.monotonic() < self._retry_at:
            raise _Failed(self._why)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, str(CHILD)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
            )
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            self._failed_start(f"cannot start a process: {first_line(e)}")
        self._ready = False

    def _failed_start(self, why: str) -> None:
        """Raises :class:`_Failed`; requests fail at once with ``why`` for RETRY_SECONDS."""
        self._why, self._retry_at = why, time.monotonic() + RETRY_SECONDS
        raise _Failed(why)

    def _send(self, proc: subprocess.Popen, request: dict[str, Any]) -> None:
        data = json.dumps(request).encode() + b"\n"
        try:
            while data:
                data = data[proc.stdin.write(data) :]
        except OSError as e:
            raise _Failed(f"its process ended ({first_line(e)})") from None

    def _receive(self, proc: subprocess.Popen, seconds: float) -> dict[str, Any] | None:
        """The child's next line, or None where it takes longer than ``seconds``."""
        deadline = time.monotonic() + seconds
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ)
                while b"\n" not in self._pending:
                    left = deadline - time.monotonic()
                    if left <= 0 or not selector.select(left):
                        return None
                    chunk = os.read(proc.stdout.fileno(), 1 << 16)
                    if not chunk:
                        raise _Failed("its process ended")
                    self._pending += chunk
                    if len(self._pending) > MAX_REPLY:
                        raise _Failed("its reply was too long")
        except OSError as e:
            raise _Failed(f"cannot read its reply ({first_line(e)})") from None
        line, _, self._pending = self._pending.partition(b"\n")
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise _Failed("its reply was unreadable")
        return reply

    def _stop(self) -> None:
        """Kills the child, if any, and reaps it."""
        proc, self._proc, self._pending, self._ready = self._proc, None, b"", False
        if proc is None:
            return
        try:
            proc.kill()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        _close(proc)

    def _after_fork(self) -> None:
        """In a forked process: the child is the parent's. Close this process's copies of its pipes
        (so that it still sees its stdin close when the parent exits) and leave it alone."""
        self._lock = threading.Lock()
        proc, self._proc, self._pending, self._ready = self._proc, None, b"", False
        if proc is not None:
            _close(proc)
            self._inherited.append(proc)  # kept: never waited for or killed from here


def _close(proc: subprocess.Popen) -> None:
    for pipe in (proc.stdin, proc.stdout):
        with contextlib.suppress(OSError):
            pipe.close()


_SYMPY = SympyProcess()


def start() -> None:
    """Starts the sympy process without waiting for it (see :meth:`SympyProcess.start`)."""
    _SYMPY.start()


def ask(request: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The sympy process's reply to ``request`` (see :meth:`SympyProcess.ask`)."""
    return _SYMPY.ask(request, seconds)


def pid() -> int | None:
    """The process id of the running sympy process, or None."""
    return _SYMPY.pid
