"""What the study functions return: the results of a study and the folder that holds them.

A result object wraps the ``results.json`` content a study writes (:attr:`Result.results`) and
its folder (:attr:`Result.out`). ``table()`` is the text the command line prints, ``to_pandas()``
a tidy frame (one row per run; pandas is optional), ``best`` the winner and its score,
``report(path)`` the HTML report, ``plot()`` a matplotlib figure for a notebook.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from actlab._errors import ActlabError


def pandas():
    """The pandas module, or one line saying how to install it."""
    try:
        return importlib.import_module("pandas")
    except ImportError:
        raise ActlabError("to_pandas() needs pandas: pip install pandas") from None


@dataclass(frozen=True)
class Result:
    """The results of one study (``results``: its results.json) in its folder ``out``."""

    results: dict[str, Any]
    out: Path
    COLUMNS: ClassVar[tuple[str, ...]] = ()  # the columns of to_pandas(), in order

    def table(self) -> str:
        """The text the command line prints at the end of the study."""
        raise NotImplementedError

    def rows(self) -> list[dict[str, Any]]:
        """One dict per run, with the keys of :meth:`columns`."""
        raise NotImplementedError

    def columns(self) -> list[str]:
        """The columns of :meth:`to_pandas`, in order."""
        return list(self.COLUMNS)

    @property
    def best(self) -> dict[str, Any] | None:
        """The winner and its score (None where the study has none yet)."""
        raise NotImplementedError

    def write_report(self, folder: Path) -> Path:
        raise NotImplementedError

    def figure(self):
        raise NotImplementedError

    def to_pandas(self):
        """A pandas DataFrame, one row per run (its columns: :meth:`columns`)."""
        return pandas().DataFrame(self.rows(), columns=self.columns())

    def report(self, path: str | Path | None = None) -> Path:
        """Write the HTML report (``report.html`` and its figures) into folder ``path`` (default:
        :attr:`out`); return the page's path."""
        folder = Path(self.out if path is None else path)
        folder.mkdir(parents=True, exist_ok=True)
        return self.write_report(folder)

    def plot(self):
        """A matplotlib Figure of the study (shown by a notebook as the cell's value)."""
        return self.figure()

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} out={str(self.out)!r}>"


__all__ = ["Result", "pandas"]
