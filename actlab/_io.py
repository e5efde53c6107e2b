"""Files shared by processes: atomic writes (a reader, or a rerun after a kill, sees the old file
or the complete new one, never a half-written one), whether a process is alive (a dead one's
temporaries are removed), and which command's results a folder holds. The claims with which
several processes on one folder split the work are the runner's (:mod:`actlab.execution.claims`).

Every JSON file actlab writes is strict JSON (RFC 8259), which any parser reads: a number that is
not finite (NaN, infinity) is written as ``null``, and a file that holds such a ``null`` says so
in a top-level ``"nulls"`` note. The rule for what ``null`` in a number's place means: *there is
no value*. The record beside it says why where a reader needs to know (a run's ``status`` is
``"diverged"``, the baseline's ``outcome`` is ``"baseline"``, one seed has no spread); readers
treat ``null`` as missing, as they treated NaN (:func:`finite`).
"""

from __future__ import annotations

import glob
import json
import math
import numbers
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actlab._errors import ActlabError, first_line


def _out_path(out: str | Path) -> Path:
    if isinstance(out, str) and not out.strip():  # Path("") is the current folder
        raise ActlabError("--out is empty; give the folder for the results, e.g. --out results")
    return Path(out)


def check_out(out: str | Path) -> Path:
    """Say in one line, creating nothing, when ``out`` cannot be a results folder (a file is in the
    way, or the nearest existing folder is not writable): a command checks this before it loads
    data, and creates the folder (:func:`prepare_out`) once its input is known to be good."""
    out = _out_path(out)
    here = out
    while not here.exists() and here.parent != here:
        here = here.parent
    if not here.is_dir():
        raise ActlabError(f"cannot write to --out {str(out)!r} ({str(here)!r} is a file); choose a folder")
    if not os.access(here, os.W_OK | os.X_OK):
        raise ActlabError(
            f"cannot write to --out {str(out)!r} (no permission in {str(here)!r}); choose a folder you can write to"
        )
    return out


def prepare_out(out: str | Path, *subdirs: str) -> Path:
    """Create ``out`` (and its ``subdirs``) and prove it is writable, or say so in one line."""
    out = _out_path(out)
    try:
        for d in subdirs or ("",):
            (out / d).mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise ActlabError(
            f"cannot write to --out {str(out)!r} ({e.strerror or e}); choose a folder you can write to"
        ) from None
    return out


STALE_TEMPORARY_AGE = 60.0  # seconds: a temporary of a dead process left this long is removed


def _temporary(path: Path) -> Path:
    """This process's temporary for ``path`` (``.STEM.PID.tmpSUFFIX`` beside it, the suffix kept
    for writers that choose the format by it); those that a killed writer left there (its process
    dead, the file untouched for a minute) are removed."""
    stem, suffix = path.stem, path.suffix
    pattern = re.compile(re.escape(f".{stem}.") + r"([0-9]{1,10})" + re.escape(f".tmp{suffix}"))
    try:
        for old in path.parent.glob(f".{glob.escape(stem)}.*.tmp{glob.escape(suffix)}"):
            m = pattern.fullmatch(old.name)
            if m and not pid_alive(int(m.group(1))) and time.time() - old.stat().st_mtime > STALE_TEMPORARY_AGE:
                old.unlink()
    except OSError:  # a folder that cannot be listed, a file another process removed first
        pass
    return path.with_name(f".{stem}.{os.getpid()}.tmp{suffix}")


def write_text_atomic(path: str | Path, text: str) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


NULLS = "nulls"  # the top-level note of a JSON file in which a number that is not finite became null
NULLS_NOTE = (
    "null where a number belongs means there is no value: too few values for a spread, an interval or a "
    "test, or a run whose loss or outputs were not finite (its status says diverged)"
)


