"""Classification metrics: accuracy, macro precision / recall / F1, one-vs-rest AUC."""

from __future__ import annotations

import math

import numpy as np
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
    if not torch.isfinite(logits).all():
        return math.nan
    p = torch.softmax(logits.double(), 1).cpu().numpy()
    yy = y.cpu().numpy()
    aucs = []
    for c in np.unique(yy):
        pos = yy == c
        if pos.all():
            continue
        aucs.append(_binary_auc(p[:, c], pos))
    return float(np.mean(aucs)) if aucs else math.nan


def _binary_auc(score: np.ndarray, pos: np.ndarray) -> float:
    """Mann-Whitney form of the ROC AUC, ties counted half (same as scikit-learn)."""
    from scipy.stats import rankdata

    r = rankdata(score)
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
