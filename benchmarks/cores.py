"""Wall time, CPU time and cores busy of one command, every process it starts included.

    .venv/bin/python benchmarks/cores.py [--repeat N] -- actlab evolve --dataset mnist1d ...

CPU is user + system time of the command and of every process it started, also of those that
outlive it or lose their parent first: this process makes itself their reaper (Linux
``PR_SET_CHILD_SUBREAPER``), waits for every one of them and reads the resource usage of its
children. The command's output is not shown. ``/usr/bin/time`` misses a process that ends after
the command's main process, such as the fork server of its worker processes and what that
server reaped. Cores busy = CPU / wall, the wall time running until the last of them ended; the
line also says when the command's own process ended (a shell's prompt comes back then).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def measure(command: list[str]) -> tuple[float, float, int, float]:
    """Wall seconds, CPU seconds and exit status of ``command`` and all it started, and the wall
    seconds until the command's own process ended."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status = proc.wait()
    own = time.perf_counter() - t0
    while True:  # the orphans re-parented to this process, until none is left
        try:
            os.wait()
        except ChildProcessError:
            break
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, status, own


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="run the command this many times (default 1)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to measure after --")
    if not sys.platform.startswith("linux"):
        parser.error("needs Linux (PR_SET_CHILD_SUBREAPER)")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        parser.error(f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}")
    for i in range(args.repeat):
        wall, cpu, status, own = measure(command)
        print(
            f"run {i + 1}: {wall:.2f} s wall, {cpu:.2f} CPU-s, {cpu / wall:.2f} cores busy, exit status {status}"
            f" (its own process ended at {own:.2f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
