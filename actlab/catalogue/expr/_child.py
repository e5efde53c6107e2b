"""The sympy process, ``python .../_child.py``, started by :mod:`._process`.

It reads one JSON request a line from stdin and writes one JSON reply a line to stdout
(:func:`actlab.catalogue.expr.sympy.work`); its first line says that it is ready. It exits at once
when stdin closes, even in the middle of work: the process that started it has exited or was
killed. Ctrl-C in a terminal does not stop it (its parent decides).

It runs as a file, not with ``python -m``: ``-m`` would run ``actlab/__init__.py``, which imports
torch and the whole of actlab (about 2 s). Instead the packages above this folder are registered
empty, and only the expression language (tree, parse, sympy: NumPy and sympy) is imported.
"""

import json
import os
import queue
import signal
import sys
import threading
import types
from pathlib import Path


def _bare_packages() -> None:
    """``actlab``, ``actlab.catalogue`` and ``actlab.catalogue.expr`` as empty packages of this folder's
    code: their modules import without running the packages' ``__init__``."""
    here = Path(__file__).resolve().parent
    if sys.path and Path(sys.path[0] or ".").resolve() == here:
        del sys.path[0]  # this folder's modules (one is named sympy) are actlab's, never top-level ones
    for name, folder in (
        ("actlab", here.parents[1]),
        ("actlab.catalogue", here.parent),
        ("actlab.catalogue.expr", here),
    ):
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]
        sys.modules[name] = package


def _read(requests: queue.SimpleQueue) -> None:
    for line in sys.stdin.buffer:
        requests.put(line)
    os._exit(0)  # the parent is gone (or let this process go): stop now, even in the middle of sympy's work


class _OverBudget(BaseException):
    """The request used its CPU seconds (a BaseException: sympy's own ``except Exception`` lets it pass)."""


def _over_budget(signum, frame):
    raise _OverBudget


def _within(budget, work, request: dict) -> dict:
    """``work(request)`` stopped after ``budget`` seconds of this process's CPU time (``{"timeout":
    True}``), a limit that does not move with how busy the machine is, as a wall-clock one would;
    where the platform has no CPU timer, no limit here (the parent's wall-clock limit holds)."""
    timer = getattr(signal, "ITIMER_PROF", None)
    if not budget or timer is None:
        return work(request)
    signal.signal(signal.SIGPROF, _over_budget)
    try:
        signal.setitimer(timer, float(budget), 0.05)  # then every 50 ms, should sympy swallow one
        return work(request)
    except _OverBudget:
        return {"timeout": True}
    finally:
        signal.setitimer(timer, 0)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes to stderr, never into the replies

    def send(reply: dict) -> None:
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()

    _bare_packages()
    from actlab._errors import first_line

    try:
        import sympy  # noqa: F401 - loaded before 'ready', so no request's time limit pays for it

        from actlab.catalogue.expr.sympy import work
    except Exception as e:  # e.g. sympy missing: the parent shows formulas unsimplified, with this note
        send({"error": f"cannot load sympy: {first_line(e)}"})
        return
    requests: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=_read, args=(requests,), daemon=True).start()
    send({"ready": True})
    while True:
        line = requests.get()
        try:
            request = json.loads(line)
            reply = _within(request.pop("cpu_seconds", None), work, request)
        except _OverBudget:  # the timer fired as the work returned
            reply = {"timeout": True}
        except Exception as e:  # sympy refused or gave up: the parent shows the expression as built
            reply = {"error": first_line(e)}
        send(reply)


if __name__ == "__main__":
    main()
