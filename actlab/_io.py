"""Atomic file writes: a reader (or a rerun after a kill) sees the old file or the complete new
one, never a half-written one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ._errors import ActlabError


def prepare_out(out: str | Path, *subdirs: str) -> Path:
    """Create ``out`` (and its ``subdirs``) and prove it is writable, or say so in one line."""
    out = Path(out)
    try:
        for d in subdirs or ("",):
            (out / d).mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise ActlabError(f"cannot write to --out {str(out)!r} ({e.strerror or e}); choose a folder you can write to") from None
    return out


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
