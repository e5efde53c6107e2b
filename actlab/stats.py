"""The one statistics module: every study (compare, search, evolve) tests its contenders so.

* mean, sample standard deviation and the 95% Student-t confidence interval of the mean,
  clipped to the metric's bounds where it has them (accuracies: ``ACCURACY``, [0, 1]);
* a two-sample permutation test of the difference of means against the baseline: exact
  (every relabelling enumerated) when there are at most ``EXACT_LIMIT`` relabellings, else
  ``n_resamples`` random ones with the (k+1)/(n+1) correction. It is two-sided and makes no
  normality assumption. (A paired sign-flip test over 5 seeds cannot go below p = 2/32 =
  0.0625, so it could never reject at 0.05; the two-sample test with 5 + 5 runs can reach
  2/252.)
* Holm's step-down correction over the comparisons a study makes;
* :func:`versus`: each (contender, reference) pair with its p-values and one outcome word from
  the contender's side, ``win`` / ``tie`` / ``loss`` (significant after Holm at ``ALPHA``), the
  words every study prints.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import stats as _st

from ._io import finite

EXACT_LIMIT = 200_000
ALPHA = 0.05
OUTCOMES = ("win", "tie", "loss")
ACCURACY = (0.0, 1.0)
CI_NOTE = ("95% CI: Student-t interval of the mean over seeds; for accuracies it is clipped to [0, 1], "
           "so an end at 0 or 1 means the seeds cannot rule out that bound")


def mean_std_ci(values: Sequence[float], level: float = 0.95, *, bounds: tuple[float, float] | None = None
                ) -> tuple[float, float, float, float]:
    """(mean, std, ci_low, ci_high) of the finite values: the Student-t interval of the mean,
    clipped to ``bounds`` for a bounded metric (``bounds=ACCURACY`` for accuracies).

    Clipping never drops the true mean (it lies within the bounds), so the interval keeps the
    t-interval's coverage. A percentile bootstrap would also respect the bounds, but with the
    2-5 seeds of a study it is no wider than the range of the values and covers far less than
    95% (with 2 seeds it is [min, max]: 50%). std and CI are NaN with fewer than 2 values; all
    values equal give the interval [mean, mean].

    >>> [round(x, 3) for x in mean_std_ci([0.9, 1.0], bounds=ACCURACY)]
    [0.95, 0.071, 0.315, 1.0]
    """
    v = np.asarray([float(x) for x in values if finite(x)], dtype=float)
    if len(v) == 0:
        return (math.nan,) * 4
    m = float(v.mean())
    if len(v) < 2:
        return m, math.nan, math.nan, math.nan
    s = float(v.std(ddof=1))
    h = float(_st.t.ppf(0.5 + level / 2, len(v) - 1)) * s / math.sqrt(len(v))
    lo, hi = m - h, m + h
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return m, s, lo, hi


def permutation_test(a: Sequence[float], b: Sequence[float], n_resamples: int = 20_000, seed: int = 0) -> float:
    """Two-sided p-value of mean(a) - mean(b) under random relabelling of the pooled values
    (NaN with fewer than two values on a side: one run per activation tests nothing)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.nan
    pooled = np.concatenate([a, b])
    n, total = len(a), pooled.sum()
    observed = abs(a.mean() - b.mean())
    tol = 1e-12 * max(1.0, abs(observed))

    def diffs(sum_a: np.ndarray) -> np.ndarray:
        return np.abs(sum_a / n - (total - sum_a) / len(b))

    if math.comb(len(pooled), n) <= EXACT_LIMIT:
        idx = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(len(pooled)), n)), int)
        sums = pooled[idx.reshape(-1, n)].sum(1)
        return float(np.mean(diffs(sums) >= observed - tol))
    rng = np.random.default_rng(seed)
    sums = np.array([pooled[rng.permutation(len(pooled))[:n]].sum() for _ in range(n_resamples)])
    return float((np.sum(diffs(sums) >= observed - tol) + 1) / (n_resamples + 1))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(pvalues, float)
    ok = np.flatnonzero(np.isfinite(p))
    out = np.full(len(p), math.nan)
    order = ok[np.argsort(p[ok], kind="stable")]
    m, running = len(order), 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        out[j] = running
    return out.tolist()


def format_p(p: float | None) -> str:
    """A p-value as actlab prints it: three decimals, ``<0.001`` below a thousandth, ``n/a`` when
    there is none."""
    if p is None or not math.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def versus(samples: Mapping[str, Sequence[float]], pairs: Sequence[tuple[str, str]], alpha: float = ALPHA
           ) -> list[dict[str, Any]]:
    """For each pair ``(contender, reference)`` of names in ``samples`` (test accuracies over
    seeds): the difference of means, the permutation test's p-value, Holm's correction over the
    pairs, whether it is significant at ``alpha``, and the outcome from the contender's side."""
    means = {name: mean_std_ci(v)[0] for name, v in samples.items()}
    ps = [permutation_test(samples[a], samples[b]) for a, b in pairs]
    out = []
    for (a, b), p, ph in zip(pairs, ps, holm(ps)):
        significant = bool(math.isfinite(ph) and ph < alpha)
        diff = means[a] - means[b]
        out.append({"contender": a, "reference": b, "difference": diff, "p_value": p, "p_holm": ph,
                    "significant": significant, "outcome": ("win" if diff > 0 else "loss") if significant else "tie"})
    return out


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> dict[str, Any]:
    """Spearman's rank correlation of paired values: ``{"n", "spearman", "p_value", "note"}``;
    ``spearman`` and ``p_value`` are None (``note`` says why) with fewer than 3 pairs or when
    either side is constant."""
    pairs = [(float(a), float(b)) for a, b in zip(x, y) if finite(a) and finite(b)]
    out: dict[str, Any] = {"n": len(pairs), "spearman": None, "p_value": None, "note": ""}
    if len(pairs) < 3:
        out["note"] = f"{len(pairs)} pair(s): a rank correlation needs at least 3"
    elif len({a for a, _ in pairs}) < 2 or len({b for _, b in pairs}) < 2:
        out["note"] = "one side is constant: no ranking to correlate"
    else:
        r = _st.spearmanr([a for a, _ in pairs], [b for _, b in pairs])
        out["spearman"], out["p_value"] = float(r.statistic), float(r.pvalue)
    return out


def final_seeds(seed: int, n: int) -> list[int]:
    """The seeds of a study's final evaluation: ``n`` fresh ones after the study's own ``seed``
    (never the seed its selection ran on)."""
    return [seed + 1 + s for s in range(n)]
