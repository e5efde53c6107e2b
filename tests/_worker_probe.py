"""What a test asks of actlab's worker processes: functions they import by name."""

from __future__ import annotations

import os
import sys


def environ(name: str) -> str | None:
    return os.environ.get(name)


def loaded(names: list[str]) -> list[str]:
    """Which of ``names`` this process has imported."""
    return [n for n in names if n in sys.modules]
