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
* convergence (:func:`run_converged`, :func:`converged`): whether a run, and a contender over its
  seeds, had stopped improving when its training ended; a comparison with a side that had not
  is no evidence either way;
* :func:`versus`: each (contender, reference) pair with its p-values and one outcome word from
  the contender's side, ``win`` / ``tie`` / ``loss`` (significant after Holm at ``ALPHA``), or
  ``not converged`` when either side had not converged: the words every study prints.
* across tasks (:func:`ranking`, Demšar 2006): each function's rank on each task (1 = best, ties
  share their average rank), the average ranks, Friedman's test of "all functions rank alike",
  the Nemenyi critical difference and Holm's post-hoc of each function against a reference.
"""

from __future__ import annotations

import itertools
import math
import types
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from actlab._io import finite
from actlab._validate import MAX_EPOCHS


def _scipy_stats() -> types.ModuleType:
    """``scipy.stats``, imported where a statistical test first needs it: the import takes about 0.45 s, which
    a command would otherwise spend at its start, while its workers' server and it load torch on
    the same cores."""
    from scipy import stats

    return stats


EXACT_LIMIT = 200_000
ALPHA = 0.05
NOT_CONVERGED = "not converged"
OUTCOMES = ("win", "tie", "loss", NOT_CONVERGED)
SETTLED = 0.01  # a run's validation loss within this share of its whole improvement of its lowest: settled
EXTEND = 4  # final evaluations lengthen their epoch budget (doubling) up to this many times the configured one
ACCURACY = (0.0, 1.0)
CI_NOTE = (
    "95% CI: Student-t interval of the mean over seeds; for accuracies it is clipped to [0, 1], "
    "so an end at 0 or 1 means the seeds cannot rule out that bound"
)


def mean_std_ci(
    values: Sequence[float], level: float = 0.95, *, bounds: tuple[float, float] | None = None
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
    h = float(_scipy_stats().t.ppf(0.5 + level / 2, len(v) - 1)) * s / math.sqrt(len(v))
    lo, hi = m - h, m + h
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return m, s, lo, hi


def permutation_test(a: Sequence[float], b: Sequence[float], n_resamples: int = 20_000, seed: int = 0) -> float:
    """Two-sided p-value of mean(a) - mean(b) under random relabelling of the pooled values
    (NaN with fewer than two values on a side: one run per activation tests nothing)."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    if len(x) < 2 or len(y) < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return math.nan
    pooled = np.concatenate([x, y])
    n, total = len(x), pooled.sum()
    observed = abs(x.mean() - y.mean())
    tol = 1e-12 * max(1.0, abs(observed))

    def diffs(sum_a: np.ndarray) -> np.ndarray:
        return np.abs(sum_a / n - (total - sum_a) / len(y))

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


def margin(epochs: int) -> int:
    """How near the last of ``epochs`` epochs a run may still have been improving and count as
    not converged: the last max(2, 10%) epochs (10% rounded up)."""
    return max(2, math.ceil(0.1 * epochs))


def settled_epoch(val_loss: Sequence[float | None]) -> int | None:
    """The first epoch (counted from 1) whose validation loss is within ``SETTLED`` of the run's
    whole improvement (first epoch's loss - lowest loss) of the lowest; None without a finite loss.

    Why a tolerance: the epoch of the very lowest loss is no sign of a run still learning. On a
    separable validation split the loss keeps falling towards 0 for hundreds of epochs after the
    accuracy stopped moving (iris, 15 validation examples: 0.001 and falling at epoch 300), and a
    noisy loss dips to a new low at any epoch. Why relative to the improvement: a run that
    crawls (a learning rate far too small) improves little in all, and is still improving.
    Why the loss: validation accuracy on a small split moves in coarse steps and can peak early
    while the model is still learning.

    >>> settled_epoch([1.0, 0.5, 0.1, 0.05, 0.0505]), settled_epoch([1.1, 1.09, 1.08, 1.07])
    (4, 4)
    """
    finite = [(i, float(v)) for i, v in enumerate(val_loss, 1) if v is not None and math.isfinite(v)]
    if not finite:
        return None
    best = min(v for _, v in finite)
    tol = SETTLED * (finite[0][1] - best)
    return next(i for i, v in finite if v <= best + tol)


