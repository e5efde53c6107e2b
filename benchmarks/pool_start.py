"""How long a pool of worker processes takes to start and to end: spawned, as before 2026-12-07,
against actlab's worker processes today (:func:`actlab._processes.worker_context`: on Linux forked
from a server that imported the training code once), each pool made several times in one process.

    .venv/bin/python benchmarks/pool_start.py [--workers 2] [--pools 3]

A pool has started when each of its workers has built an optimizer (what its first training
does first). CPU is that of every worker process and of the fork server, in user + system time,
with psutil (without it, only the processes that have ended).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor, wait
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import children_seconds, machine_line  # noqa: E402

from actlab._processes import worker_context  # noqa: E402
from actlab.execution import init_worker  # noqa: E402


def first_optimizer() -> int:
    import torch

    torch.optim.Adam(torch.nn.Linear(2, 2).parameters())
    return 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pools", type=int, default=3, help="pools made one after the other, per start method")
    a = ap.parse_args()
    print(machine_line("1 torch thread per worker"))
    contexts = {"spawned": mp.get_context("spawn"), "today": worker_context()}
    print(f"today's workers start by {contexts['today'].get_start_method()}; {a.workers} workers a pool")
    print(f"{'':8} {'pool':>4} {'start s':>8} {'end s':>6} {'CPU s':>6}")
    for name, ctx in contexts.items():
        for i in range(a.pools):
            c0, t0 = children_seconds(), time.perf_counter()
            pool = ProcessPoolExecutor(a.workers, mp_context=ctx, initializer=init_worker, initargs=(1,))
            wait([pool.submit(first_optimizer) for _ in range(a.workers)])
            t1 = time.perf_counter()
            pool.shutdown(wait=True)
            t2 = time.perf_counter()
            time.sleep(0.2)  # the server reaps its workers
            print(f"{name:8} {i + 1:>4} {t1 - t0:>8.2f} {t2 - t1:>6.2f} {children_seconds() - c0:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
