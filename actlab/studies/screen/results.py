"""A screen's results: the final ranking of every candidate (real score where trained,
prediction elsewhere), each pick's prediction against its real score, the rank correlations
(``results.json``), and the table ``actlab screen`` prints."""

from __future__ import annotations

from typing import Any

import numpy as np

from actlab.stats import rank_correlation
from actlab.studies.screen.config import ScreenConfig
from actlab.studies.screen.trainings import Trainings
from actlab.surrogate import Surrogate
from actlab.training import run_score

FORMAT_RESULTS = "actlab-screen-results"
ROLES = ("usual", "top", "random")
SCORE = "validation accuracy of the best epoch, mean over seeds (0 for a run that diverged before validation)"


def summarise(
    config: ScreenConfig,
    data,
    sur: Surrogate,
    trainer: Trainings,
    picks: dict[str, dict[str, Any]],
    cands: list[str],
    feature_seconds: list[float],
) -> dict[str, Any]:
    """The final ranking, the picks' predictions against their real scores, and the surrogate's
    leave-one-out rank correlation."""
    rows = _ranked(_rows(sur, trainer, picks, cands))
    units = [r["result"]["seconds"] for recs in trainer.records.values() for r in recs if "error" not in r]
    return {
        "format": FORMAT_RESULTS,
        "config": config.to_dict(),
        "task": config.task().to_dict(),
        "regressor": config.regressor,
        "dataset": {
            "name": data.name,
            "n_classes": data.n_classes,
            "input_shape": list(data.input_shape),
            "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
        },
        "score": SCORE,
        "correlation": _correlations(rows),
        "timing": {
            "features_seconds": float(np.sum(feature_seconds)),
            "features_seconds_median": float(np.median(feature_seconds)),
            "training_seconds_median": float(np.median(units)) if units else None,
            "note": "features: computed once per function (cached in features/); training: seconds of one "
            "training, or of its pack where runs trained packed",
        },
        "candidates": rows,
    }


def _rows(sur: Surrogate, trainer: Trainings, picks: dict[str, dict[str, Any]], cands: list[str]) -> list[dict]:
    """One row per function (the candidates and the usual ones), in that order: its prediction
    by the surrogate fit on every trained function, the one made before its training, its
    leave-one-out prediction, its real scores and its place on the map."""
    trainer.fit(sur, list(picks), [c for c in cands if sur.ok(c)])
    listed = list(dict.fromkeys([*cands, *picks]))
    mean, std = sur.predict(listed)
    xy = sur.embedding(listed)
    trained = [s for s in picks if trainer.score(s) is not None]
    loo_mean, _ = sur.leave_one_out(trained, [trainer.score(s) for s in trained])
    loo = dict(zip(trained, loo_mean, strict=True))
    rows = []
    for i, s in enumerate(listed):
        f, p = sur.features(s), picks.get(s, {})
        recs = trainer.records.get(s, [])
        good = [r["result"] for r in recs if "error" not in r]
        test = [r["test"]["accuracy"] for r in good if "accuracy" in r["test"]]  # a training loop may test nothing
        rows.append(
            {
                "spec": s,
                "candidate": s in cands,
                "runs_in_model": bool(f["ok"]),
                "note": f["note"],
                "role": p.get("role"),
                "round": p.get("round"),
                "predicted_before": p.get("predicted"),
                "predicted_before_std": p.get("predicted_std"),
                "predicted": float(mean[i]) if f["ok"] else None,
                "predicted_std": float(std[i]) if f["ok"] else None,
                "leave_one_out": float(loo[s]) if s in loo else None,
                "val_accuracy": trainer.score(s) if recs else None,
                "val_accuracy_seeds": [run_score(r) for r in good],
                "test_accuracy": float(np.mean(test)) if test else None,
                "error": next((r["error"] for r in recs if "error" in r), None),
                "map": [float(v) for v in xy[i]] if f["ok"] else None,
            }
        )
    return rows


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows in rank order, each with its ``rank``: real score where trained, prediction
    elsewhere; those that cannot run last."""

    def key(r: dict[str, Any]) -> float:
        if r["val_accuracy"] is not None:
            return r["val_accuracy"]
        return r["predicted"] if r["predicted"] is not None else -1.0

    order = sorted(range(len(rows)), key=lambda i: (-key(rows[i]), i))
    for rank, i in enumerate(order, 1):
        rows[i]["rank"] = rank
    return [rows[i] for i in order]


def _correlations(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Spearman's rank correlation of prediction and real score: the picks (predicted before
    training), the random picks alone, and every trained function left out in turn."""
    by_role = {role: [r for r in rows if r["role"] == role and r["val_accuracy"] is not None] for role in ROLES}
    picked = by_role["top"] + by_role["random"]
    out = [r for r in rows if r["leave_one_out"] is not None]
    return {
        "picked": rank_correlation([r["predicted_before"] for r in picked], [r["val_accuracy"] for r in picked]),
        "random": rank_correlation(
            [r["predicted_before"] for r in by_role["random"]], [r["val_accuracy"] for r in by_role["random"]]
        ),
        "leave_one_out": rank_correlation([r["leave_one_out"] for r in out], [r["val_accuracy"] for r in out]),
    }


def format_table(results: dict[str, Any], top: int = 15) -> str:
    """The ranking's head and the correlations as plain text (printed by ``actlab screen``)."""
    head = f"{'rank':>4}  {'function':<28} {'predicted ± std':>16} {'val acc':>8}  trained"
    lines = [head, "-" * len(head)]
    for r in results["candidates"][:top]:
        # a trained function shows the prediction made before its training; the usual ones had none
        mean, std = (
            (r["predicted_before"], r["predicted_before_std"]) if r["role"] else (r["predicted"], r["predicted_std"])
        )
        pred = f"{mean:.3f} ± {std:.3f}" if mean is not None else ""
        val = f"{r['val_accuracy']:.3f}" if r["val_accuracy"] is not None else ""
        lines.append(f"{r['rank']:>4}  {r['spec'][:28]:<28} {pred:>16} {val:>8}  {r['role'] or ''}")
    left = len(results["candidates"]) - top
    if left > 0:
        lines.append(f"... {left} more in results.json")
    lines.append("predicted: validation accuracy; for a trained function the prediction made before its training")
    c = results["correlation"]
    for key, what in (
        ("picked", "top and random picks, predicted before training"),
        ("random", "random picks only"),
        ("leave_one_out", "leave-one-out over every trained function"),
    ):
        rho = c[key]
        lines.append(
            f"Spearman {what}: "
            + (
                f"{rho['spearman']:+.2f} (n = {rho['n']}, p = {rho['p_value']:.3f})"
                if rho["spearman"] is not None
                else f"n/a ({rho['note']})"
            )
        )
    return "\n".join(lines)
