"""A function alone as an ONNX model: :func:`to_onnx`."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from pathlib import Path

import torch

from actlab._errors import ActlabError, first_line
from actlab._io import write_file_atomic
from actlab.interop.exported import learns, one, require


def to_onnx(spec: str | Path, path: str | Path, *, slot: str | None = None, rank: int = 2) -> Path:
    """Write the function alone as an ONNX model: input ``x``, output ``y``, float32 tensors of
    ``rank`` dimensions, each of any size (``torch.onnx.export`` with the ``torch.export``
    exporter, onnxscript). Returns ``path``.

    A model that uses an actlab function exports as it is with ``torch.onnx.export``; this is for
    the function on its own. Functions with learned weights (FReLU, PReLU) or random ones are refused.
    """
    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise ActlabError(f"to_onnx writes to a file: give its path, e.g. 'act.onnx'; got {repr(path)[:40]}")
    f = one(spec, None, slot)
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= 6:
        raise ActlabError(f"rank must be a whole number from 1 to 6, got {rank!r}")
    act = f.module().eval()
    if f.entry is not None and (f.entry.axis == "spatial" or f.entry.stochastic) or learns(act):
        raise ActlabError(
            f"cannot export {f.spec!r} alone to ONNX: it has learned weights or draws random numbers; "
            "export the trained model that holds it with torch.onnx.export"
        )
    for module in ("onnx", "onnxscript"):
        require(module, "to_onnx")
    path = Path(path)
    try:
        return write_file_atomic(path, lambda tmp: _export(act, rank, tmp))
    except OSError as e:
        raise ActlabError(f"cannot write {str(path)!r} ({e.strerror or e}); choose another file") from None
    except Exception as e:  # the exporter refuses the function
        why = re.sub(r"\x1b\[[0-9;]*m", "", first_line(e))[:160]  # the exporter colours its messages
        raise ActlabError(f"cannot export {f.spec!r} to ONNX: {type(e).__name__}: {why}") from None


def _export(act: torch.nn.Module, rank: int, path: Path) -> None:
    """``torch.onnx.export`` of ``act`` on inputs of ``rank`` dimensions of any size, quietly."""
    x = torch.randn((3,) * rank)
    dims = (dict.fromkeys(range(rank), torch.export.Dim.DYNAMIC),)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), _quiet("torch.onnx"):
        warnings.simplefilter("ignore")  # the exporter's progress lines, notes and warnings
        torch.onnx.export(
            act,
            (x,),
            str(path),
            input_names=["x"],
            output_names=["y"],
            dynamic_shapes=dims,
            dynamo=True,
            external_data=False,
        )


@contextlib.contextmanager
def _quiet(logger: str):
    """The logger ``logger`` silenced below errors for a while."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


__all__ = ["to_onnx"]
