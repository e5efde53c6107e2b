"""Progress of long commands (runs, trials, epochs) on stderr, in one style for every command.

A line is ``[bar] done/total what eta | label summary``. On a terminal it redraws one line;
otherwise (logs, CI) it prints one line per finished unit. Units found already finished (a
resumed run, or another process's work) are said as such and left out of the ETA, which counts
only the work this process has seen done since it started. In a Jupyter notebook (the studies
called from Python) it is a tqdm.auto bar instead, where tqdm is installed.
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import Any, TextIO


def duration(seconds: float) -> str:
    """``seconds`` as a person reads it: ``40s``, ``12 min``, ``2.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _notebook_bar(total: int, what: str, done: int) -> Any:
    """A tqdm.auto bar when this runs in a Jupyter kernel and tqdm is installed, else None."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if type(shell).__name__ != "ZMQInteractiveShell":
        return None
    try:
        auto = importlib.import_module("tqdm.auto")
    except ImportError:
        return None
    return auto.tqdm(total=total, initial=done, unit=f" {what}", dynamic_ncols=True)


class Progress:
    """A progress line for ``total`` units named ``what``; ``done`` of them were finished before
    it started (they count in the bar, not in the ETA)."""

    def __init__(
        self, total: int, what: str = "runs", stream: TextIO | None = None, enabled: bool = True, done: int = 0
    ):
        self.total, self.what, self.done = total, what, done
        self.first = done  # finished before this process started, or found finished: not in the ETA's rate
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.label = ""
        self.bar = _notebook_bar(total, what, done) if enabled else None

    def _bar(self, width: int = 20) -> str:
        filled = min(width, int(width * self.done / max(self.total, 1)))
        return "#" * filled + "-" * (width - filled)

    def _eta(self) -> str:
        worked = self.done - self.first
        if worked <= 0:
            return ""
        left = (time.perf_counter() - self.start) / worked * max(self.total - self.done, 0)
        return f" eta {duration(left)}"

    def begin(self, label: str) -> None:
        """Name the unit now running (shown with its :meth:`update` details on a terminal)."""
        self.label = label
        self.update("")

    def update(self, detail: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.label} {detail}".strip())
        elif self.tty:
            line = f"[{self._bar()}] {self.done}/{self.total} {self.what} | {self.label} {detail}"
            self.stream.write("\r" + line[:150].ljust(150))
            self.stream.flush()

    def finish(self, summary: str, skipped: bool = False) -> None:
        """One unit finished (``skipped``: found finished, not done by this process): one line."""
        self.done += 1
        if skipped:
            self.first += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.label} {summary}")
            self.bar.update(1)
            if self.done >= self.total:
                self.bar.close()
            return
        line = f"[{self._bar()}] {self.done}/{self.total} {self.what}{self._eta()} | {self.label} {summary}"
        self.stream.write(("\r" + line[:150].ljust(150) + "\n") if self.tty else line + "\n")
        self.stream.flush()
