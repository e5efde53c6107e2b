"""Atomic file writes: a reader (or a rerun after a kill) sees the old file or the complete new
one, never a half-written one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | Path, text: str) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=1, allow_nan=True, default=_default))


def _default(o: Any) -> Any:
    tolist = getattr(o, "tolist", None)  # tensors and arrays
    return tolist() if callable(tolist) else str(o)