def run_converged(val_loss: Sequence[float | None], status: str | None) -> bool:
    """Whether one run had converged when it ended: its validation loss (one value per epoch
    run) settled (:func:`settled_epoch`) before the last ``margin`` epochs, or the run was stopped
    by its plateau rule (``"stopped"``). A run that diverged (or was pruned) is no case for more
    epochs, and one without a finite loss shows nothing: both count as converged.

    >>> run_converged([1.0, 0.8, 0.6, 0.4], "finished"), run_converged([1.0, 0.5, 0.5, 0.5, 0.5], "finished")
    (False, True)
    """
    if status in ("stopped", "diverged", "pruned"):
        return True
    settled = settled_epoch(val_loss)
    return settled is None or len(val_loss) - settled >= margin(len(val_loss))


def result_converged(result: Mapping[str, Any]) -> bool:
    """:func:`run_converged` of a training's record (``RunResult.to_dict()``)."""
    return run_converged([e.get("val_loss") for e in result.get("epochs") or []], result.get("status"))


def converged(runs: Sequence[bool]) -> bool:
    """Whether a contender had converged, from its runs' :func:`run_converged`: unless at least
    half of them had not.

    Not "any run": a study's verdict rests on the mean over seeds, and one seed of five whose loss
    took a last step down barely moves it (and a noisy loss does that by chance). Not "more than
    half": with 2 or 4 seeds, half of them still learning already pulls the mean down."""
    return not runs or 2 * sum(not r for r in runs) < len(runs)


def convergence_note(epochs: int, option: str) -> str:
    """What the verdict ``not converged`` means, for a table's footer."""
    return (
        f"{NOT_CONVERGED} = on at least half the seeds of one side the best validation loss (to within "
        f"{SETTLED:.0%} of the run's improvement) came in the last {margin(epochs)} of {epochs} epochs, without a "
        f"plateau stop: no verdict; train longer with {option}"
    )


T = TypeVar("T")


def until_converged(
    evaluate: Callable[[int], T],
    epochs: int,
    unsettled: Callable[[T], bool],
    on_longer: Callable[[T, int], None] | None = None,
) -> tuple[T, list[int]]:
    """``evaluate(epochs)``; while ``unsettled(result)`` (a verdict was ``not converged``), again
    with the budget doubled, up to ``EXTEND`` times ``epochs`` and at most ``MAX_EPOCHS``
    (``on_longer(result, budget)`` before each longer round). Returns the last result and the
    budgets tried. ``evaluate`` must train every contender alike with the budget it is given."""
    budgets = [epochs]
    result = evaluate(epochs)
    while unsettled(result) and budgets[-1] * 2 <= min(EXTEND * epochs, MAX_EPOCHS):
        budgets.append(budgets[-1] * 2)
        if on_longer is not None:
            on_longer(result, budgets[-1])
        result = evaluate(budgets[-1])
    return result, budgets