def strict_json(obj: Any) -> tuple[Any, int]:
    """``obj`` as JSON values (tensors and arrays as lists, other objects as text) with every float
    that is not finite as None; and how many numbers became None."""
    nulls = 0

    def walk(o: Any) -> Any:
        nonlocal nulls
        if isinstance(o, float):
            if math.isfinite(o):
                return o
            nulls += 1
            return None
        if o is None or isinstance(o, (str, int)):
            return o
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [walk(v) for v in o]
        tolist = getattr(o, "tolist", None)  # tensors, arrays and their scalars
        return walk(tolist()) if callable(tolist) else str(o)

    return walk(obj), nulls


def json_text(obj: Any) -> str:
    """``obj`` as strict JSON text (see the module docstring), indented, with the ``"nulls"`` note
    where a number that is not finite became null."""
    value, nulls = strict_json(obj)
    if nulls and isinstance(value, dict):
        value.setdefault(NULLS, NULLS_NOTE)
    return json.dumps(value, indent=1, allow_nan=False)


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` to ``path`` atomically as strict JSON (:func:`json_text`)."""
    return write_text_atomic(path, json_text(obj))


def finite(v: Any) -> bool:
    """Whether ``v`` is a finite number; False for None (``null`` in actlab's JSON files: no value),
    NaN and infinity, so that results read from a file and results just computed read alike."""
    return finite_float(v) is not None


def finite_float(v: Any) -> float | None:
    """A JSON value as a finite float, or None: for null, NaN, infinity, a whole number beyond a
    float's range (JSON allows ``1`` followed by 400 zeros), booleans, text and tables. How every
    reader of actlab's files takes a number."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return None
    try:
        f = float(v)
    except (OverflowError, ValueError):
        return None
    return f if math.isfinite(f) else None


MAX_TEXT = 10_000  # characters of one text in a file actlab reads back; an expression has at most 4,000


def oversized(doc: Any) -> str | None:
    """What in the JSON value ``doc`` is larger than anything actlab writes, or None: a text (a
    key too) longer than :data:`MAX_TEXT` characters, or a whole number beyond a float's range.
    A reader refuses such a file rather than carrying the value into its results and reports."""
    stack = [doc]
    while stack:
        v = stack.pop()
        if isinstance(v, str) and len(v) > MAX_TEXT:
            return f"a text of {len(v):,} characters (at most {MAX_TEXT:,})"
        if isinstance(v, int) and not isinstance(v, bool) and finite_float(v) is None:
            return "a whole number beyond a float's range"
        if isinstance(v, dict):
            stack.extend(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None


def write_file_atomic(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """``write(tmp)`` writes the content to a temporary file (same suffix, e.g. for a plot's
    format), which then replaces ``path`` atomically."""
    path = Path(path)
    tmp = _temporary(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# ---------------------------------------------------------------------------------- processes
def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (state first, start time at index 19), or None off Linux."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_start(pid: int) -> str | None:
    """When process ``pid`` of this machine started (clock ticks since boot, as text), or None
    where it cannot be told: with :func:`pid_alive`, it tells a process from a later one that
    was given the same pid."""
    st = _proc_stat(pid)
    return st[19] if st and len(st) > 19 else None


def pid_alive(pid: int, start: str | None = None) -> bool:
    """Whether process ``pid`` of this machine is alive (and, given its start time, the same one)."""
    if pid <= 0:  # not a process: kill(0) and kill(-1) would ask about whole groups, which always answer
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    except (OverflowError, ValueError):
        return False
    st = _proc_stat(pid)
    if st is not None:
        if st[0] in ("Z", "X"):  # killed, not yet reaped by its parent
            return False
        if start is not None and len(st) > 19 and st[19] != start:
            return False  # the pid now belongs to another process
    return True


def read_json_table(path: str | Path) -> dict[str, Any] | None:
    """What a small JSON file holds if it is a table (a claim, a folder's owner mark), or None if
    it is absent, unreadable or something else."""
    try:
        raw = Path(path).read_bytes()
        d = json.loads(raw) if raw else None
    except FileNotFoundError:
        return None
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to read
        return None
    return d if isinstance(d, dict) else None


# ------------------------------------------------------------------- whose results a folder holds
OWNER_MARK = ".actlab.json"  # {"command": ...}, written by the command that writes its results here
OUTPUTS = {  # what each command writes to its --out, in the order a message names them
    "compare": ("results.json", "report.html", "curves.png", "time_accuracy.png", "diagnostics.png"),
    "search": ("results.json", "report.html", "history.png", "winners.png", "importances.png"),
    "evolve": ("results.json", "best.json", "report.html", "checkpoint.json"),
    "screen": ("results.json", "report.html", "predicted.png", "map.png"),
}


def _results_command(path: Path) -> str | None:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, MemoryError):
        return None
    if not isinstance(d, dict):
        return None
    if d.get("format") == "actlab-evolve-results":
        return "evolve"
    if d.get("format") == "actlab-screen-results":
        return "screen"
    if "study" in d and "space" in d:
        return "search"
    if "summary" in d and "runs" in d:
        return "compare"
    return None


def out_owner(out: str | Path) -> str | None:
    """The actlab command whose results (finished or in progress) are in folder ``out``, or None."""
    out = Path(out)
    found = {
        n for n in ("results.json", "report.html", "study.db", "checkpoint.json", "best.json") if (out / n).exists()
    }
    if (out / "runs").is_dir() and any((out / "runs").glob("*.json")):
        found.add("runs")
    if not found:
        return None
    mark = read_json_table(out / OWNER_MARK)
    if mark and mark.get("command") in OUTPUTS:
        return mark["command"]
    if "checkpoint.json" in found or "best.json" in found:  # folders from before the mark
        return "evolve"
    if "study.db" in found:
        return "search"
    return _results_command(out / "results.json") or ("compare" if "runs" in found else None)


def own_out(out: str | Path, command: str, force: bool = False) -> None:
    """Refuse, in one line, to write ``command``'s results into a folder that holds another
    command's (unless ``force``); then mark the folder as ``command``'s. The same command on its
    own folder passes (it resumes)."""
    out = Path(out)
    other = out_owner(out)
    if other is not None and other != command and not force:
        replaced = [n for n in OUTPUTS[command] if (out / n).exists()]
        what = f"its {', '.join(replaced)} would be replaced" if replaced else "the two would mix"
        raise ActlabError(
            f"{str(out)!r} holds the results of 'actlab {other}' ({what}); choose a new --out, "
            f"or add --force to write there anyway"
        )
    if other is None and not force:  # files of the same names that no actlab command wrote here
        foreign = [n for n in OUTPUTS[command] if (out / n).exists()]
        if foreign:
            raise ActlabError(
                f"{str(out)!r} holds {', '.join(foreign)} that 'actlab {command}' would replace, and they "
                "are not actlab's results; choose a new --out, or add --force to write there anyway"
            )
    if read_json_table(out / OWNER_MARK) != {"command": command}:
        write_json_atomic(out / OWNER_MARK, {"command": command})


MAX_JSON_BYTES = 512 * 2**20  # larger than any file actlab writes; a bigger one is refused, not read into memory


def read_json(path: str | Path, what: str, fix: str) -> Any:
    """The JSON content of ``path``, or one line: ``cannot read WHAT 'PATH' (why); FIX``. Any bytes
    (not UTF-8, truncated, nested a million levels deep, huge numbers) give that line, never a
    traceback; what the content means is for the caller to check."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_JSON_BYTES:
            raise ActlabError(f"cannot read {what} {str(p)!r} (larger than {MAX_JSON_BYTES >> 20} MiB); {fix}")
        return json.loads(p.read_bytes().decode("utf-8"))
    except ActlabError:
        raise
    except OSError as e:
        why = e.strerror or str(e)
    except UnicodeDecodeError:
        why = "not UTF-8 text"
    except RecursionError:
        why = "nested too deeply"
    except (ValueError, MemoryError) as e:  # not JSON, a number too long to convert
        why = (
            "not valid JSON: a number with too many digits"
            if "int_max_str_digits" in str(e)
            else f"not valid JSON: {first_line(e)[:120]}"
        )
    raise ActlabError(f"cannot read {what} {str(p)!r} ({why}); {fix}")
