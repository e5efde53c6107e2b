"""What one training run produced (:class:`RunResult`), the one rule that scores it, and the one
check of what a run record read back from a file must hold.

The score of a run is its **best validation accuracy**: the highest finite ``val_accuracy`` over
the epochs it ran. A run that diverged keeps the best it reached before (the weights of that epoch
are the ones its test scored, see ``TrainConfig.restore_best``); ``null``, NaN or a missing value
counts as no value, and a run with no value at all (it diverged in its first epoch, or ran no
epoch) scores 0. Search scores its trials, screen and the surrogate their functions, and evolve
its candidates by this rule; a study that fails a diverged run outright (evolve's fitness, the
test accuracy of final runs) says so where it does.

A run of the user's own training loop (:mod:`actlab.training.fit`) has no epochs: its record is
what the loop returned (``fit``), and its score is the metric selected on, in its direction
(:func:`run_score`: negated for a metric to minimise, so that every study maximises; minus infinity
when it was not finite).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from actlab._errors import ActlabError
from actlab._io import finite_float

STATUSES = ("finished", "stopped", "diverged", "pruned")  # RunResult.status


@dataclass
class RunResult:
    """What one training run produced; ``to_dict()`` is JSON-ready."""

    status: str  # finished | stopped | diverged | pruned
    epochs: list[dict[str, Any]]  # one record per completed (or diverged) epoch
    test: dict[str, float]  # empty (and final_train too) for a training without final scores
    final_train: dict[str, float]  # train split scored in eval mode with the tested weights
    best_epoch: int | None
    n_params: int
    seconds: float
    diagnostics: dict[str, dict[str, float]] = field(default_factory=dict)
    learned: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # see learned_parameters
    fit: dict[str, Any] | None = None  # a user's loop: name, version, metric, direction, metrics

    @property
    def epoch_seconds(self) -> float:
        """Mean wall time of one training pass over the data."""
        t = [e["seconds"] for e in self.epochs if e.get("seconds") is not None]
        return float(np.mean(t)) if t else math.nan

    @property
    def best_val_accuracy(self) -> float:
        """The run's score: its best finite validation accuracy, 0 when it has none (see the
        module docstring)."""
        return _best_val(self.epochs)

    @property
    def score(self) -> float:
        """What the studies select on, higher better (:func:`run_score`)."""
        return run_score({"fit": self.fit, "epochs": self.epochs})

    def to_dict(self) -> dict[str, Any]:
        d = {**asdict(self), "epoch_seconds": self.epoch_seconds}
        if self.fit is None:
            del d["fit"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunResult:
        """The result of a :meth:`to_dict` (as written, or read back from a file); one line when
        ``d`` is not one (:meth:`check`)."""
        if not cls.check(d):
            raise ActlabError("not a training result: a RunResult record with its numbers was expected")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @staticmethod
    def check(d: Any) -> bool:
        """Whether ``d`` is a training result the summaries and reports can read (what
        :meth:`to_dict` writes): a known ``status``, numbers where numbers belong (``null`` for one
        that was not finite), accuracies from 0 to 1, ``null`` only in the epochs of a diverged
        run; a string, NaN or 5.0 accuracy is not. The one rule for a run record read from a file."""
        if not isinstance(d, Mapping) or d.get("status") not in STATUSES:
            return False
        if d.get("fit") is not None:
            return _fit_ok(d)
        epochs = d.get("epochs")
        if not isinstance(epochs, list) or not all(isinstance(e, dict) and _numbers(e) for e in epochs):
            return False
        diverged = d["status"] == "diverged"
        if not all(_accuracy(v, diverged) for e in epochs for k, v in e.items() if k.endswith("accuracy")):
            return False
        unscored = d.get("test") == {} and d.get("final_train") == {}  # TrainConfig.final_scores off
        scored = _scores_ok(d.get("test"), ("loss", "f1")) and _scores_ok(d.get("final_train"), ())
        return (unscored or scored) and _extras_ok(d)


def best_val_accuracy(result: Mapping[str, Any]) -> float:
    """:attr:`RunResult.best_val_accuracy` of a result as a dict (``RunResult.to_dict()``, as run
    records hold it): the one scoring rule, for records read from files."""
    epochs = result.get("epochs")
    return _best_val(epochs if isinstance(epochs, list) else [])


def run_score(result: Mapping[str, Any]) -> float:
    """The one score the studies select on, higher better: a user's loop's selected metric
    (negated where it is minimised, minus infinity where it was not finite), else
    :func:`best_val_accuracy`."""
    fit = result.get("fit")
    if not isinstance(fit, Mapping):
        return best_val_accuracy(result)
    metrics = fit.get("metrics")
    value = finite_float(metrics.get(fit.get("metric")) if isinstance(metrics, Mapping) else None)
    if value is None:
        return -math.inf
    return -value if fit.get("direction") == "min" else value


def score_line(result: Mapping[str, Any]) -> str:
    """The score as progress lines say it: ``val acc 0.912``, ``val_loss 0.310`` (unsigned)."""
    fit = result.get("fit")
    if not isinstance(fit, Mapping):
        return f"val acc {best_val_accuracy(result):.3f}"
    v = run_score(result)
    shown = f"{-v if fit.get('direction') == 'min' else v:.3f}" if math.isfinite(v) else "n/a"
    return f"{fit.get('metric')} {shown}"


def _fit_ok(d: Mapping[str, Any]) -> bool:
    """A user's loop's result: its metrics numbers, its test scores numbers with an accuracy from 0
    to 1 where there is one, no epochs."""
    fit, test = d["fit"], d.get("test")
    return (
        isinstance(fit, dict)
        and isinstance(fit.get("metric"), str)
        and isinstance(fit.get("metrics"), dict)
        and _numbers(fit["metrics"])
        and d.get("epochs") == []
        and isinstance(test, dict)
        and _numbers(test)
        and ("accuracy" not in test or _accuracy(test["accuracy"]))
        and _extras_ok(d)
    )


def _best_val(epochs: list[Any]) -> float:
    accs = (e.get("val_accuracy") for e in epochs if isinstance(e, Mapping))
    return max((f for f in map(finite_float, accs) if f is not None), default=0.0)


def _numbers(v: Any, depth: int = 0) -> bool:
    """True for numbers (or None, booleans), and tables / lists of them, as run records hold."""
    if v is None or isinstance(v, bool) or _is_number(v):
        return True
    if depth < 3 and isinstance(v, dict):
        return all(isinstance(k, str) and _numbers(x, depth + 1) for k, x in v.items())
    if depth < 3 and isinstance(v, list):
        return all(_numbers(x, depth + 1) for x in v)
    return False


def _is_number(v: Any) -> bool:
    """A number a report can compute with: NaN and infinity pass (readers skip them), a whole
    number beyond a float's range does not."""
    return isinstance(v, float) or finite_float(v) is not None


