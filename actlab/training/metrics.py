"""Classification metrics: accuracy, macro precision / recall / F1, one-vs-rest AUC."""

from __future__ import annotations

import math

import torch

METRICS = ("accuracy", "precision", "recall", "f1", "auc")


def classification_metrics(logits: torch.Tensor, y: torch.Tensor, n_classes: int, auc: bool = True) -> dict[str, float]:
    """Metrics of predictions ``argmax(logits)`` against labels ``y``.

    Rows of ``logits`` that are not finite count as wrong predictions. Precision, recall and F1
    are macro averages over the classes present in ``y`` or predicted (a class never predicted
    has precision 0). AUC is the macro one-vs-rest ROC AUC of the softmax probabilities over the
    classes present in ``y`` (NaN if fewer than two are present or the outputs are not finite).
    """
    return batched_classification_metrics(logits.unsqueeze(0), y, n_classes, auc)[0]


def batched_classification_metrics(
    logits: torch.Tensor, y: torch.Tensor, n_classes: int, auc: bool = True
) -> list[dict[str, float]]:
    """:func:`classification_metrics` of K models at once: ``logits`` of shape ``(K, N, classes)``
    against the same labels; one dict per model (the packed trainer scores every member so)."""
    logits = logits.detach().float()
    ok = torch.isfinite(logits).all(2)  # (K, N): a row with NaN or inf predicts nothing: counted wrong
    columns = _prediction_columns(logits.argmax(2), ok, y.to(logits.device), n_classes)
    if auc:
        columns["auc"] = _auc_ovr(logits, y.to(logits.device), n_classes)
    values = {name: col.tolist() for name, col in columns.items()}
    return [{name: values[name][i] for name in columns} for i in range(logits.shape[0])]


def prediction_metrics(pred: torch.Tensor, y: torch.Tensor, n_classes: int) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of predicted classes ``pred`` against labels ``y``
    (no AUC: it needs scores); the trainer keeps only the predictions of its training pass."""
    columns = _prediction_columns(pred.unsqueeze(0), torch.ones_like(pred, dtype=torch.bool).unsqueeze(0), y, n_classes)
    return {name: float(col[0]) for name, col in columns.items()}


def _prediction_columns(pred: torch.Tensor, ok: torch.Tensor, y: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """Per-model accuracy and macro precision / recall / F1 of predictions ``(K, N)``; rows where
    ``ok`` is false count as wrong."""
    K = pred.shape[0]
    cell = torch.arange(K, device=y.device).unsqueeze(1) * (k * k) + y * k + pred
    cm = torch.bincount(cell[ok], minlength=K * k * k).reshape(K, k, k).double()
    tp = cm.diagonal(dim1=1, dim2=2)
    support, predicted = torch.bincount(y, minlength=k).double().expand(K, k), cm.sum(1)
    present = (support + predicted) > 0
    zero = torch.zeros_like(tp)
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), zero)
    recall = torch.where(support > 0, tp / support.clamp(min=1), zero)
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall).clamp(min=1e-12), zero)
    n_present = present.sum(1).clamp(min=1)
    return {
        "accuracy": tp.sum(1) / max(len(y), 1),
        "precision": torch.where(present, precision, zero).sum(1) / n_present,
        "recall": torch.where(present, recall, zero).sum(1) / n_present,
        "f1": torch.where(present, f1, zero).sum(1) / n_present,
    }


def _auc_ovr(logits: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
    """Macro one-vs-rest ROC AUC of each of K models (logits ``(K, N, classes)``) in its Mann-
    Whitney form, ties counted half (as scikit-learn), every class at once: one sort per class,
    tied runs given their average rank. NaN for a model whose outputs are not all finite."""
    finite = torch.isfinite(logits).flatten(1).all(1)  # (K,)
    logits = torch.where(finite[:, None, None], logits, torch.zeros_like(logits))
    s = torch.softmax(logits.double(), 2).transpose(1, 2).contiguous()  # (K, k, N)
    # probabilities are non-negative doubles: their bits sort as integers in the same order, faster
    v, order = s.view(torch.int64).flatten(0, 1).sort(dim=1)
    n = s.shape[2]
    pos = y.unsqueeze(0) == torch.arange(k, device=y.device).unsqueeze(1)  # (k, N)
    hits = pos.expand(s.shape[0], k, n).flatten(0, 1).gather(1, order)  # positives in sorted order
    n1 = pos.sum(1).double()
    n0 = n - n1
    valid = (n1 > 0) & (n0 > 0)
    if not bool(valid.any()):
        return torch.full((logits.shape[0],), math.nan, dtype=torch.float64)
    rank_sum = _rank_sums(v, hits).view(s.shape[0], k)  # (K, k)
    auc = (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0).clamp(min=1)
    out = auc[:, valid].mean(1)
    return torch.where(finite, out, torch.full_like(out, math.nan))


def _rank_sums(v: torch.Tensor, hits: torch.Tensor) -> torch.Tensor:
    """Per row of sorted values ``v`` ``(R, N)``: the sum of the 1-based ranks at the ``hits``,
    tied values given their average rank (worked out only for the rows with ties)."""
    n = v.shape[1]
    at = torch.arange(n, device=v.device)
    out = torch.where(hits, at + 1, torch.zeros_like(at)).sum(1).double()
    tied = (v[:, 1:] == v[:, :-1]).any(1)
    if bool(tied.any()):
        rows = tied.nonzero().flatten()
        v, hits = v[rows], hits[rows]
        at = at.expand_as(v)
        first = torch.ones_like(v, dtype=torch.bool)
        first[:, 1:] = v[:, 1:] != v[:, :-1]  # a run of equal values starts here
        last = torch.ones_like(first)
        last[:, :-1] = first[:, 1:]
        start = torch.where(first, at, torch.zeros_like(at)).cummax(1).values
        end = torch.where(last, at, torch.full_like(at, n)).flip(1).cummin(1).values.flip(1)
        out[rows] = torch.where(hits, start + end, torch.zeros_like(at)).sum(1).double() / 2 + hits.sum(1)
    return out
