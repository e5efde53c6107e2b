"""References to a user's own code: ``path/to/file.py:name`` or ``package.module:name`` (the
convention of ``uvicorn module:app``), naming a model builder, a data loader or a training loop.

A user's module is imported only when a command line or a Python call names it (:func:`load_ref`):
nothing actlab reads from a file (results, checkpoints, best.json) imports anything on its own. A
file is imported under a module name derived from its absolute path, once per process, with its
folder on ``sys.path`` as when Python runs a script; a ``package.module`` is imported with the
current folder on ``sys.path`` (as ``python -m`` does), so that worker processes find it too.

``csv:PATH`` and ``npz:PATH`` data specs have the same form: a loader checks them first.

Whatever the user's code raises becomes one line naming the user's file and line
(:func:`call_user`); an :class:`~actlab.ActlabError` it raises passes unchanged.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actlab._errors import ActlabError, first_line

_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_FILES: dict[str, str] = {}  # module name of an imported file -> the file's name
_DIGESTS: dict[str, str] = {}  # module name of an imported file -> the hash of what was imported
_PACKAGE = str(Path(__file__).resolve().parent) + "/"
_ATTR = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
SOURCE = "source"  # the entry of a model's or data's options that holds its file's hash and the user's version
DATA_FILES = ("csv", "npz")  # csv:PATH, npz:PATH: data files, which have the form of a reference


def is_ref(text: Any) -> bool:
    """Whether ``text`` has the form of a reference (``file.py:name`` or ``package.module:name``);
    whether it can be imported is :func:`load_ref`'s question."""
    if not isinstance(text, str) or ":" not in text:
        return False
    target, _, attr = text.strip().rpartition(":")
    return bool(_ATTR.match(attr)) and (target.endswith(".py") or bool(_MODULE.match(target)))


def is_data_file(text: Any) -> bool:
    """Whether ``text`` names a data file (``csv:PATH``, ``npz:PATH``), not a loader."""
    return isinstance(text, str) and text.partition(":")[0].strip().lower() in DATA_FILES


def load_ref(text: str, what: str) -> Callable[..., Any]:
    """The callable that ``text`` names, its module imported now. ``what`` says what it is for in
    errors ("model builder", "data loader", "training loop")."""
    target, _, attr = _parts(text, what)
    module = _import_file(Path(target), what) if target.endswith(".py") else _import_module(target, what)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ActlabError(f"{target} has no {attr!r} (the {what} {text!r}); check the name after ':'")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ActlabError(f"{text} is a {type(obj).__name__}, not a function; the {what} must be callable")
    return obj


def _parts(text: str, what: str) -> tuple[str, str, str]:
    """``(target, ":", attribute)`` of a reference; one line where ``text`` is none."""
    if not is_ref(text):
        raise ActlabError(
            f"cannot read the {what} {text!r}; name it as path/to/file.py:function or package.module:function"
        )
    return text.strip().rpartition(":")


def _existing(path: Path, what: str) -> Path:
    path = path.expanduser()
    if not path.is_file():
        raise ActlabError(
            f"{what} file {str(path)!r} not found; give the path of a .py file (relative to {os.getcwd()})"
        )
    return path


def _import_file(path: Path, what: str) -> Any:
    path = _existing(path, what)
    full = path.resolve()
    stem = re.sub(r"\W", "_", full.stem)
    name = f"actlab_user_{stem}_{hashlib.sha1(str(full).encode()).hexdigest()[:8]}"
    digest = _digest(full)
    if name in sys.modules and _DIGESTS.get(name) == digest:
        return sys.modules[name]
    _FILES[name], _DIGESTS[name] = full.name, digest  # a file changed since its import is imported anew
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise ActlabError(f"cannot import {str(path)!r} as Python; the {what} must be in a .py file")
    module = importlib.util.module_from_spec(spec)
    if str(full.parent) not in sys.path:
        sys.path.insert(0, str(full.parent))  # as when Python runs the file: its neighbours import
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as e:
        del sys.modules[name]
        if isinstance(e, Exception):
            raise ActlabError(f"importing {path} failed: {_where(e, full)}") from None
        raise
    return module


