"""actlab's studies from Python: :func:`compare`, :func:`search`, :func:`evolve` and
:func:`screen` take the command line's long options as keywords (``batch_size=32`` is
``--batch-size 32``) with its defaults and its ``--out`` folder (resumed, shared, another
command's refused), and return a result object (:mod:`actlab.api.results`): ``table()``,
``to_pandas()``, ``best``, ``report(path)``, ``plot()`` and ``out``.

A layer above the studies and the reports, below the command line, which calls these functions.
Each name loads its study on first use (PEP 562): ``actlab compare`` loads nothing of evolve.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from actlab.api._compare import CompareResult, compare
    from actlab.api._evolve import EvolveResult, evolve
    from actlab.api._screen import ScreenResult, screen
    from actlab.api._search import SearchResult, search
    from actlab.api.results import Result

# the module that defines them -> public names
_FROM = {
    "actlab.api._compare": ("CompareResult", "compare"),
    "actlab.api._evolve": ("EvolveResult", "evolve"),
    "actlab.api.results": ("Result",),
    "actlab.api._screen": ("ScreenResult", "screen"),
    "actlab.api._search": ("SearchResult", "search"),
}
_WHERE = {name: module for module, names in _FROM.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'actlab.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "CompareResult",
    "EvolveResult",
    "Result",
    "ScreenResult",
    "SearchResult",
    "compare",
    "evolve",
    "screen",
    "search",
]
