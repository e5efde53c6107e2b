"""The one runner: every study hands its trainings to it as :class:`Unit`\\ s.

A unit is one training described by plain data (the activation plan as spec strings, the
dataset and model by name, the training config), so it travels to worker processes and Dask
workers as it is; no model or tensor is ever sent, and every process loads the data once.

:class:`Runner` decides how and where units train:

* **packs**: units that differ only in their activation plan, on a model the packed trainer
  reproduces (the MLP), train together, at most ``pack`` at a time, each as if alone (see
  :mod:`actlab.training.population`). The packs depend only on the units given and ``pack``,
  never on where they run, so every executor gives the same numbers;
* **where**: this process, ``workers`` spawned processes with ``threads`` torch threads each, or a
  Dask cluster (``dask="tcp://host:8786"``);
* **files**: with a ``folder``, each finished unit is written there atomically as
  ``<name>.json``; a unit whose file is there (with the same key) is not trained again, so a
  killed study resumes with nothing lost. A unit is claimed before it trains (``<name>.claim``,
  created exclusively), so several processes on one folder split the work between them; a claim
  whose process has died (same machine, pid gone) is taken over.

The key of a unit (:meth:`Unit.key`) is the one rule for what makes two trainings the same:
everything that decides the result, and nothing that only says where it runs (the training's
``threads`` and ``device``, the data's ``data_dir`` and ``download``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from actlab import _validate as V
from actlab._errors import ActlabError, first_line
from actlab._io import claim, finite_float, oversized, release, write_json_atomic
from actlab.catalogue.expr import LEARN_PREFIX, PREFIX, Expression
from actlab.models import build
from actlab.training import TrainConfig, train
from actlab.training.population import packable, train_population

FORMAT_UNIT = "actlab-unit"
DEFAULT_PACK = 32


def slug(spec: str) -> str:
    """A file-name-safe, collision-free name for an activation spec (part of a unit's name)."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec).strip("_")[:60] or "act"
    return s if s == spec else f"{s}-{hashlib.sha1(spec.encode()).hexdigest()[:6]}"


def finished_text(record: Mapping[str, Any], cached: bool, score: str = "test") -> str:
    """How a finished unit reads in a progress line: skipped, its error, or its status and its
    ``score`` (``"test"``: test accuracy; ``"val"``: best validation accuracy)."""
    if cached:
        return "already done, skipped"
    if "error" in record:
        return f"error: {record['error']}"
    r = record["result"]
    acc = r["test"].get("accuracy") if score == "test" else best_val_accuracy(r)
    shown = f"{acc:.3f}" if isinstance(acc, (int, float)) and math.isfinite(acc) else "n/a"
    return f"{r['status']}, {score} acc {shown}"


def best_val_accuracy(result: Mapping[str, Any]) -> float:
    """A training's score (a :class:`~actlab.training.RunResult` as a dict): its best validation
    accuracy, 0 when it has none (it diverged first), as search scores a trial."""
    accs = [e.get("val_accuracy") for e in result.get("epochs", [])]
    return max((float(a) for a in accs if isinstance(a, (int, float)) and math.isfinite(a)), default=0.0)


WHERE_ONLY = {"train": ("threads", "device"), "data_options": ("data_dir", "download")}  # not in a unit's key
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")
# a unit that cannot train (a function that fails in this model, ...) is recorded, not raised
BAD_UNIT = (ActlabError, RuntimeError, ValueError, TypeError, ArithmeticError, IndexError)


@dataclass
class Unit:
    """One training: ``plan`` (a spec string or ``{slot: spec}``) in ``model`` on ``dataset``,
    with ``train`` (a :class:`~actlab.training.TrainConfig` as a dict, its seed included).
    ``name`` is unique within a study's folder and becomes a file name."""

    name: str
    plan: Any
    dataset: str
    model: str
    train: dict[str, Any]
    data_seed: int = 0
    data_options: dict[str, Any] = field(default_factory=dict)
    model_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.match(self.name) or self.name in (".", ".."):
            raise ActlabError(f"unit name {self.name!r} is not a plain file name (letters, digits, '_', '.', '-')")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Unit:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def key(self) -> str:
        d = self.to_dict()
        del d["name"]
        for part, names in WHERE_ONLY.items():
            d[part] = {k: v for k, v in d[part].items() if k not in names}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def pack_key(self) -> str:
        """Units with equal pack keys can train in one packed model."""
        d = self.to_dict()
        del d["name"], d["plan"]
        return json.dumps(d, sort_keys=True, default=str)


# ------------------------------------------------------------------------------ training units
_DATA: dict[str, Any] = {}


def provide_data(unit: Unit, data) -> None:
    """Let this process use ``data`` (already loaded) for units on the same dataset and split."""
    _DATA[_data_key(unit.to_dict())] = data


def _data_key(u: Mapping[str, Any]) -> str:
    return json.dumps([u["dataset"], int(u["data_seed"]), u.get("data_options") or {}], sort_keys=True, default=str)


def load_data(u: Mapping[str, Any]):
    key = _data_key(u)
    if key not in _DATA:
        from actlab.data import load

        if len(_DATA) >= 4:
            _DATA.pop(next(iter(_DATA)))
        _DATA[key] = load(u["dataset"], seed=int(u["data_seed"]), **(u.get("data_options") or {}))
    return _DATA[key]


def _plan(plan: Any) -> Any:
    """Spec strings as the model takes them; ``expr:`` and ``pexpr:`` specs become their module
    directly (no property measurement, LaTeX or sympy, which the catalogue's ``get`` would make;
    the studies check their specs before they make units). One module per spec, as a template:
    the model gives each slot it fills a copy of its own (:func:`actlab.models.slot_modules`)."""

    def one(spec):
        text = spec.strip() if isinstance(spec, str) else ""
        for prefix, learnable in ((PREFIX, False), (LEARN_PREFIX, True)):
            if text.startswith(prefix):
                return Expression(text[len(prefix) :], learnable=learnable)
        return spec

    return {slot: one(s) for slot, s in plan.items()} if isinstance(plan, Mapping) else one(plan)


def train_units(units: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Train units (as dicts) in this process: those that share everything but the plan, on a
    packable model, in one packed model; the rest one by one. One record per unit, in order:
    ``{"result": RunResult dict, "packed": K}`` or ``{"error": "one line"}``; never raises for a
    unit that cannot train."""
    out: list[dict[str, Any] | None] = [None] * len(units)
    groups: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        groups.setdefault(Unit.from_dict(u).pack_key() if packable(u["model"], u["plan"]) else f"alone:{i}", []).append(
            i
        )
    for idx in groups.values():
        first = units[idx[0]]
        if len(idx) > 1:
            try:
                data = load_data(first)
                cfg = TrainConfig.from_dict(first["train"])
                results = train_population(
                    [_plan(units[i]["plan"]) for i in idx], data, cfg, dict(first.get("model_options") or {})
                )
            except BAD_UNIT:  # one member cannot be built: train them one by one, each says why
                results = None
            if results is not None:
                for i, r in zip(idx, results):
                    out[i] = {"result": r.to_dict(), "packed": len(idx)}
                continue
        for i in idx:
            u = units[i]
            try:
                data = load_data(u)
                plan = _plan(u["plan"])
                opts = dict(u.get("model_options") or {})
                r = train(
                    lambda: build(u["model"], data.input_shape, data.n_classes, plan, **opts),
                    data,
                    TrainConfig.from_dict(u["train"]),
                )
                out[i] = {"result": r.to_dict(), "packed": 1}
            except BAD_UNIT as e:
                out[i] = {"error": first_line(e)}
    return out  # type: ignore[return-value]


def init_worker(threads: int | None) -> None:
    """Initialiser of local worker processes: ``threads`` torch threads each (default one: no
    oversubscription)."""
    torch.set_num_threads(int(threads or 1))


def packs(units: Sequence[Unit], pack: int) -> list[list[Unit]]:
    """Units cut into the parts that train together: packable groups (equal :meth:`Unit.pack_key`)
    in balanced parts of at most ``pack``, in the order given; the parts depend only on the units
    and ``pack``."""
    groups: dict[str, list[Unit]] = {}
    for u in units:
        groups.setdefault(u.pack_key() if pack > 1 and packable(u.model, u.plan) else f"alone:{u.name}", []).append(u)
    parts = []
    for g in groups.values():
        n = max(1, math.ceil(len(g) / max(pack, 1)))
        size, extra = divmod(len(g), n)
        i = 0
        for j in range(n):
            m = size + (j < extra)
            parts.append(g[i : i + m])
            i += m
    return parts


# ------------------------------------------------------------------------------------ claims
# claim(path) / release(path): actlab._io's (exclusive claim files; a dead process's are taken over)


# ---------------------------------------------------------------------------------- executors
class _Serial:
    """Trains a part when it is submitted."""

    name = "this process"
    capacity = 1

    def submit(self, part: list[dict]) -> Future:
        f: Future = Future()
        f.set_result(train_units(part))
        return f

    def next_done(self, futures) -> Future:
        return next(iter(futures))

    def close(self) -> None:
        pass


class _Processes:
    """``n`` spawned worker processes; two parts queued per worker, so none waits for the next."""

    def __init__(self, n: int, threads: int | None):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(
            max_workers=n, mp_context=mp.get_context("spawn"), initializer=init_worker, initargs=(threads,)
        )
        self.name, self.capacity = f"{n} worker processes", 2 * n

    def submit(self, part):
        return self.pool.submit(train_units, part)

    def next_done(self, futures):
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

    def submit(self, part):
        return self.client.submit(train_units, part, pure=False)

    def next_done(self, futures):
        while True:
            for f in futures:
                if f.done():
                    return f
            time.sleep(0.02)

    def close(self) -> None:
        self.client.close()


class Runner:
    """Trains units: packed where exact, here, in worker processes or on Dask (see the module
    docstring). Use as a context manager, or call :meth:`close`."""

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
        pack = V.integer("--pack", pack, 1, V.MAX_PACK)
        self.pack, self.poll = pack, poll
        if dask:
            self._ex: Any = _Dask(dask, dask_timeout)
        elif workers > 1:
            self._ex = _Processes(workers, threads)
        else:
            self._ex = _Serial()
        self.name = self._ex.name

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._ex.close()

    def map(self, units: Sequence[Unit]) -> list[dict[str, Any]]:
        """Train every unit (no files) and return their records in order."""
        if not units:
            return []
        records = self.run(units)
        return [records[u.name] for u in units]

    def run(
        self,
        units: Sequence[Unit],
        folder: str | Path | None = None,
        on_done: Callable[[Unit, dict[str, Any], bool], None] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Records of ``units`` by name: read from ``folder`` where finished, else trained (packed,
        on the executor) and written there. ``on_done(unit, record, cached)`` after each."""
        names = [u.name for u in units]
        if len(set(names)) != len(names):
            raise ActlabError("two units share a name; every unit of a study needs its own")
        folder = Path(folder) if folder is not None else None
        done: dict[str, dict[str, Any]] = {}
        if folder is not None:
            for u in units:
                rec = read_unit(folder, u)
                if rec is not None:
                    done[u.name] = rec
                    if on_done is not None:
                        on_done(u, rec, True)
        # the packs are cut from the whole list, so that they are the same in every process and
        # every run of the study, whatever is done already: packed results never depend on it
        parts = packs(units, self.pack)
        flight: dict[Any, list[Unit]] = {}  # future -> the units it trains (claimed by this process)

        def open_parts() -> list[list[Unit]]:
            busy = {u.name for p in flight.values() for u in p}
            return [q for q in ([u for u in p if u.name not in done and u.name not in busy] for p in parts) if q]

        try:
            while True:
                for p in open_parts():  # keep the executor busy: claim and submit what it can take
                    if len(flight) >= self._ex.capacity:
                        break
                    got = p if folder is None else _claim_pack(folder, p, done, on_done)
                    if got:
                        flight[self._ex.submit([u.to_dict() for u in got])] = got
                if not flight:
                    waiting = open_parts()
                    if not waiting:
                        break
                    time.sleep(self.poll)  # the rest is claimed by other processes: wait for their files
                    for u in (u for p in waiting for u in p):
                        rec = read_unit(folder, u)
                        if rec is not None:
                            done[u.name] = rec
                            if on_done is not None:
                                on_done(u, rec, True)
                    continue
                f = self._ex.next_done(flight)
                part = flight.pop(f)
                try:
                    recs = f.result()
                except BrokenProcessPool:
                    raise ActlabError(
                        "a worker process died; rerun the same command to continue where it stopped"
                    ) from None
                for u, rec in zip(part, recs):
                    rec = {
                        "format": FORMAT_UNIT,
                        "key": u.key(),
                        "unit": u.to_dict(),
                        **rec,
                        "trained_by": f"{socket.gethostname()}:{os.getpid()}",
                    }
                    if folder is not None:
                        if "error" not in rec:  # a failed unit is not kept: a rerun tries it again
                            write_json_atomic(folder / f"{u.name}.json", rec)
                        release(_claim_path(folder, u))
                    done[u.name] = rec
                    if on_done is not None:
                        on_done(u, rec, False)
        finally:
            for f, part in flight.items():
                f.cancel()
                if folder is not None:
                    for u in part:
                        release(_claim_path(folder, u))
        if folder is not None:  # a claim left by a process killed after it wrote its run: taken over and removed
            for u in units:
                c = _claim_path(folder, u)
                if c.exists() and claim(c):
                    release(c)
        return {n: done[n] for n in names}


def _claim_pack(folder: Path, part: list[Unit], done: dict[str, dict[str, Any]], on_done) -> list[Unit]:
    """Claim every open unit of a pack, or none (another process holds one of them); the units
    finished meanwhile by another process are read, not trained. Returns the units to train."""
    got = []
    for u in part:
        if not claim(_claim_path(folder, u)):
            for g in got:
                release(_claim_path(folder, g))
            return []
        got.append(u)
    todo = []
    for u in got:
        rec = read_unit(folder, u)  # finished by another process between our look and the claim
        if rec is None:
            todo.append(u)
            continue
        release(_claim_path(folder, u))
        done[u.name] = rec
        if on_done is not None:
            on_done(u, rec, True)
    return todo


def _claim_path(folder: Path, u: Unit) -> Path:
    return folder / f"{u.name}.claim"


def read_unit(folder: Path, u: Unit) -> dict[str, Any] | None:
    """The record of ``u`` in ``folder``, or None if it has not finished there. A file that is
    not a usable unit record (unreadable, another format, a result without its numbers) counts as
    not finished and is trained again, the file kept as ``NAME.json.damaged``; a record of another
    unit under the same name is refused."""
    path = folder / f"{u.name}.json"
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, MemoryError):
        d = None
    if (
        not isinstance(d, dict)
        or d.get("format") != FORMAT_UNIT
        or not isinstance(d.get("key"), str)
        or ("error" not in d and not _usable_result(d.get("result")))
        or ("error" in d and not isinstance(d["error"], str))
        or oversized(d)
    ):
        # Damaged (or foreign): it counts as not finished, and the unit trains again. Nothing is
        # lost: the file is kept beside as NAME.json.damaged, and every finished run stays.
        _set_aside(path)
        return None
    if d.get("key") != u.key():
        raise ActlabError(
            f"{str(folder)!r} holds a run {u.name!r} of a different configuration; "
            f"use a new --out, or delete {str(folder)!r} to start over"
        )
    return d


def _numbers(v: Any, depth: int = 0) -> bool:
    """True for numbers (or None, booleans), and tables / lists of them, as run records hold."""
    if v is None or isinstance(v, bool) or _is_number(v):
        return True
    if depth < 3 and isinstance(v, dict):
        return all(isinstance(k, str) and _numbers(x, depth + 1) for k, x in v.items())
    if depth < 3 and isinstance(v, list):
        return all(_numbers(x, depth + 1) for x in v)
    return False


def _is_number(v: Any) -> bool:
    """A number a report can compute with: NaN and infinity pass (readers skip them), a whole
    number beyond a float's range does not."""
    return isinstance(v, float) or finite_float(v) is not None


def _accuracy(v: Any, null_ok: bool = False) -> bool:
    """An accuracy: a finite number from 0 to 1; null only where there is none (``null_ok``)."""
    f = finite_float(v)
    return v is None and null_ok or f is not None and 0 <= f <= 1


STATUSES = ("finished", "stopped", "diverged", "pruned")  # RunResult.status


def _usable_result(r: Any) -> bool:
    """Whether ``r`` is a training result the summaries and reports can read (RunResult's
    fields with numbers where numbers belong): accuracies from 0 to 1, null only in the epoch of
    a diverged run that has none; a string, NaN or 5.0 accuracy is not."""
    if not isinstance(r, dict) or r.get("status") not in STATUSES:
        return False
    epochs, test, train = r.get("epochs"), r.get("test"), r.get("final_train")
    if not isinstance(epochs, list) or not all(isinstance(e, dict) and _numbers(e) for e in epochs):
        return False
    if not all(_accuracy(v, r["status"] == "diverged") for e in epochs for k, v in e.items() if k.endswith("accuracy")):
        return False
    for part in (test, train):  # null: a number that was not finite (a diverged run's loss), see actlab._io
        if (
            not isinstance(part, dict)
            or not _accuracy(part.get("accuracy"))
            or not all(v is None or _is_number(v) for v in part.values())
        ):
            return False
    if not all(k in test and (test[k] is None or _is_number(test[k])) for k in ("loss", "f1")):
        return False
    diag = r.get("diagnostics", {})
    if not isinstance(diag, dict) or not all(isinstance(v, dict) and _numbers(v) for v in diag.values()):
        return False
    best = r.get("best_epoch")
    return (
        (best is None or (isinstance(best, int) and not isinstance(best, bool)))
        and _is_number(r.get("n_params"))
        and _is_number(r.get("seconds"))
        and _numbers(r.get("learned", {}))
    )


def _set_aside(path: Path) -> None:
    """Keep a damaged run file as ``NAME.json.damaged`` (its rerun then writes a fresh NAME.json)."""
    try:
        os.replace(path, path.with_name(path.name + ".damaged"))
    except OSError:  # gone meanwhile (another process set it aside), or a read-only folder: the rerun says so
        pass


__all__ = [
    "BAD_UNIT",
    "DEFAULT_PACK",
    "FORMAT_UNIT",
    "Runner",
    "Unit",
    "claim",
    "load_data",
    "packs",
    "provide_data",
    "read_unit",
    "release",
    "train_units",
]
