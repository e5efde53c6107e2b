"""Optuna plumbing for many cooperating workers: storage URLs, heartbeats, stale trials, budget.

* Storage: any Optuna URL (``sqlite:///...``, ``postgresql://...``, ``mysql://...``), or
  ``journal:PATH`` for Optuna's journal file (safe on shared file systems).
* Heartbeat: while a worker runs a trial, a thread stamps the trial every ``interval`` seconds
  with its host, pid and the time (a trial system attribute). Optuna's own heartbeat exists for
  RDB storages only; this one works on every storage.
* Stale trials: a RUNNING trial whose worker is gone (same host and its pid dead, or no stamp
  for ``grace`` seconds) is marked FAIL and its configuration is enqueued again, once: only the
  worker that wins the FAIL transition enqueues the retry.
* Budget: ``budget`` is the number of COMPLETE + PRUNED trials, across restarts and workers. A
  trial whose lower-numbered, not-failed trials already fill the budget is surplus: it is
  marked FAIL (``actlab:surplus``) before any training, so the count of finished trials is exact.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from actlab._errors import ActlabError, first_line, redact
from actlab._io import pid_alive

HEARTBEAT = "actlab:heartbeat"
RETRY_OF = "actlab:retry_of"
SURPLUS = "actlab:surplus"
SPACE = "actlab:space"
ALIVE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
DONE = (TrialState.COMPLETE, TrialState.PRUNED)


def make_storage(url: str | None, out: Path) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``url`` (default: ``sqlite:///OUT/study.db``); one-line errors."""
    if not url:
        url = f"sqlite:///{(out / 'study.db').resolve()}"
    if url.startswith("journal:"):
        path = Path(url[len("journal:") :]).expanduser()
        if not path.name:
            raise ActlabError(f"journal storage needs a file path, e.g. journal:{out / 'study.log'}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

            return optuna.storages.JournalStorage(
                JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
            )
        except OSError as e:
            raise ActlabError(
                f"cannot use journal file {str(path)!r} ({e.strerror or e}); choose a writable path"
            ) from None
    if "://" not in url:
        shown = _redact(url) if "@" not in url else "***@" + url.rsplit("@", 1)[1]  # user:password@host, no scheme
        raise ActlabError(
            f"cannot parse storage {shown!r}; use sqlite:///PATH, postgresql://USER@HOST/DB or journal:PATH"
        )
    if url.lower().startswith("sqlite") and _sqlite_in_memory(url):
        raise ActlabError(
            f"storage {_redact(url)!r} is an in-memory database: the study would be lost when actlab ends "
            "and worker processes could not share it; use sqlite:///PATH (or leave --storage out)"
        )
    try:
        kwargs = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            kwargs = {"connect_args": {"timeout": 120}}
        elif url.startswith("postgresql"):
            kwargs["connect_args"] = {"connect_timeout": 10}
        return _rdb_storage(url, kwargs)
    except ImportError:
        raise ActlabError(
            f"storage {_redact(url)!r} needs a database driver that is not installed; {driver_hint(url)}"
        ) from None
    except Exception as e:  # sqlalchemy: bad URL, unreachable server, wrong password ...
        if "Can't load plugin" in str(e):  # a dialect SQLAlchemy does not know, e.g. postgres://
            raise ActlabError(
                f"storage {_redact(url)!r}: unknown database {url.split('://', 1)[0]!r}; use "
                "postgresql://, mysql+pymysql://, sqlite:///PATH or journal:PATH"
            ) from None
        raise ActlabError(f"cannot open storage {_redact(url)!r}: {_redact(first_line(e))[:200]}") from None


def _sqlite_in_memory(url: str) -> bool:
    """Whether a sqlite URL names no database file (``sqlite://``, ``:memory:``, ``mode=memory``)."""
    from sqlalchemy.engine import make_url

    try:
        database = make_url(url).database
    except Exception:  # not a URL SQLAlchemy reads: opening it says so
        return False
    return not database or database == ":memory:" or "mode=memory" in url.lower()


# dialect[+driver] -> how to get the driver SQLAlchemy uses for it (its defaults: postgresql ->
# psycopg 3, mysql -> mysqlclient, which needs a C compiler; PyMySQL is pure Python)
_DRIVERS = {
    "postgresql": 'pip install "actlab[postgres]" (psycopg 3)',
    "postgresql+psycopg": 'pip install "actlab[postgres]" (psycopg 3)',
    "postgresql+psycopg2": "pip install psycopg2-binary",
    "postgresql+pg8000": "pip install pg8000",
    "mysql": "pip install pymysql and write the URL as mysql+pymysql://...",
    "mysql+pymysql": "pip install pymysql",
    "mysql+mysqldb": "pip install mysqlclient",
    "mysql+mysqlconnector": "pip install mysql-connector-python",
    "mariadb": "pip install pymysql and write the URL as mariadb+pymysql://...",
    "mariadb+pymysql": "pip install pymysql",
    "mssql": "pip install pyodbc (and the ODBC driver) and write the URL as mssql+pyodbc://...",
    "mssql+pyodbc": "pip install pyodbc (and the ODBC driver)",
    "oracle": "pip install oracledb and write the URL as oracle+oracledb://...",
    "oracle+oracledb": "pip install oracledb",
}


def driver_hint(url: str) -> str:
    """What to install (and how to write the URL) for the database driver ``url`` needs."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in _DRIVERS:
        return _DRIVERS[scheme]
    dialect, _, driver = scheme.partition("+")
    if driver:
        return f"install the Python package of the {driver!r} driver (pip install {driver})"
    return f"install a Python driver for {dialect} and name it in the URL, e.g. {dialect}+DRIVER://..."


# What a database says when another process created Optuna's tables (or stamped their version)
# first: PostgreSQL, MySQL and SQLite wordings
CREATE_RACE = (
    "duplicate key",
    "already exists",
    "UniqueViolation",
    "Duplicate entry",
    "UNIQUE constraint failed",
    "IntegrityError",
)


def _rdb_storage(url: str, engine_kwargs: dict, attempts: int = 8) -> optuna.storages.RDBStorage:
    """RDBStorage, retried: workers started together race to create Optuna's tables, and the
    loser's CREATE (or its version stamp) fails with a duplicate-key error although the tables
    are then there."""
    import random

    for i in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        except Exception as e:
            if i == attempts - 1 or not any(w in str(e) for w in CREATE_RACE):
                raise
            time.sleep(0.2 + random.random())
    raise AssertionError("unreachable")


_redact = redact  # the one redaction of URLs (kept under the old name for callers)


def open_study(storage, name: str, space: dict, sampler, direction: str = "maximize") -> optuna.Study:
    """Create or load the study; refuse one whose recorded search space differs."""
    study = optuna.create_study(
        storage=storage, study_name=name, sampler=sampler, direction=direction, load_if_exists=True
    )
    blob = json.dumps(space, sort_keys=True)
    old = study.user_attrs.get(SPACE)
    if old is None:
        study.set_user_attr(SPACE, blob)
    elif old != blob:
        diff = sorted(k for k in set(json.loads(old)) | set(space) if json.loads(old).get(k) != space.get(k))
        raise ActlabError(
            f"study {name!r} exists with a different search space (differs in: {', '.join(diff)}); "
            f"use another --study name or the same settings"
        )
    return study


class Heartbeat:
    """Stamps a running trial (``trial_id`` in ``storage``) every ``interval`` seconds from a daemon thread."""

    def __init__(self, storage: optuna.storages.BaseStorage, trial_id: int, interval: float):
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self._stop = threading.Event()
        self._beat()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        stamp = {"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}
        with contextlib.suppress(Exception):  # the trial finished meanwhile, or the storage hiccuped: next beat retries
            self.storage.set_trial_system_attr(self.trial_id, HEARTBEAT, stamp)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def is_stale(trial: optuna.trial.FrozenTrial, grace: float, now: float | None = None) -> bool:
    beat = trial.system_attrs.get(HEARTBEAT)
    now = time.time() if now is None else now
    if beat is None:  # started but never stamped: judge by its start time
        start = trial.datetime_start.timestamp() if trial.datetime_start else now
        return now - start > grace
    if beat.get("host") == socket.gethostname() and not pid_alive(int(beat.get("pid", -1))):
        return True
    return now - float(beat.get("time", 0)) > grace


def fail_stale_trials(storage: optuna.storages.BaseStorage, study: optuna.Study, grace: float) -> list[int]:
    """Mark trials of dead workers FAIL and enqueue their configuration again (``study`` kept in
    ``storage``). Returns their numbers."""
    failed, study_id = [], None
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not is_stale(t, grace):
            continue
        try:
            study_id = storage.get_study_id_from_name(study.study_name) if study_id is None else study_id
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
            won = storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except Exception:  # another worker got there first
            continue
        if won is False:
            continue
        failed.append(t.number)
        if t.params and not t.system_attrs.get(SURPLUS):
            study.enqueue_trial(t.params, user_attrs={RETRY_OF: t.number}, skip_if_exists=False)
    return failed


def counts(study: optuna.Study) -> dict[str, int]:
    trials = study.get_trials(deepcopy=False)
    return {
        "done": sum(t.state in DONE for t in trials),
        "running": sum(t.state == TrialState.RUNNING for t in trials),
        "waiting": sum(t.state == TrialState.WAITING for t in trials),
        "failed": sum(t.state == TrialState.FAIL for t in trials),
    }


def is_surplus(study: optuna.Study, number: int, budget: int) -> bool:
    """Whether trial ``number`` would exceed the budget (see the module docstring)."""
    ahead = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.number < number and t.state in ALIVE and not t.system_attrs.get(SURPLUS)
    ]
    return len(ahead) >= budget
