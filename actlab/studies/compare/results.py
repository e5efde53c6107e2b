"""A comparison's summary: per-activation statistics over the seeds, each activation tested
against the baseline (``results.json``), and the table ``actlab compare`` prints."""

from __future__ import annotations

import math
from typing import Any

from actlab._errors import ActlabError
from actlab.stats import (
    ACCURACY,
    ALPHA,
    NOT_CONVERGED,
    converged,
    convergence_note,
    format_p,
    mean_std_ci,
    result_converged,
    versus,
)
from actlab.studies.compare.config import CompareConfig
from actlab.training import RunResult


def summarise(
    config: CompareConfig, data, runs: dict[tuple[str, int], dict[str, Any]], timing: dict[str, float] | None = None
) -> dict[str, Any]:
    """Per-activation statistics over seeds and the test against the baseline; ``timing``, when
    given, replaces the runs' own seconds per epoch (see :func:`time_alone`)."""
    if any("accuracy" not in r["result"]["test"] for r in runs.values()):
        name = next(r["result"]["fit"]["name"] for r in runs.values() if "accuracy" not in r["result"]["test"])
        raise ActlabError(
            f"compare compares test accuracy, and the training loop {name} returned none: "
            "return test_accuracy (scored on data.test) from it"
        )
    acc = {a: [runs[a, s]["result"]["test"]["accuracy"] for s in range(config.seeds)] for a in config.activations}
    rows = [
        _row(a, acc[a], [runs[a, s]["result"] for s in range(config.seeds)], timing[a] if timing else None)
        for a in config.activations
    ]
    pairs = [(a, config.baseline) for a in config.activations if a != config.baseline]
    tests = {
        t["contender"]: t for t in versus(acc, pairs, unconverged=[r["activation"] for r in rows if not r["converged"]])
    }
    for r in rows:
        t = tests.get(r["activation"])
        r.update(
            {"p_value": math.nan, "p_holm": math.nan, "significant": False, "outcome": "baseline"}
            if t is None
            else {k: t[k] for k in ("p_value", "p_holm", "significant", "outcome")}
        )
    return {
        "config": config.to_dict(),
        "dataset": {
            "name": data.name,
            "n_classes": data.n_classes,
            "input_shape": list(data.input_shape),
            "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
            "info": getattr(data, "info", {}),
        },
        "alpha": ALPHA,
        "test": "two-sample permutation test of mean test accuracy vs the baseline, Holm-corrected",
        "convergence": convergence_note(config.train.epochs, "--epochs"),
        "timing": (
            "seconds per epoch of each activation trained alone (seed 0, 2 epochs after a warm-up): the runs "
            "trained packed"
            if timing
            else "seconds per epoch: mean over every run's epochs"
        ),
        "summary": rows,
        "runs": [runs[a, s] for a in config.activations for s in range(config.seeds)],
    }


def _row(activation: str, acc: list[float], results: list[dict[str, Any]], seconds: float | None) -> dict[str, Any]:
    """One activation's statistics over its seeds' run records; ``seconds`` per epoch measured
    alone replaces the runs' own."""
    rs = [RunResult.from_dict(r) for r in results]
    settled = [result_converged(r) for r in results]
    m, sd, lo, hi = mean_std_ci(acc, bounds=ACCURACY)
    gap = [r.final_train.get("accuracy", math.nan) - r.test["accuracy"] for r in rs]
    return {
        "activation": activation,
        "test_accuracy": acc,
        "mean": m,
        "std": sd,
        "ci_low": lo,
        "ci_high": hi,
        "test_loss": mean_std_ci([r.test.get("loss", math.nan) for r in rs])[0],
        "test_f1": mean_std_ci([r.test.get("f1", math.nan) for r in rs])[0],
        "test_auc": mean_std_ci([r.test.get("auc", math.nan) for r in rs])[0],
        "epoch_seconds": seconds if seconds is not None else mean_std_ci([r.epoch_seconds for r in rs])[0],
        "epochs_run": mean_std_ci([len(r.epochs) for r in rs])[0],
        "train_test_gap": mean_std_ci(gap)[0],
        "diverged": sum(r.status == "diverged" for r in rs),
        "unconverged": settled.count(False),
        "converged": converged(settled),
    }


def _verdict(r: dict[str, Any], base: str) -> str:
    """A row's p-values and outcome as the table prints them."""
    if r["activation"] == base:
        return "baseline"
    p = f"{format_p(r['p_value'])} / {format_p(r['p_holm'])}"
    if r["outcome"] == NOT_CONVERGED:
        return f"{p} {NOT_CONVERGED}"
    return p + (f" * {r['outcome']}" if r["significant"] else "")


def format_table(results: dict[str, Any]) -> str:
    """The comparison table as plain text (printed by ``actlab compare``, copied into READMEs)."""
    rows = results["summary"]
    base = results["config"]["baseline"]
    n = results["config"]["seeds"]
    head = (
        f"{'activation':<22} {'test acc mean ± std':>20} {'95% CI':>15} {'s/epoch':>8} {'gap':>7} "
        f"{'p raw / Holm':>14}  "
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        ci = f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]" if math.isfinite(r["ci_low"]) else "n/a"
        notes = [f"{r[k]}/{n} {k}" for k in ("diverged", "unconverged") if r.get(k)]
        lines.append(
            f"{r['activation'][:22]:<22} {r['mean']:>11.3f} ± {r['std']:.3f} {ci:>15} {r['epoch_seconds']:>8.3f} "
            f"{r['train_test_gap']:>+7.3f} {_verdict(r, base):>14}" + (f"  ({', '.join(notes)})" if notes else "")
        )
    lines.append(
        f"{n} seeds each; gap = train - test accuracy; p = two-sample permutation test of test accuracy vs "
        f"{base}, raw and Holm-corrected over {len(rows) - 1} comparison{'' if len(rows) == 2 else 's'}; "
        f"* = Holm p < {results['alpha']}"
    )
    if any(r.get("unconverged") for r in rows) and results.get("convergence"):
        lines.append(results["convergence"])
    return "\n".join(lines)