def _accuracy(v: Any, null_ok: bool = False) -> bool:
    """An accuracy: a finite number from 0 to 1; null (NaN before it is written) only where there
    is none (``null_ok``)."""
    f = finite_float(v)
    if f is None:
        return null_ok and (v is None or (isinstance(v, float) and math.isnan(v)))
    return 0 <= f <= 1


def _scores_ok(part: Any, required: tuple[str, ...]) -> bool:
    """A split's scores (``test``, ``final_train``): an accuracy, and numbers or null (a number
    that was not finite, a diverged run's loss: see actlab._io) for the rest, ``required`` present."""
    return (
        isinstance(part, dict)
        and _accuracy(part.get("accuracy"))
        and all(v is None or _is_number(v) for v in part.values())
        and all(k in part for k in required)
    )


def _extras_ok(d: Mapping[str, Any]) -> bool:
    """The rest of a result: diagnostics and learned parameters as tables of numbers, a whole best
    epoch (or null), numbers of parameters and seconds."""
    diag = d.get("diagnostics", {})
    if not isinstance(diag, dict) or not all(isinstance(v, dict) and _numbers(v) for v in diag.values()):
        return False
    best = d.get("best_epoch")
    return (
        (best is None or (isinstance(best, int) and not isinstance(best, bool)))
        and _is_number(d.get("n_params"))
        and _is_number(d.get("seconds"))
        and _numbers(d.get("learned", {}))
    )


__all__ = ["STATUSES", "RunResult", "best_val_accuracy", "run_score", "score_line"]
