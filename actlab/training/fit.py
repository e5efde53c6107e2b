"""A user's own training loop: ``fit(model, data, config) -> dict of metrics`` in place of
actlab's trainer (``TrainConfig(fit=...)``, ``--fit path/to/file.py:fit``).

``model`` is the built ``nn.Module`` with the plan's activations (seeded as actlab's trainer seeds
it), ``data`` the :class:`~actlab.data.Dataset` with its train, validation and test splits,
``config`` the :class:`~actlab.training.TrainConfig`. The metrics it returns are the run's record
(:class:`~actlab.training.RunResult` ``fit``): the studies select on ``config.fit_metric`` in
``config.fit_direction``, the ``test_*`` metrics are the run's test scores, and a selection metric
that is not finite makes the run ``diverged``.

A loop is named by a reference (``file.py:name``, ``package.module:name``, see :mod:`actlab._refs`)
and imported where the run trains, in a worker process too. A callable given from Python that no
reference reaches (defined in ``__main__`` or a notebook) is kept in this process only
(:func:`reference`), and its runs train here only (:func:`local_only`).
"""

from __future__ import annotations

import numbers
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from torch import nn

from actlab._errors import ActlabError
from actlab._io import finite_float
from actlab._refs import call_user, is_ref, load_ref, qualified_name
from actlab.data import Dataset
from actlab.training.result import RunResult

if TYPE_CHECKING:
    from actlab.training.trainer import TrainConfig

WHAT = "training loop"
DIRECTIONS = ("max", "min")
DEFAULT_METRIC = "val_accuracy"
_LOCAL: dict[str, Callable[..., Any]] = {}  # reference -> a loop that only this process can call
LOCAL_ONLY = (
    "the training loop {ref} is defined where no other process can import it (a script's __main__ or a "
    "notebook): train in this process (workers=1), or put it in a file and name it as path/to/file.py:fit"
)
_METRIC = re.compile(r"^[A-Za-z_][\w.-]{0,99}$")


def reference(fit: Any) -> str:
    """How a unit names the loop ``fit`` (a reference string, checked by importing it now, or a
    callable): a reference that imports anywhere, or, for a callable none reaches, the name under
    which this process keeps it."""
    if isinstance(fit, str):
        ref = fit.strip()
        if ref not in _LOCAL:
            if ref.startswith("__main__:"):
                raise ActlabError(LOCAL_ONLY.format(ref=ref))
            load_ref(ref, WHAT)
        return ref
    if not callable(fit):
        raise ActlabError(f"fit must be a function or a reference such as train.py:fit, got {type(fit).__name__}")
    found = _importable(fit)
    if found is not None:
        return found
    ref = qualified_name(fit)
    _LOCAL[ref] = fit
    return ref


def _importable(fn: Any) -> str | None:
    """The reference that imports ``fn`` itself in any process, or None."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    code = getattr(fn, "__code__", None)
    if module and module.startswith("actlab_user_") and code is not None:  # imported from a file by load_ref
        ref = f"{code.co_filename}:{qualname}"
    elif module and module != "__main__":
        ref = f"{module}:{qualname}"
    else:
        return None
    if not is_ref(ref):
        return None
    try:
        return ref if load_ref(ref, WHAT) is fn else None
    except ActlabError:
        return None


def load_fit(ref: str) -> Callable[..., Any]:
    """The loop a reference names (imported now, once per process)."""
    return _LOCAL.get(ref) or load_ref(ref, WHAT)


def local_only(ref: Any) -> bool:
    """Whether the loop ``ref`` can train in this process only."""
    return isinstance(ref, str) and ref in _LOCAL


def check_settings(version: Any, metric: Any, direction: Any) -> None:
    """One line for a version, selection metric or direction actlab cannot use."""
    if version is not None and (not isinstance(version, str) or not 0 < len(version) <= 200):
        raise ActlabError(f"the fit version must be a string of 1 to 200 characters, got {version!r}")
    if not isinstance(metric, str) or not _METRIC.match(metric):
        raise ActlabError(f"the fit metric must be a metric's name such as val_accuracy or val_loss, got {metric!r}")
    if direction not in DIRECTIONS:
        raise ActlabError(f"the fit direction must be max or min, got {direction!r}")


def train_fit(build: Callable[[], nn.Module] | nn.Module, data: Dataset, config: TrainConfig) -> RunResult:
    """One run of the user's loop ``config.fit`` (seeded by the caller): the model built, the loop
    called, its metrics checked and recorded."""
    fn = load_fit(str(config.fit))
    model = build() if callable(build) and not isinstance(build, nn.Module) else build
    start = time.perf_counter()
    returned = call_user(fn, model, data, config, what=WHAT)
    seconds = time.perf_counter() - start
    metrics = _metrics(returned, qualified_name(fn), config.fit_metric)
    value = metrics[config.fit_metric]
    test: dict[str, Any] = {k[len("test_") :]: v for k, v in metrics.items() if k.startswith("test_")}
    return RunResult(
        status="finished" if value is not None else "diverged",
        epochs=[],
        test=test,
        final_train={},
        best_epoch=None,
        n_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        seconds=seconds,
        fit={
            "name": config.fit_name,
            "version": config.fit_version,
            "metric": config.fit_metric,
            "direction": config.fit_direction,
            "metrics": metrics,
        },
    )


def _metrics(returned: Any, name: str, metric: str) -> dict[str, float | None]:
    """What the loop returned as a table of numbers (None for one that is not finite); one line
    naming the loop when it is not one, or lacks the selection metric."""
    if not isinstance(returned, Mapping):
        raise ActlabError(
            f"the {WHAT} {name} returned a {type(returned).__name__}; it must return a dict of metrics, "
            f"e.g. {{'{metric}': ...}}"
        )
    out: dict[str, float | None] = {}
    for k, v in returned.items():
        number = _number(v)
        if not isinstance(k, str) or number is False:
            raise ActlabError(f"the {WHAT} {name} returned {k!r}: {type(v).__name__}; metrics must be numbers")
        out[k] = number
        if k.endswith("accuracy") and number is not None and not 0 <= number <= 1:
            raise ActlabError(f"the {WHAT} {name} returned {k} = {number:g}; an accuracy is a fraction from 0 to 1")
    if metric not in out:
        given = ", ".join(map(str, out)) or "nothing"
        raise ActlabError(
            f"the {WHAT} {name} returned no {metric!r} (it returned {given}); return it, or select on one of "
            "those with --fit-metric"
        )
    return out


def _number(v: Any) -> float | None | bool:
    """``v`` as a float (a Python, NumPy or one-element torch number), None if not finite, False if
    not a number."""
    if isinstance(v, bool) or v is None:
        return False
    if hasattr(v, "item") and getattr(v, "ndim", None) == 0:
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return False
    return finite_float(v)


__all__ = [
    "DEFAULT_METRIC",
    "DIRECTIONS",
    "LOCAL_ONLY",
    "check_settings",
    "load_fit",
    "local_only",
    "reference",
    "train_fit",
]
