"""One validator for the numeric settings of every command and config.

``integer`` and ``number`` return the value (an ``int`` / a ``float``) or raise
:class:`~actlab.ActlabError` with one line naming the setting, the allowed range and what was
given. Bounds are inclusive. The ceilings below are far beyond any sensible run; they stop a
typo (``--epochs 1000000000000``, ``--width 1000000000000``) before it runs for ever or asks
for terabytes of memory.
"""

from __future__ import annotations

import numbers
from typing import Any, Literal, overload

from actlab._errors import ActlabError
from actlab._io import finite_float

MAX_SEED = 2**32 - 1  # numpy's seeds are 32-bit
MAX_EPOCHS = 100_000
MAX_BATCH = 2**24
MAX_THREADS = 1024
MAX_WORKERS = 256
MAX_WIDTH = 16_384  # one 16384 x 16384 float32 layer: 1 GiB, 4 GiB with its gradient and Adam's state
MAX_DEPTH = 256
MAX_COUNT = 1_000_000  # trials, individuals, generations ...
MAX_SEEDS = 10_000  # repetitions of a training with fresh seeds
MAX_PACK = 4096  # trainings packed into one model


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@overload
def integer(
    name: str, value: Any, lo: int | None = ..., hi: int | None = ..., *, none_ok: Literal[False] = ..., hint: str = ...
) -> int: ...
@overload
def integer(
    name: str, value: Any, lo: int | None = ..., hi: int | None = ..., *, none_ok: bool, hint: str = ...
) -> int | None: ...
def integer(
    name: str, value: Any, lo: int | None = None, hi: int | None = None, *, none_ok: bool = False, hint: str = ""
) -> int | None:
    """``value`` as an int in ``[lo, hi]`` (``None`` passes where ``none_ok``), or one line.
    ``hint`` follows a value that is too small or not a number (e.g. how to say "none")."""
    if value is None and none_ok:
        return None
    tail = f"; {hint}" if hint else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 3.0 from a JSON file or a Python caller
        else:
            raise ActlabError(f"{name} must be a whole number, got {_show(value)}{tail}")
    value = int(value)
    if lo is not None and value < lo:
        raise ActlabError(f"{name} must be at least {lo}, got {value}{tail}")
    if hi is not None and value > hi:
        raise ActlabError(f"{name} must be at most {hi}, got {value}")
    return value


@overload
def number(
    name: str,
    value: Any,
    lo: float | None = ...,
    hi: float | None = ...,
    *,
    lo_open: bool = ...,
    none_ok: Literal[False] = ...,
    hint: str = ...,
) -> float: ...
@overload
def number(
    name: str,
    value: Any,
    lo: float | None = ...,
    hi: float | None = ...,
    *,
    lo_open: bool = ...,
    none_ok: bool,
    hint: str = ...,
) -> float | None: ...
def number(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    none_ok: bool = False,
    hint: str = "",
) -> float | None:
    """``value`` as a finite float in ``[lo, hi]`` (``(lo, hi]`` where ``lo_open``), or one line."""
    if value is None and none_ok:
        return None
    tail = f"; {hint}" if hint else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ActlabError(f"{name} must be a number, got {_show(value)}{tail}")
    if finite_float(value) is None:  # NaN, infinity, or a whole number beyond a float's range
        raise ActlabError(f"{name} must be a finite number, got {_show(value)}{tail}")
    value = float(value)
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ActlabError(f"{name} must be {'greater than' if lo_open else 'at least'} {lo:g}, got {value:g}{tail}")
    if hi is not None and value > hi:
        raise ActlabError(f"{name} must be at most {hi:g}, got {value:g}")
    return value


def device(name: str) -> str:
    """A device torch can parse and that this machine has (cpu, cuda, cuda:N, mps), or one line."""
    import torch

    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise ActlabError(f"unknown device {_show(name)}; use cpu, cuda or cuda:N") from None
    if dev.type == "cpu":
        return name
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ActlabError(f"device {name!r}: torch finds no CUDA device on this machine; use --device cpu")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ActlabError(f"device {name!r}: this machine has {n} CUDA device(s), cuda:0 to cuda:{n - 1}")
        return name
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ActlabError(f"device {name!r}: torch finds no MPS device on this machine; use --device cpu")
        return name
    raise ActlabError(f"device {name!r} cannot train actlab's models; use cpu, cuda or cuda:N")
