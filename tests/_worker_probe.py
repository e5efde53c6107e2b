"""What a test asks of actlab's worker processes: functions they import by name."""

from __future__ import annotations

import os
import sys


def environ(name: str) -> str | None:
    return os.environ.get(name)


def loaded(names: list[str]) -> list[str]:
    """Which of ``names`` this process has imported."""
    return [n for n in names if n in sys.modules]


def ends_at_once() -> bool:
    """Whether this process would end as actlab's fork server does (inherited from it)."""
    from actlab._processes import ENDS_AT_ONCE

    return ENDS_AT_ONCE


def collector() -> tuple[bool, int]:
    """Whether this process's garbage collector is on, and how many objects it keeps out of sight."""
    import gc

    return gc.isenabled(), gc.get_freeze_count()
