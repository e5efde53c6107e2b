"""Statistics of a comparison, checked against SciPy and textbook values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from actlab.stats import (
    ACCURACY,
    EXTEND,
    NOT_CONVERGED,
    OUTCOMES,
    converged,
    holm,
    margin,
    mean_std_ci,
    permutation_test,
    result_converged,
    settled_epoch,
    until_converged,
    versus,
)


def test_mean_std_ci_matches_scipy_t_interval():
    v = [0.81, 0.84, 0.79, 0.86, 0.83]
    m, s, lo, hi = mean_std_ci(v)
    assert m == pytest.approx(np.mean(v)) and s == pytest.approx(np.std(v, ddof=1))
    elo, ehi = stats.t.interval(0.95, len(v) - 1, loc=np.mean(v), scale=stats.sem(v))
    assert (lo, hi) == (pytest.approx(elo), pytest.approx(ehi))
    assert math.isnan(mean_std_ci([0.5])[1]) and math.isnan(mean_std_ci([])[0])


@pytest.mark.parametrize(
    "a,b",
    [
        ([0.9, 0.91, 0.92, 0.93, 0.94], [0.8, 0.81, 0.82, 0.83, 0.84]),
        ([0.5, 0.6, 0.55], [0.52, 0.58, 0.61, 0.57]),
        ([1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 4.5]),
    ],
)
def test_exact_permutation_test_matches_scipy(a, b):
    # our two-sided test uses |mean(a) - mean(b)| as its statistic
    ref = stats.permutation_test(
        (a, b),
        lambda x, y: abs(np.mean(x) - np.mean(y)),
        permutation_type="independent",
        alternative="greater",
        n_resamples=np.inf,
    )
    assert permutation_test(a, b) == pytest.approx(ref.pvalue)


def test_five_against_five_fully_separated_reaches_the_exact_minimum():
    assert permutation_test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)


def test_monte_carlo_permutation_test_agrees_with_exact_on_a_large_sample():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.3, 1, 15), rng.normal(0, 1, 15)  # C(30, 15) is too many to enumerate
    p = permutation_test(a, b, n_resamples=20_000)
    ref = stats.permutation_test(
        (a, b), lambda x, y: abs(np.mean(x) - np.mean(y)), n_resamples=20_000, alternative="greater", random_state=0
    ).pvalue
    assert abs(p - ref) < 0.03


def test_one_run_per_side_tests_nothing():
    assert math.isnan(permutation_test([0.9], [0.1])) and math.isnan(permutation_test([0.9, 0.8], [0.1]))


def test_holm_correction():
    assert holm([0.01, 0.04, 0.03, math.nan]) == pytest.approx([0.03, 0.06, 0.06, math.nan], nan_ok=True)
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize("values", [[0.0, 1.0], [0.9, 1.0, 1.0], [0.03, 0.0, 0.06], [0.2, 0.9, 0.5]])
def test_accuracy_intervals_stay_in_zero_one_and_clip_the_t_interval(values):
    m, s, lo, hi = mean_std_ci(values, bounds=ACCURACY)
    _, _, tlo, thi = mean_std_ci(values)
    assert 0.0 <= lo <= m <= hi <= 1.0
    assert (lo, hi) == (max(tlo, 0.0), min(thi, 1.0))  # the t-interval where it fits, cut at the bounds
    assert (tlo < 0 or thi > 1) and (lo, hi) != (tlo, thi)  # each case needed the clipping


def test_bounded_interval_is_deterministic_and_leaves_a_fitting_interval_alone():
    v = [0.81, 0.84, 0.79, 0.86, 0.83]
    assert mean_std_ci(v, bounds=ACCURACY) == mean_std_ci(v) == mean_std_ci(list(v), bounds=ACCURACY)


def test_degenerate_samples():
    assert mean_std_ci([0.7], bounds=ACCURACY)[0] == 0.7
    assert all(math.isnan(x) for x in mean_std_ci([0.7], bounds=ACCURACY)[1:])
    assert all(math.isnan(x) for x in mean_std_ci([], bounds=ACCURACY))
    assert mean_std_ci([1.0, 1.0, 1.0], bounds=ACCURACY) == (1.0, 0.0, 1.0, 1.0)
    assert mean_std_ci([0.5, 0.5], bounds=ACCURACY) == (0.5, 0.0, 0.5, 0.5)
    assert mean_std_ci([0.5, math.nan, None, 0.5], bounds=ACCURACY) == (0.5, 0.0, 0.5, 0.5)  # non-finite values dropped


def test_unbounded_metrics_keep_the_t_interval():
    losses = [0.1, 2.5, 0.3]  # a loss can be far from its mean: the plain interval reaches below zero
    m, s, lo, hi = mean_std_ci(losses)
    elo, ehi = stats.t.interval(0.95, 2, loc=np.mean(losses), scale=stats.sem(losses))
    assert lo < 0 and (lo, hi) == (pytest.approx(elo), pytest.approx(ehi))


# ------------------------------------------------------------------------------ convergence
def _record(val_loss, status="finished"):
    """A training's record as ``RunResult.to_dict()`` has it, made by hand."""
    finite = [v for v in val_loss if math.isfinite(v)]
    best = val_loss.index(min(finite)) + 1 if finite else None
    return {
        "status": status,
        "best_epoch": best,
        "epochs": [{"epoch": i, "val_loss": v} for i, v in enumerate(val_loss, 1)],
    }