def versus(
    samples: Mapping[str, Sequence[float]],
    pairs: Sequence[tuple[str, str]],
    alpha: float = ALPHA,
    unconverged: Collection[str] = (),
) -> list[dict[str, Any]]:
    """For each pair ``(contender, reference)`` of names in ``samples`` (test accuracies over
    seeds): the difference of means, the permutation test's p-value, Holm's correction over the
    pairs, whether it is significant at ``alpha``, and the outcome from the contender's side:
    ``not converged`` when either side is among ``unconverged`` (see :func:`converged`; a win,
    a tie or a loss would only say who learned faster), else win / tie / loss."""
    means = {name: mean_std_ci(v)[0] for name, v in samples.items()}
    ps = [permutation_test(samples[a], samples[b]) for a, b in pairs]
    out = []
    for (a, b), p, ph in zip(pairs, ps, holm(ps), strict=True):
        significant = bool(math.isfinite(ph) and ph < alpha)
        diff = means[a] - means[b]
        outcome = ("win" if diff > 0 else "loss") if significant else "tie"
        if a in unconverged or b in unconverged:
            outcome = NOT_CONVERGED
        out.append(
            {
                "contender": a,
                "reference": b,
                "difference": diff,
                "p_value": p,
                "p_holm": ph,
                "significant": significant,
                "outcome": outcome,
            }
        )
    return out


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> dict[str, Any]:
    """Spearman's rank correlation of paired values: ``{"n", "spearman", "p_value", "note"}``;
    ``spearman`` and ``p_value`` are None (``note`` says why) with fewer than 3 pairs or when
    either side is constant."""
    pairs = [(float(a), float(b)) for a, b in zip(x, y, strict=True) if finite(a) and finite(b)]
    out: dict[str, Any] = {"n": len(pairs), "spearman": None, "p_value": None, "note": ""}
    if len(pairs) < 3:
        out["note"] = f"{len(pairs)} pair(s): a rank correlation needs at least 3"
    elif len({a for a, _ in pairs}) < 2 or len({b for _, b in pairs}) < 2:
        out["note"] = "one side is constant: no ranking to correlate"
    else:
        r = _scipy_stats().spearmanr([a for a, _ in pairs], [b for _, b in pairs])
        out["spearman"], out["p_value"] = float(r.statistic), float(r.pvalue)
    return out


