"""Where parts of units train: this process, worker processes, or a Dask cluster. Each
executor takes parts (lists of units as dicts) and returns futures of their records; its
``capacity`` is how many parts may be in flight at once.

Worker processes start as :func:`actlab._processes.worker_context` says: on Linux from a fork
server that imported the training code once, elsewhere spawned (each imports it itself).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any, Protocol

import torch

from actlab._errors import ActlabError, first_line
from actlab._processes import adopt_environ, worker_context
from actlab.execution.worker import train_units

Part = list[dict[str, Any]]  # units as dicts, trained together by one worker


class Executor(Protocol):
    name: str
    capacity: int

    def submit(self, part: Part) -> Any: ...  # a future (concurrent.futures or Dask) of train_units(part)

    def next_done(self, futures: Iterable[Any]) -> Any: ...  # one of ``futures`` that is done

    def close(self) -> None: ...


def make_executor(workers: int, dask: str | None, threads: int | None, dask_timeout: float) -> Executor:
    """A Dask cluster's client if ``dask`` is an address, ``workers`` processes if more than one,
    else this process."""
    if dask:
        return _Dask(dask, dask_timeout)
    if workers > 1:
        return _Processes(workers, threads)
    return _Serial()


def init_worker(threads: int | None, environ: dict[str, str] | None = None) -> None:
    """Initialiser of local worker processes: ``threads`` torch threads each (default one: no
    oversubscription), and ``environ``, the environment variables of the process that made the
    pool (see :func:`~actlab._processes.adopt_environ`). Ctrl-C (SIGINT to the whole process group)
    ends a worker at once and quietly: the command itself says it was interrupted, and a worker
    holds nothing to save (the command writes every finished run)."""
    if environ is not None:
        adopt_environ(environ)
    torch.set_num_threads(int(threads or 1))
    signal.signal(signal.SIGINT, _end_quietly)


def _end_quietly(signum: int, frame: Any) -> None:
    os._exit(128 + signum)


class _Serial:
    """Trains a part when it is submitted."""

    name = "this process"
    capacity = 1
    here = True  # trains in this process (a training loop only this process knows can run)

    def submit(self, part: Part) -> Future:
        f: Future = Future()
        f.set_result(train_units(part))
        return f

    def next_done(self, futures: Iterable[Future]) -> Future:
        return next(iter(futures))

    def close(self) -> None:
        pass


class _Processes:
    """``n`` worker processes (:func:`~actlab._processes.worker_context`); two parts queued per
    worker, so none waits for the next."""

    def __init__(self, n: int, threads: int | None):
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(
            max_workers=n,
            mp_context=worker_context(),
            initializer=init_worker,
            initargs=(threads, dict(os.environ)),
        )
        self.name, self.capacity = f"{n} worker processes", 2 * n

    def submit(self, part: Part) -> Future:
        return self.pool.submit(train_units, part)

    def next_done(self, futures: Iterable[Future]) -> Future:
        from concurrent.futures import FIRST_COMPLETED, wait

        return next(iter(wait(list(futures), return_when=FIRST_COMPLETED).done))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Dask:
    """A Dask distributed cluster: up to 64 parts in flight."""

    capacity = 64

    def __init__(self, address: str, timeout: float):
        try:
            from distributed import Client
        except ImportError:
            raise ActlabError("--dask needs the 'distributed' package: pip install 'actlab[dask]'") from None
        shown = self._checked(address)
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except Exception as e:  # OSError, TimeoutError for a scheduler that does not answer...
            raise ActlabError(
                f"cannot reach the Dask scheduler at {shown!r} within {timeout:g} s "
                f"({first_line(e)[:160]}); start one with 'dask scheduler' or check --dask"
            ) from None
        self.name = f"Dask at {shown}"

    @staticmethod
    def _checked(address: Any) -> str:
        """``address`` as it may be printed, once Dask can read it as a scheduler's address: one
        line otherwise, before a client is made (a client that fails half-built hangs for twice
        the timeout when Python ends, and Dask's message would repeat a password)."""
        from distributed.comm.addressing import get_address_host_port

        if not isinstance(address, str):
            raise ActlabError(
                f"--dask takes a scheduler address such as tcp://127.0.0.1:8786, got {type(address).__name__}"
            )
        scheme, sep, location = address.rpartition("://")
        if "@" in location:  # user:password@host: Dask addresses have none, and the password is never printed
            host = location.rsplit("@", 1)[1][:100]
            raise ActlabError(
                f"--dask {scheme}{sep}***@{host}: a Dask scheduler address has no user or password; "
                "give tcp://HOST:PORT (tls://HOST:PORT for a secured cluster)"
            )
        try:
            get_address_host_port(address)
        except (ValueError, TypeError, KeyError) as e:
            raise ActlabError(
                f"--dask {address[:100]!r} is not a Dask scheduler address ({first_line(e)[:160]}); "
                "give tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786"
            ) from None
        return address

    def submit(self, part: Part) -> Any:
        return self.client.submit(train_units, part, pure=False)

    def next_done(self, futures: Iterable[Any]) -> Any:
        while True:
            for f in futures:
                if f.done():
                    return f
            time.sleep(0.02)

    def close(self) -> None:
        self.client.close()


__all__ = ["Executor", "init_worker", "make_executor"]