def test_a_run_whose_best_epoch_is_its_last_has_not_converged():
    falling = [1.1 - 0.02 * i for i in range(30)]  # still learning at epoch 30
    assert _record(falling)["best_epoch"] == 30 and not result_converged(_record(falling))
    crawling = [1.0986 - 1e-5 * i for i in range(30)]  # a learning rate far too small: little, but still improving
    assert not result_converged(_record(crawling))
    late = [1.0, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.29]  # best within the last max(2, 10%) epochs
    assert margin(len(late)) == 2 and not result_converged(_record(late))
    assert not result_converged(_record([1.0, 0.9]))  # two epochs: the margin covers them both


def test_a_run_stopped_by_patience_after_an_early_best_has_converged():
    stopped = [1.0, 0.6, 0.4, 0.45, 0.5, 0.55, 0.6, 0.62]
    assert _record(stopped, "stopped")["best_epoch"] == 3 and result_converged(_record(stopped, "stopped"))
    assert result_converged(_record(stopped[:6] + [0.7, 0.75, 0.8, 0.9]))  # the full budget, best long before its end
    # the plateau stop is the training's own verdict, even where its best is near the end (patience 1)
    assert result_converged(_record([1.0, 0.8, 0.6, 0.61], "stopped"))


def test_a_loss_creeping_to_zero_on_a_separable_split_has_converged():
    # validation accuracy 1.0 for hundreds of epochs, the loss still falling: its best is the last, yet nothing changes
    creeping = [1.1 * 0.9**i for i in range(300)]
    assert (
        _record(creeping)["best_epoch"] == 300 and settled_epoch(creeping) < 200 and result_converged(_record(creeping))
    )
    noisy = [
        1.0,
        0.5,
        0.2,
        0.1,
        0.12,
        0.09,
        0.11,
        0.1,
        0.1,
        0.095,
        0.11,
        0.1,
        0.1,
        0.11,
        0.1,
        0.1,
        0.11,
        0.1,
        0.1,
        0.089,
    ]
    assert result_converged(_record(noisy))  # a last dip of the noise below 1% of the improvement


def test_runs_without_a_case_for_more_epochs_count_as_converged():
    assert result_converged(_record([1.0, 0.9, math.nan], "diverged"))
    assert result_converged(_record([math.nan], "diverged")) and settled_epoch([None, math.nan]) is None
    assert result_converged({"status": "finished", "epochs": []})


def test_a_contender_has_not_converged_when_at_least_half_its_seeds_have_not():
    assert converged([True, True, True, True, False]) and converged([True, True, False])
    assert not converged([True, False]) and not converged([True, True, False, False]) and not converged([False])
    assert converged([])


def test_a_side_that_has_not_converged_gets_no_verdict_whatever_the_p_value():
    samples = {"a": [0.9, 0.91, 0.92, 0.93, 0.94], "b": [0.5, 0.51, 0.52, 0.53, 0.54], "c": [0.6, 0.7, 0.5, 0.6, 0.6]}
    plain = {t["contender"]: t for t in versus(samples, [("a", "b"), ("c", "b")])}
    assert plain["a"]["outcome"] == "win" and plain["a"]["significant"]
    tests = {t["contender"]: t for t in versus(samples, [("a", "b"), ("c", "b")], unconverged=["b"])}  # the reference
    assert {t["outcome"] for t in tests.values()} == {NOT_CONVERGED}  # every verdict, a would-be win too
    assert [tests[k]["p_holm"] for k in "ac"] == [plain[k]["p_holm"] for k in "ac"]  # the test itself unchanged
    for late, other in (("a", "c"), ("c", "a")):  # a contender: its own verdict only
        tests = {t["contender"]: t["outcome"] for t in versus(samples, [("a", "b"), ("c", "b")], unconverged=[late])}
        assert tests == {late: NOT_CONVERGED, other: plain[other]["outcome"]}
    assert NOT_CONVERGED in OUTCOMES


def test_until_converged_doubles_the_budget_for_everyone_up_to_the_limit():
    seen = []

    def evaluate(epochs):
        seen.append(epochs)
        return epochs >= 20  # "converged" from 20 epochs on

    assert until_converged(evaluate, 5, lambda ok: not ok) == (True, [5, 10, 20]) and seen == [5, 10, 20]
    seen.clear()
    assert until_converged(evaluate, 3, lambda ok: not ok) == (False, [3, 6, 12]) and seen == [3, 6, 12]  # EXTEND = 4
    assert EXTEND == 4
    seen.clear()
    assert until_converged(evaluate, 30, lambda ok: not ok) == (True, [30]) and seen == [30]  # settled: one round