def ranks(scores: Sequence[Sequence[float]], higher_better: bool = True) -> list[list[float]]:
    """Each row's values ranked, 1 the best; ties share the average of their ranks; a value that is
    not finite ranks last.

    >>> ranks([[0.9, 0.8, 0.9], [0.7, 0.7, 0.7]])
    [[1.5, 3.0, 1.5], [2.0, 2.0, 2.0]]
    """
    worst = -math.inf if higher_better else math.inf
    x = np.array([[float(v) if finite(v) else worst for v in row] for row in scores], float)
    return _scipy_stats().rankdata(-x if higher_better else x, axis=1).tolist() if x.size else []


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of average ranks for ``k`` functions over ``n`` tasks:
    q_alpha * sqrt(k(k + 1) / (6n)), q_alpha the studentized range's quantile over sqrt(2)
    (Demšar 2006, Table 5: q_0.05 = 2.569 for k = 4)."""
    q = float(_scipy_stats().studentized_range.ppf(1 - alpha, k, math.inf)) / math.sqrt(2)
    return q * math.sqrt(k * (k + 1) / (6 * n))


def friedman(rank_rows: Sequence[Sequence[float]]) -> dict[str, float]:
    """Friedman's chi-square of a tasks x functions table of ranks (corrected for ties, as SciPy's
    ``friedmanchisquare``) with its p-value, and Iman and Davenport's F (Demšar's choice: less
    conservative) with its p-value (None where every task ranks the functions alike). Needs at
    least 2 tasks and 2 functions."""
    r = np.asarray(rank_rows, float)
    n, k = r.shape
    ties = sum(float((c**3 - c).sum()) for c in (np.unique(row, return_counts=True)[1] for row in r))
    spread = 1 - ties / (n * k * (k * k - 1))
    if spread <= 0:  # every task ties every function: no difference at all
        return {"statistic": 0.0, "df": k - 1, "p_value": 1.0, "f_statistic": 0.0, "f_p_value": 1.0}
    chi2 = (12 / (n * k * (k + 1)) * float((r.sum(0) ** 2).sum()) - 3 * n * (k + 1)) / spread
    rest = n * (k - 1) - chi2  # 0 where every task ranks alike: F is infinite, and says nothing more
    f = (n - 1) * chi2 / rest if rest > 1e-9 else None
    return {
        "statistic": chi2,
        "df": k - 1,
        "p_value": float(_scipy_stats().chi2.sf(chi2, k - 1)),
        "f_statistic": f,
        "f_p_value": None if f is None else float(_scipy_stats().f.sf(f, k - 1, (k - 1) * (n - 1))),
    }


def same_groups(average: Sequence[float], cd: float) -> list[list[int]]:
    """The maximal groups (indices, in order of rank) of functions whose average ranks lie within
    ``cd`` of each other: no difference among them is significant (the bars of a critical-difference
    diagram). Groups of one are left out."""
    order = sorted(range(len(average)), key=lambda i: average[i])
    groups: list[list[int]] = []
    for a, i in enumerate(order):
        group = [j for j in order[a:] if average[j] - average[i] < cd]
        if len(group) > 1 and not (groups and set(group) <= set(groups[-1])):
            groups.append(group)
    return groups


def ranking(
    names: Sequence[str],
    scores: Sequence[Sequence[float]],
    reference: str | None = None,
    alpha: float = ALPHA,
    higher_better: bool = True,
) -> dict[str, Any]:
    """The cross-task ranking of functions ``names`` from ``scores`` (one row per task, one value
    per function: its mean over seeds), after Demšar (2006): ``ranks`` per task, ``average_rank``
    per function, Friedman's test (None with fewer than 2 tasks or functions), Nemenyi's critical
    difference ``cd`` at ``alpha`` with the ``groups`` it cannot tell apart, and, against
    ``reference``, Holm's post-hoc: z = (R_i - R_ref) / sqrt(k(k + 1) / (6n)), two-sided normal
    p-values, Holm-corrected, outcome ``win`` (a significantly better, i.e. lower, rank) / ``tie`` /
    ``loss`` from each function's side."""
    k, n = len(names), len(scores)
    rk = ranks(scores, higher_better)
    average = np.asarray(rk, float).mean(0).tolist() if n else [math.nan] * k
    out: dict[str, Any] = {
        "functions": list(names),
        "ranks": rk,
        "average_rank": average,
        "alpha": alpha,
        "reference": reference,
        "friedman": None,
        "cd": None,
        "groups": [],
        "versus_reference": [],
        "note": "",
    }
    if n < 2 or k < 2:
        out["note"] = f"{n} task(s) and {k} function(s): a test across tasks needs at least 2 of each"
        return out
    out["friedman"] = friedman(rk)
    out["cd"] = critical_difference(k, n, alpha)
    out["groups"] = [[names[i] for i in g] for g in same_groups(average, out["cd"])]
    if reference is not None:
        out["versus_reference"] = rank_post_hoc(list(names), average, reference, n, alpha)
    return out


def rank_post_hoc(
    names: list[str], average: list[float], reference: str, n: int, alpha: float = ALPHA
) -> list[dict[str, Any]]:
    """Holm's post-hoc of each function's average rank (over ``n`` tasks) against ``reference``'s
    (see :func:`ranking`)."""
    k, ref = len(names), names.index(reference)
    se = math.sqrt(k * (k + 1) / (6 * n))
    others = [i for i in range(k) if i != ref]
    z = [(average[i] - average[ref]) / se for i in others]
    ps = [float(2 * _scipy_stats().norm.sf(abs(v))) for v in z]
    out = []
    for i, zi, p, ph in zip(others, z, ps, holm(ps), strict=True):
        significant = ph < alpha
        outcome = ("win" if zi < 0 else "loss") if significant else "tie"
        out.append(
            {
                "function": names[i],
                "rank_difference": average[i] - average[ref],
                "z": zi,
                "p_value": p,
                "p_holm": ph,
                "significant": significant,
                "outcome": outcome,
            }
        )
    return out


def final_seeds(seed: int, n: int) -> list[int]:
    """The seeds of a study's final evaluation: ``n`` fresh ones after the study's own ``seed``
    (never the seed its selection ran on)."""
    return [seed + 1 + s for s in range(n)]
