"""Helpers shared by the benchmark scripts (imported as ``_common`` when a script is run by path)."""

from __future__ import annotations

import os
import statistics
import time
from typing import Callable

import torch


def busy_share(seconds: float = 1.0) -> float:
    """Share of all CPU time spent outside the idle state over ``seconds`` (Linux /proc/stat),
    sampled before a benchmark starts: anything far above 0 means another program is running and
    the timings that follow are not trustworthy. NaN where /proc/stat is missing."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(t) for t in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait

    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except OSError:
        return float("nan")
    return 1.0 - (i1 - i0) / max(t1 - t0, 1)


def machine_line(threads: str) -> str:
    """One line: torch version, CPU capability, ``threads`` (as text), cores, and how busy the CPU was."""
    busy = busy_share()
    line = (f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, {threads}, "
            f"{os.cpu_count()} cores; CPU busy before start: {100 * busy:.0f}%")
    if busy > 0.1:
        line += "  (WARNING: another program is using the CPU; timings will be noisy)"
    return line


def median_seconds(fn: Callable[[], object], warmup: int, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
