"""Classification metrics: accuracy, macro precision / recall / F1, one-vs-rest AUC."""

from __future__ import annotations

import math

import torch

METRICS = ("accuracy", "precision", "recall", "f1", "auc")


def classification_metrics(logits: torch.Tensor, y: torch.Tensor, n_classes: int, auc: bool = True) -> dict[str, float]:
    """Metrics of predictions ``argmax(logits)`` against labels ``y``.

    Rows of ``logits`` that are not finite count as wrong predictions. Precision, recall and F1 are macro averages over the classes present in ``y`` or predicted
    (a class never predicted has precision 0). AUC is the macro one-vs-rest ROC AUC of the
    softmax probabilities over the classes present in ``y`` (NaN if fewer than two are present
    or the outputs are not finite).
    """
    logits = logits.detach().float()
    y = y.to(logits.device)
    k = n_classes
    ok = torch.isfinite(logits).all(1)  # a row with NaN or inf predicts nothing: counted wrong
    cm = torch.bincount(y[ok] * k + logits[ok].argmax(1), minlength=k * k).reshape(k, k).double()
    tp = cm.diag()
    support, predicted = torch.bincount(y, minlength=k).double(), cm.sum(0)
    present = (support + predicted) > 0
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.zeros_like(tp))
    recall = torch.where(support > 0, tp / support.clamp(min=1), torch.zeros_like(tp))
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall).clamp(min=1e-12), torch.zeros_like(tp))
    out = {
        "accuracy": float(tp.sum() / max(len(y), 1)),
        "precision": float(precision[present].mean()),
        "recall": float(recall[present].mean()),
        "f1": float(f1[present].mean()),
    }
    if auc:
        out["auc"] = _auc_ovr(logits, y, k)
    return out


def _auc_ovr(logits: torch.Tensor, y: torch.Tensor, k: int) -> float:
    """Macro one-vs-rest ROC AUC in its Mann-Whitney form, ties counted half (as scikit-learn),
    every class at once: one sort per class, tied runs given their average rank."""
    if not torch.isfinite(logits).all():
        return math.nan
    s = torch.softmax(logits.double(), 1).t().contiguous()  # (k, N)
    v, order = s.sort(dim=1)
    n = s.shape[1]
    at = torch.arange(n, device=s.device).expand_as(v)
    first = torch.ones_like(v, dtype=torch.bool)
    first[:, 1:] = v[:, 1:] != v[:, :-1]  # a run of equal scores starts here
    last = torch.ones_like(first)
    last[:, :-1] = first[:, 1:]
    start = torch.where(first, at, torch.zeros_like(at)).cummax(1).values
    end = torch.where(last, at, torch.full_like(at, n)).flip(1).cummin(1).values.flip(1)
    rank = torch.empty_like(v).scatter_(1, order, (start + end).double() / 2 + 1)  # 1-based, ties averaged
    pos = y.unsqueeze(0) == torch.arange(k, device=y.device).unsqueeze(1)  # (k, N)
    n1 = pos.sum(1).double()
    n0 = n - n1
    valid = (n1 > 0) & (n0 > 0)
    if not bool(valid.any()):
        return math.nan
    auc = ((rank * pos).sum(1) - n1 * (n1 + 1) / 2) / (n1 * n0).clamp(min=1)
    return float(auc[valid].mean())
