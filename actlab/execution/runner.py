"""The one runner: every study hands its trainings to it as :class:`~actlab.execution.Unit`\\ s.

:class:`Runner` decides how and where units train:

* **packs**: units that differ only in their activation plan, on a model the packed trainer
  reproduces (the MLP), train together, each as if alone (see :mod:`actlab.training.population`).
  A list of ``n`` units is cut into balanced packs of at most ``max(MIN_PART, ceil(n / SPREAD))``
  units, and never more than ``pack``: 24 candidates give 2 packs of 12, 8 give 2 of 4, 3 one
  pack. So two workers share a study's list, while each pack stays large enough to gain from
  packing: a pack pays a share of each step of its own, about what 4 members cost on a small MLP
  (MNIST-1D, width 64: two packs of 12 took 7-16% more CPU than one of 24, four of 6 30-39%), so
  a split below 4 members gains little time for much CPU. The packs depend only on the units given and ``pack``,
  never on the number of workers or where they run, so every executor gives the same numbers;
* **where**: this process, ``workers`` worker processes with ``threads`` torch threads each, or a
  Dask cluster (``dask="tcp://host:8786"``), see :mod:`actlab.execution.executors`;
* **files**: with a ``folder``, each finished unit is written there atomically as
  ``<name>.json`` (:mod:`actlab.execution.records`); a unit whose file is there (with the same
  key) is not trained again, so a killed study resumes with nothing lost. A unit is claimed before
  it trains (``<name>.claim``, :mod:`actlab.execution.claims`), so several processes on one folder
  split the work between them; a claim whose process has died (same machine, pid gone) is taken
  over.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from actlab import _validate as V
from actlab._errors import ActlabError
from actlab._io import write_json_atomic
from actlab.execution.claims import claim, release
from actlab.execution.executors import Executor, make_executor
from actlab.execution.records import read_unit, unit_record
from actlab.execution.units import Unit
from actlab.training.fit import LOCAL_ONLY, local_only
from actlab.training.population import packable

DEFAULT_PACK = 32
SPREAD = 2  # a list of units is cut into at least this many packs, where MIN_PART allows ...
MIN_PART = 4  # ... but packs are not made smaller than this for it
OnDone = Callable[[Unit, dict[str, Any], bool], None]  # (unit, record, cached)


def packs(units: Sequence[Unit], pack: int) -> list[list[Unit]]:
    """Units cut into the parts that train together: packable groups (equal :meth:`Unit.pack_key`)
    in balanced parts of at most :func:`part_size` units, in the order given; the parts depend only
    on the units and ``pack``."""
    groups: dict[str, list[Unit]] = {}
    for u in units:
        groups.setdefault(
            u.pack_key() if pack > 1 and packable(u.model, u.plan, u.train.get("fit")) else f"alone:{u.name}", []
        ).append(u)
    size = part_size(len(units), pack)
    parts = []
    for g in groups.values():
        n = math.ceil(len(g) / size)
        each, extra = divmod(len(g), n)
        i = 0
        for j in range(n):
            m = each + (j < extra)
            parts.append(g[i : i + m])
            i += m
    return parts


def part_size(n: int, pack: int) -> int:
    """The most units one part of a list of ``n`` units holds: ``pack``, or fewer so that the list
    gives ``SPREAD`` parts for several workers, but not fewer than ``MIN_PART``; never the number
    of workers, so that results do not depend on it."""
    return max(1, min(pack, max(MIN_PART, math.ceil(n / SPREAD))))


class Runner:
    """Trains units: packed where exact, here, in worker processes or on Dask (see the module
    docstring). Use as a context manager, or call :meth:`close`.

    :meth:`run` trains a list and returns its records. :meth:`start` hands a list to the executor
    and returns at once; its :meth:`Pass.wait` returns the records. Several started lists share
    the executor, in the order started: while one is waited for, the others' parts train too
    (how a study keeps every worker busy across steps that depend on each other). The parts of a
    list are cut from it alone, so when a list trains never changes its records."""

    def __init__(
        self,
        workers: int = 1,
        dask: str | None = None,
        pack: int = DEFAULT_PACK,
        threads: int | None = 1,
        dask_timeout: float = 10.0,
        poll: float = 0.5,
    ):
        workers = V.integer("--workers", workers, 1, V.MAX_WORKERS)
        self.pack = V.integer("--pack", pack, 1, V.MAX_PACK)
        self.poll = poll
        self._ex: Executor = make_executor(workers, dask, threads, dask_timeout)
        self.name = self._ex.name
        self._passes: list[Pass] = []  # started, not yet waited for, in the order started
        self._flight: dict[Any, tuple[Pass, list[Unit]]] = {}  # future -> its pass and the units it trains

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._abandon()
        self._ex.close()

    def map(self, units: Sequence[Unit]) -> list[dict[str, Any]]:
        """Train every unit (no files) and return their records in order."""
        if not units:
            return []
        records = self.run(units)
        return [records[u.name] for u in units]

    def run(
        self, units: Sequence[Unit], folder: str | Path | None = None, on_done: OnDone | None = None
    ) -> dict[str, dict[str, Any]]:
        """Records of ``units`` by name: read from ``folder`` where finished, else trained (packed,
        on the executor) and written there. ``on_done(unit, record, cached)`` after each."""
        return self.start(units, folder, on_done).wait()

    def start(self, units: Sequence[Unit], folder: str | Path | None = None, on_done: OnDone | None = None) -> Pass:
        """:meth:`run`, begun: the units' parts handed to the executor as far as it takes them
        now (on one worker in this process, that trains the first part); :meth:`Pass.wait` gives
        the records."""
        names = [u.name for u in units]
        if len(set(names)) != len(names):
            raise ActlabError("two units share a name; every unit of a study needs its own")
        local = next((u.train["fit"] for u in units if local_only(u.train.get("fit"))), None)
        if local is not None and not getattr(self._ex, "here", False):
            raise ActlabError(LOCAL_ONLY.format(ref=local))
        p = Pass(self, units, None if folder is None else Path(folder), on_done)
        p.read_finished(units)
        self._passes.append(p)
        self._guarded(self._submit_open)
        return p

    def _guarded(self, step: Callable[[], None]) -> None:
        """``step``; on any error or interrupt, everything in flight is cancelled and its claims
        released (the started passes begin again when waited for)."""
        try:
            step()
        except BaseException:
            self._abandon()
            raise

    def _submit_open(self) -> None:
        """Claim and submit open parts, the passes' in the order started, while the executor can
        take more."""
        for p in self._passes:
            for part in p.open_parts():
                if len(self._flight) >= self._ex.capacity:
                    return
                got = p.claim_part(part)
                if got:
                    self._flight[self._ex.submit([u.to_dict() for u in got])] = (p, got)

    def _drive(self, target: Pass) -> None:
        """Keep the executor busy until ``target`` has every record: submit the open parts it can
        take, collect one that is done (of any pass), or (the rest claimed by other processes) wait
        for their files."""
        while True:
            self._submit_open()
            if target.complete():
                return
            if self._flight:
                self._collect_one()
                continue
            time.sleep(self.poll)
            target.read_finished([u for part in target.open_parts() for u in part])

    def _collect_one(self) -> None:
        """Wait for a part in flight to finish; its pass records its units."""
        f = self._ex.next_done(self._flight)
        p, part = self._flight.pop(f)
        try:
            trained = f.result()
        except BrokenProcessPool:
            raise ActlabError("a worker process died; rerun the same command to continue where it stopped") from None
        p.collected(part, trained)

    def _abandon(self) -> None:
        """Cancel what is still in flight (an error, an interrupt, closing) and release its claims."""
        flight, self._flight, self._passes = self._flight, {}, []
        for f, (p, part) in flight.items():
            f.cancel()
            p.release(part)


class Pass:
    """One list of units given to :meth:`Runner.start`: their records as they finish, and with a
    folder the files and claims there."""

    def __init__(self, runner: Runner, units: Sequence[Unit], folder: Path | None, on_done: OnDone | None):
        self.runner, self.units, self.folder, self.on_done = runner, units, folder, on_done
        # the packs are cut from the whole list, so that they are the same in every process and
        # every run of the study, whatever is done already: packed results never depend on it
        self.parts = packs(units, runner.pack)
        self.done: dict[str, dict[str, Any]] = {}

    def wait(self) -> dict[str, dict[str, Any]]:
        """The records of the units by name, once every one has its record (trained while other
        started passes train too)."""
        r = self.runner
        if self not in r._passes and not self.complete():  # abandoned by an error: begin again
            r._passes.append(self)
        r._guarded(lambda: r._drive(self))
        if self in r._passes:
            r._passes.remove(self)
        self.remove_left_claims()
        return {u.name: self.done[u.name] for u in self.units}

    def complete(self) -> bool:
        return len(self.done) == len(self.units)

    def finish(self, u: Unit, rec: dict[str, Any], cached: bool) -> None:
        self.done[u.name] = rec
        if self.on_done is not None:
            self.on_done(u, rec, cached)

    def read_finished(self, units: Sequence[Unit]) -> None:
        """The records of ``units`` already in the folder (written by an earlier run or another process)."""
        if self.folder is None:
            return
        for u in units:
            rec = read_unit(self.folder, u)
            if rec is not None:
                self.finish(u, rec, True)

    def open_parts(self) -> list[list[Unit]]:
        """The parts' units that have no record yet and are not in flight."""
        busy = {u.name for p, part in self.runner._flight.values() if p is self for u in part}
        return [q for q in ([u for u in p if u.name not in self.done and u.name not in busy] for p in self.parts) if q]

    def claim_part(self, part: list[Unit]) -> list[Unit]:
        """Claim every open unit of a pack, or none (another process holds one of them); the units
        finished meanwhile by another process are read, not trained. Returns the units to train."""
        if self.folder is None:
            return part
        got: list[Unit] = []
        for u in part:
            if not claim(self.claim_path(u)):
                for g in got:
                    release(self.claim_path(g))
                return []
            got.append(u)
        todo = []
        for u in got:
            rec = read_unit(self.folder, u)  # finished by another process between our look and the claim
            if rec is None:
                todo.append(u)
                continue
            release(self.claim_path(u))
            self.finish(u, rec, True)
        return todo

    def collected(self, part: list[Unit], trained: list[dict[str, Any]]) -> None:
        """Record a trained part's units (written to the folder, their claims released). A unit that
        failed is not written: a rerun tries it again."""
        for u, t in zip(part, trained, strict=True):
            rec = unit_record(u, t)
            if self.folder is not None:
                if "error" not in rec:
                    write_json_atomic(self.folder / f"{u.name}.json", rec)
                release(self.claim_path(u))
            self.finish(u, rec, False)

    def release(self, part: list[Unit]) -> None:
        if self.folder is not None:
            for u in part:
                release(self.claim_path(u))

    def remove_left_claims(self) -> None:
        """A claim left by a process killed after it wrote its run: taken over and removed."""
        if self.folder is None:
            return
        for u in self.units:
            c = self.claim_path(u)
            if c.exists() and claim(c):
                release(c)

    def claim_path(self, u: Unit) -> Path:
        assert self.folder is not None
        return self.folder / f"{u.name}.claim"


__all__ = ["DEFAULT_PACK", "MIN_PART", "SPREAD", "Pass", "Runner", "packs", "part_size"]
