"""Throughput of evolution fitness evaluations with 1 vs 2 single-thread worker processes.

A batch of ``--tasks`` identical short trainings, each ``evaluate_task`` below (one unit through
``actlab.execution.train_units``, scored as evolve scores it)
on a task from ``actlab.studies.evolve.fitness.make_task(EvolveConfig(), {"input": "relu", "hidden": "relu"})``
(the evolution's own fitness training: mnist1d, 2,000 training examples, MLP, 4 epochs of
batch 32, one torch thread), runs on a ``ProcessPoolExecutor`` (spawn context) of 1 and of 2
workers whose initializer sets ``torch.set_num_threads(1)`` and loads the data.

Process start-up, imports and data loading are excluded: each pool is warmed first, by
submitting rounds of one task per worker until every worker process has finished one task.
The two pools then take turns, ``--rounds`` batches each; the table gives the median
tasks/second ("s/task" is its inverse; "in task" is the median time one evaluation takes
inside its process: when it grows with 2 workers, the cores slow each other down; when it does
not, the gap to 2x is dispatch). For reference the same batch also runs serially in this
process with 2 torch threads (the other way to use both cores). Every evaluation must return
the same fitness (same seed, same data, one thread), which the script checks.

Run (about 75 s on 2 cores):

    .venv/bin/python benchmarks/workers.py
    .venv/bin/python benchmarks/workers.py --quick      # ~30 s smoke run
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

from _common import OtherLoad, machine_line

from actlab.execution import init_worker, load_data, train_units
from actlab.studies.evolve.config import EvolveConfig
from actlab.studies.evolve.fitness import from_record, make_task, unit_of


def evaluate_task(task: dict) -> dict:
    """One fitness evaluation, as evolve makes it, with the seconds it took inside its process."""
    t0 = time.perf_counter()
    rec = train_units([unit_of(task, "task").to_dict()])[0]
    return {**from_record(rec, task), "seconds": time.perf_counter() - t0}


TARGET = 1.8


def _init(task: dict) -> None:
    init_worker(1)  # torch.set_num_threads(1)
    load_data(task)  # cached per process


def _run(task: dict) -> tuple[int, float, float]:
    r = evaluate_task(task)
    return os.getpid(), r["fitness"], r["seconds"]


def warm(pool: ProcessPoolExecutor, n: int, task: dict) -> None:
    """Until every one of the ``n`` workers has run a task (a fast worker may take two)."""
    seen: set[int] = set()
    for _ in range(20):
        seen.update(pid for pid, _, _ in pool.map(_run, [task] * n))
        if len(seen) >= n:
            return
    raise RuntimeError(f"only {len(seen)} of {n} workers ran a warm-up task")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=32, help="tasks per batch")
    ap.add_argument("--rounds", type=int, default=5, help="timed batches per configuration")
    ap.add_argument(
        "--quick", action="store_true", help="smoke run: 8 tasks, 2 rounds (checks the script; numbers are rough)"
    )
    args = ap.parse_args()
    if args.quick:
        args.tasks, args.rounds = 8, 2
    task = make_task(EvolveConfig(), {"input": "relu", "hidden": "relu"})
    print(machine_line("1 torch thread per worker"))
    others = OtherLoad()
    tr = task["train"]
    print(
        f"task: {task['dataset']} {task['data_options']}, {task['model']}, {tr['epochs']} epochs, batch "
        f"{tr['batch_size']}, {tr['threads']} thread; {args.tasks} tasks per batch, median of {args.rounds} batches"
    )

    ctx = mp.get_context("spawn")
    pools = {n: ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init, initargs=(task,)) for n in (1, 2)}
    t0 = time.perf_counter()
    for n, pool in pools.items():
        warm(pool, n, task)
    print(f"pools started and warmed in {time.perf_counter() - t0:.1f} s (not counted)")

    serial_task = {**task, "train": {**tr, "threads": 2}}
    load_data(task)
    evaluate_task(serial_task)  # warm this process too
    rates: dict[str, list[float]] = {
        "1 worker process, 1 thread": [],
        "2 worker processes, 1 thread each": [],
        "this process, 2 threads (serial)": [],
    }
    inner: dict[str, list[float]] = {name: [] for name in rates}  # seconds inside evaluate_task
    fitness: set[float] = set()
    for _ in range(args.rounds):
        for n, name in ((1, "1 worker process, 1 thread"), (2, "2 worker processes, 1 thread each")):
            t = time.perf_counter()
            out = list(pools[n].map(_run, [task] * args.tasks))
            rates[name].append(args.tasks / (time.perf_counter() - t))
            fitness.update(f for _, f, _ in out)
            inner[name] += [s for _, _, s in out]
        t = time.perf_counter()
        for _ in range(args.tasks):
            inner["this process, 2 threads (serial)"].append(evaluate_task(serial_task)["seconds"])
        rates["this process, 2 threads (serial)"].append(args.tasks / (time.perf_counter() - t))
    for pool in pools.values():
        pool.shutdown()

    base = statistics.median(rates["1 worker process, 1 thread"])
    print(
        f"\n{'configuration':<36} {'tasks/s':>8} {'min':>7} {'max':>7} {'s/task':>7} {'in task':>8} {'x 1 worker':>10}"
    )
    print("-" * 89)
    for name, r in rates.items():
        med = statistics.median(r)
        print(
            f"{name:<36} {med:8.3f} {min(r):7.3f} {max(r):7.3f} {1 / med:7.3f} "
            f"{statistics.median(inner[name]):8.3f} {med / base:10.2f}"
        )
    print(
        f"\nevery worker evaluation gave the same fitness: {'yes' if len(fitness) == 1 else f'NO ({sorted(fitness)})'}"
    )
    ratio = statistics.median(rates["2 worker processes, 1 thread each"]) / base
    print(others.line())
    print(f"RATIO 2 workers / 1 worker {ratio:.2f} (target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'})")


if __name__ == "__main__":
    main()
