"""Helpers shared by the benchmark scripts (imported as ``_common`` when a script is run by path).

On a 2-core machine anything else running wrecks 2-thread timings (an OpenMP thread waits for
a descheduled partner), so every script says how busy the CPU was before it started and how
much CPU *other* programs took while it ran.
"""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import time
from collections.abc import Callable

import torch

try:
    import psutil
except ImportError:  # the CPU of running child processes is not seen
    psutil = None

TICKS = os.sysconf("SC_CLK_TCK")


def _busy_seconds() -> float:
    """CPU seconds spent busy by all cores since boot (Linux /proc/stat; NaN elsewhere)."""
    try:
        with open("/proc/stat") as f:
            v = [int(t) for t in f.readline().split()[1:]]
    except OSError:
        return float("nan")
    return (sum(v[:8]) - v[3] - v[4]) / TICKS  # all but idle and iowait (guest time is inside user)


def children_seconds() -> float:
    """User + system CPU seconds of this process's children: those ended and, with psutil, those
    still running with the children they reaped (the fork server reaps the worker processes)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = ru.ru_utime + ru.ru_stime
    if psutil is not None:
        for c in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                t = c.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
    return total


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its children, ended (and, with psutil, running,
    with the children they reaped)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime + children_seconds()


def machine_line(threads: str) -> str:
    """One line: torch version, CPU capability, ``threads`` (as text), cores, and how busy the
    CPU was during one second before the start."""
    b0, t0 = _busy_seconds(), time.monotonic()
    time.sleep(1.0)
    busy = (_busy_seconds() - b0) / ((time.monotonic() - t0) * os.cpu_count())
    line = (
        f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, {threads}, "
        f"{os.cpu_count()} cores; CPU busy before start: {100 * busy:.0f}%"
    )
    if busy > 0.05:
        line += "  (WARNING: another program is using the CPU; timings will be noisy)"
    return line


class OtherLoad:
    """CPU share taken by other programs since creation: all busy CPU time minus this process's
    own and its children's (:func:`cpu_seconds`: worker processes started once count as its own),
    over cores x wall time."""

    def __init__(self):
        self.busy, self.own, self.t = _busy_seconds(), cpu_seconds(), time.monotonic()

    def line(self) -> str:
        wall = (time.monotonic() - self.t) * os.cpu_count()
        other = max(0.0, (_busy_seconds() - self.busy) - (cpu_seconds() - self.own)) / wall
        warn = "  (WARNING: timings are disturbed)" if other > 0.05 else ""
        return f"CPU taken by other programs during the run: {100 * other:.0f}%{warn}"


def timings(fn: Callable[[], object], warmup: int, repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls of ``fn()`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def median_seconds(fn: Callable[[], object], warmup: int, repeats: int) -> float:
    return statistics.median(timings(fn, warmup, repeats))


class Kept:
    """A started runner lent to one study run in place of the ``Runner`` it would make: its
    ``pack`` set for the run, ``close`` left to its owner (so that worker processes start once)."""

    def __init__(self, runner):
        self.runner = runner

    def __call__(self, *, pack: int | None = None, **_: object) -> Kept:
        if pack is not None:
            self.runner.pack = pack
        return self

    def __getattr__(self, name: str):
        return getattr(self.runner, name)

    def close(self) -> None:
        pass
