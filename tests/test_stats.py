"""Statistics of a comparison, checked against SciPy and textbook values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from actlab.stats import ACCURACY, holm, mean_std_ci, permutation_test


def test_mean_std_ci_matches_scipy_t_interval():
    v = [0.81, 0.84, 0.79, 0.86, 0.83]
    m, s, lo, hi = mean_std_ci(v)
    assert m == pytest.approx(np.mean(v)) and s == pytest.approx(np.std(v, ddof=1))
    elo, ehi = stats.t.interval(0.95, len(v) - 1, loc=np.mean(v), scale=stats.sem(v))
    assert (lo, hi) == (pytest.approx(elo), pytest.approx(ehi))
    assert math.isnan(mean_std_ci([0.5])[1]) and math.isnan(mean_std_ci([])[0])


@pytest.mark.parametrize("a,b", [([0.9, 0.91, 0.92, 0.93, 0.94], [0.8, 0.81, 0.82, 0.83, 0.84]),
                                 ([0.5, 0.6, 0.55], [0.52, 0.58, 0.61, 0.57]),
                                 ([1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 4.5])])
def test_exact_permutation_test_matches_scipy(a, b):
    # our two-sided test uses |mean(a) - mean(b)| as its statistic
    ref = stats.permutation_test((a, b), lambda x, y: abs(np.mean(x) - np.mean(y)), permutation_type="independent",
                                 alternative="greater", n_resamples=np.inf)
    assert permutation_test(a, b) == pytest.approx(ref.pvalue)


def test_five_against_five_fully_separated_reaches_the_exact_minimum():
    assert permutation_test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)


def test_monte_carlo_permutation_test_agrees_with_exact_on_a_large_sample():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.3, 1, 15), rng.normal(0, 1, 15)  # C(30, 15) is too many to enumerate
    p = permutation_test(a, b, n_resamples=20_000)
    ref = stats.permutation_test((a, b), lambda x, y: abs(np.mean(x) - np.mean(y)), n_resamples=20_000,
                                 alternative="greater", random_state=0).pvalue
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