def _import_module(name: str, what: str) -> Any:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as python -m does: a package in the current folder imports
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and name.startswith(e.name):
            raise ActlabError(
                f"no module named {e.name!r} for the {what}; run from the folder that holds it or give a file path"
            ) from None
        raise ActlabError(f"importing {name} failed: {_where(e)}") from None
    except Exception as e:
        raise ActlabError(f"importing {name} failed: {_where(e)}") from None


def source_hash(text: str, what: str) -> str | None:
    """The first 12 hex digits of the sha256 of the file that defines what ``text`` names: the
    ``file.py`` itself, or the source file of ``package.module``, found without importing it. None
    where there is no such file (a namespace package; a file or module not found: importing it
    says so in one line). Part of a run's key: editing the file makes its runs new ones."""
    target = _parts(text, what)[0]
    path = Path(target).expanduser() if target.endswith(".py") else _module_file(target)
    return _digest(path) if path is not None and path.is_file() else None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _module_file(name: str) -> Path | None:
    """The file of module ``name``, looked up package by package from the current folder and
    ``sys.path`` (as :func:`_import_module` imports it) without running any package's code."""
    module = sys.modules.get(name)
    if module is not None:
        file = getattr(module, "__file__", None)
        return Path(file) if file else None
    search, spec = [os.getcwd(), *sys.path], None
    parts = name.split(".")
    for i in range(len(parts)):
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]), search)
        if spec is None:
            return None
        search = list(spec.submodule_search_locations or [])
    return Path(spec.origin) if spec is not None and spec.has_location and spec.origin else None


def qualified_name(fn: Any) -> str:
    """How a run's key and messages name a user's callable: ``file.py:qualname`` for one imported
    from a file (its folder left out, so the name is the same on every machine),
    ``module:qualname`` otherwise."""
    module = getattr(fn, "__module__", None) or "?"
    return f"{_FILES.get(module, module)}:{getattr(fn, '__qualname__', type(fn).__name__)}"


def call_user(fn: Callable[..., Any], *args: Any, what: str, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``: the user's code. Whatever it raises becomes one line naming the
    user's file and line (an ActlabError it raises itself passes unchanged)."""
    try:
        return fn(*args, **kwargs)
    except ActlabError:
        raise
    except Exception as e:
        raise ActlabError(f"the {what} {qualified_name(fn)} failed: {_where(e, _file_of(fn))}") from e


def defined_at(fn: Any) -> str:
    """``path/file.py:LINE`` where the user's function ``fn`` is defined (for errors about what it
    returned); its qualified name where it has no code of its own."""
    code = _code(fn)
    return f"{code.co_filename}:{code.co_firstlineno}" if code is not None else qualified_name(fn)


def _code(fn: Any) -> Any:
    return getattr(getattr(fn, "__func__", fn), "__code__", None)


def _file_of(fn: Any) -> Path | None:
    code = _code(fn)
    return Path(code.co_filename).resolve() if code is not None else None


def _where(e: BaseException, file: Path | None = None) -> str:
    """``Type: message (file:line)``: the deepest frame in ``file``, else in any file outside
    actlab, torch and the standard library."""
    frames = traceback.extract_tb(e.__traceback__)
    if isinstance(e, SyntaxError) and e.filename:
        return f"SyntaxError: {e.msg} ({e.filename}:{e.lineno})"
    mine = [f for f in frames if file is not None and Path(f.filename).resolve() == file]
    users = mine or [f for f in frames if not _library(f.filename)]
    at = f" ({users[-1].filename}:{users[-1].lineno})" if users else ""
    return f"{type(e).__name__}: {first_line(e)}{at}"


def _library(filename: str) -> bool:
    path = filename.replace("\\", "/")
    return (
        "/site-packages/" in path
        or "/dist-packages/" in path
        or path.startswith("<")
        or path.startswith(_PACKAGE)
        or path.startswith(sys.prefix)
        or path.startswith(getattr(sys, "base_prefix", sys.prefix))
    )


__all__ = [
    "DATA_FILES",
    "SOURCE",
    "call_user",
    "defined_at",
    "is_data_file",
    "is_ref",
    "load_ref",
    "qualified_name",
    "source_hash",
]
