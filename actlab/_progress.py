"""A small progress bar for long commands (runs and epochs), on stderr.

On a terminal it redraws one line; otherwise (logs, CI) it prints one line per finished unit.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, what: str = "runs", stream: TextIO | None = None, enabled: bool = True):
        self.total, self.what, self.done = total, what, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.label = ""

    def _bar(self, width: int = 20) -> str:
        filled = int(width * self.done / max(self.total, 1))
        return "#" * filled + "-" * (width - filled)

    def _eta(self) -> str:
        if not self.done:
            return ""
        left = (time.perf_counter() - self.start) / self.done * (self.total - self.done)
        return f" eta {left:4.0f}s"

    def begin(self, label: str) -> None:
        self.label = label
        self.update("")

    def update(self, detail: str) -> None:
        if self.tty:
            line = f"[{self._bar()}] {self.done}/{self.total} {self.what} | {self.label} {detail}"
            self.stream.write("\r" + line[:150].ljust(150))
            self.stream.flush()

    def finish(self, summary: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        line = f"[{self._bar()}] {self.done}/{self.total} {self.what}{self._eta()} | {self.label} {summary}"
        self.stream.write(("\r" + line[:150].ljust(150) + "\n") if self.tty else line + "\n")
        self.stream.flush()
