"""Paired comparisons and Holm's correction against scipy, hand computations and loops."""

import itertools
import warnings

import numpy as np
import pytest
from scipy import stats

from speccal.evaluation import (
    PairedComparison,
    compare_paired,
    compare_paired_clustered,
    holm_correction,
)
from speccal.evaluation._statistics import resample_counts

# (a, b): zero differences, tied absolute differences, both, all zero, and a long sample
# (normal approximation with ties)
_rng = np.random.default_rng(7)
_long = np.round(_rng.normal(size=80), 1)
PAIRS = {
    "zeros": ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1.0, 2.5, 3.0, 3.0, 4.0, 7.5]),
    "ties": ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0.2, 0.1, 0.1, 0.2, 0.3, 0.4, 0.9]),
    "zeros_and_ties": ([3, 3, 5, 1, 2, 8, 4, 4], [3, 2, 4, 2, 2, 6, 3, 4]),
    "all_zero": ([0.5, 0.25, 0.75], [0.5, 0.25, 0.75]),
    "long": (_long + np.round(_rng.normal(0.2, 0.5, size=80), 1), _long),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_wilcoxon_equals_scipy_on_ties_and_zeros(name):
    a, b = (np.asarray(v, dtype=float) for v in PAIRS[name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's 0/0 when all are zero
        expected = stats.wilcoxon(a, b)
    result = compare_paired(a, b, n_resamples=200, random_state=0)
    assert isinstance(result, PairedComparison)
    assert result.statistic == expected.statistic
    assert result.pvalue == expected.pvalue
    assert result.n == a.size
    assert result.mean_difference == pytest.approx(np.mean(a - b), abs=1e-15)


def test_all_zero_differences_give_p_one_without_a_warning(recwarn):
    result = compare_paired([0.5, 0.25], [0.5, 0.25], n_resamples=10)
    assert (result.statistic, result.pvalue) == (0.0, 1.0)
    assert result.confidence_interval == (0.0, 0.0)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    # one case: scipy raises; nothing to test is still p = 1
    assert compare_paired([0.5], [0.5], n_resamples=10).pvalue == 1.0
    single = compare_paired([0.7], [0.5], n_resamples=10)
    assert (single.statistic, single.pvalue) == (0.0, 1.0) == tuple(stats.wilcoxon([0.7], [0.5]))


def test_interval_equals_a_loop_over_the_documented_draws():
    a = np.array([0.3, 0.1, 0.4, 0.15, 0.9, 0.26, 0.5])
    b = np.array([0.2, 0.2, 0.3, 0.05, 0.7, 0.36, 0.45])
    result = compare_paired(a, b, n_resamples=500, confidence_level=0.9, random_state=42)
    rng = np.random.default_rng(42)
    draws = rng.integers(0, a.size, size=(500, a.size))
    means = [np.mean(a[row] - b[row]) for row in draws]
    expected = np.quantile(means, [0.05, 0.95])
    np.testing.assert_allclose(result.confidence_interval, expected, rtol=0, atol=1e-14)
    assert result.confidence_level == 0.9 and result.n_resamples == 500


def test_same_seed_same_interval_and_generator_accepted():
    a, b = np.arange(10.0), np.arange(10.0)[::-1]
    first = compare_paired(a, b, random_state=3, n_resamples=100)
    again = compare_paired(a, b, random_state=np.random.default_rng(3), n_resamples=100)
    assert first.confidence_interval == again.confidence_interval


def test_resample_counts_rows_count_the_draws():
    counts = resample_counts(5, 4, 11)
    draws = np.random.default_rng(11).integers(0, 5, size=(4, 5))
    np.testing.assert_array_equal(counts, [np.bincount(row, minlength=5) for row in draws])


def test_holm_equals_a_hand_computation():
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.06
    np.testing.assert_allclose(
        holm_correction([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02]
    )
    # 0.3*3=0.9, 0.6*2=1.2 capped at 1, 0.7*1 -> running max 1
    np.testing.assert_allclose(holm_correction([0.6, 0.3, 0.7]), [1.0, 0.9, 1.0])
    # ties: 0.2*3=0.6, 0.2*2=0.4 -> 0.6, 0.6*1 -> 0.6; one test is left as it is
    np.testing.assert_allclose(holm_correction([0.6, 0.2, 0.2]), [0.6, 0.6, 0.6])
    np.testing.assert_allclose(holm_correction([0.3]), [0.3])
    assert holm_correction([]).shape == (0,)


def test_holm_is_never_below_the_raw_p_nor_above_bonferroni():
    p = np.random.default_rng(0).uniform(size=12) ** 3
    adjusted = holm_correction(p)
    assert np.all(adjusted >= p)
    assert np.all(adjusted <= np.minimum(1, 12 * p) + 1e-15)


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "error", "match"),
    [
        ([1.0, 2.0], [1.0], {}, ValueError, r"`a` and `b` must hold one value per case.*2 and 1"),
        ([1.0, np.inf], [1.0, 2.0], {}, ValueError, r"`a` must hold finite values; got inf at"),
        ([1.0, 2.0], [1.0, np.nan], {}, ValueError, r"`b` must hold finite values; got nan"),
        ([[1.0, 2.0]], [[1.0, 2.0]], {}, ValueError, r"`a` must be a non-empty 1-D .*\(1, 2\)"),
        ([], [], {}, ValueError, r"`a` must be a non-empty 1-D"),
        (["x"], [1.0], {}, TypeError, r"`a` must be a sequence of numbers; got \['x'\]"),
        ([1.0], [2.0], {"n_resamples": 0}, ValueError, r"`n_resamples` must be an int >= 1"),
        ([1.0], [2.0], {"confidence_level": 95}, ValueError, r"`confidence_level` must be"),
    ],
)
def test_bad_paired_input_is_named(a, b, kwargs, error, match):
    with pytest.raises(error, match=match):
        compare_paired(a, b, **kwargs)


@pytest.mark.parametrize("pvalues", [[0.1, 1.2], [[0.1]], [np.nan], ["a"]])
def test_bad_pvalues_are_named(pvalues):
    with pytest.raises(ValueError, match=r"`pvalues` must be a"):
        holm_correction(pvalues)


# -- compare_paired_clustered: a group (e.g. a training seed) as the unit --
def _two_stage_loop(difference, groups, n_resamples, level, seed):
    """The documented draws, one resample at a time."""
    labels = sorted(set(groups))
    members = [difference[groups == g] for g in labels]
    rng = np.random.default_rng(seed)
    taken = [[] for _ in range(n_resamples)]
    for _ in labels:  # per slot: which group, then group by group the resamples that drew it
        drawn = rng.integers(0, len(labels), size=n_resamples)
        for g, m in enumerate(members):
            rows = [r for r in range(n_resamples) if drawn[r] == g]
            cases = rng.integers(0, m.size, size=(len(rows), m.size))
            for r, picked in zip(rows, cases, strict=True):
                taken[r].append(m[picked])
    means = [np.concatenate(t).mean() for t in taken]
    alpha = (1 - level) / 2
    return np.quantile(means, [alpha, 1 - alpha])


def test_clustered_interval_equals_a_loop_over_the_documented_draws():
    rng = np.random.default_rng(3)
    groups = np.array([5, 5, 5, 1, 1, 9, 9, 9, 9, 2])  # unequal sizes, unsorted labels
    a, b = rng.normal(size=10), rng.normal(size=10)
    result = compare_paired_clustered(
        a, b, groups, n_resamples=300, confidence_level=0.9, random_state=8
    )
    expected = _two_stage_loop(a - b, groups, 300, 0.9, 8)
    np.testing.assert_allclose(result.confidence_interval, expected, rtol=0, atol=1e-14)
    assert result.n == 10 and result.n_groups == 4
    assert result.group_differences == pytest.approx(
        [np.mean((a - b)[groups == g]) for g in (1, 2, 5, 9)]
    )
    assert result.mean_difference == pytest.approx(np.mean(a - b))


def test_clustered_interval_spans_the_groups_where_the_paired_one_does_not():
    groups = np.repeat([0, 1, 2], 6)
    b = np.random.default_rng(0).integers(0, 8, 18) / 8
    a = b + np.array([-1.0, 1.0, 2.0])[groups]
    clustered = compare_paired_clustered(a, b, groups, random_state=0)
    # a resample is the mean of 3 drawn groups; one group thrice has probability 1/27 > 2.5 %
    assert clustered.confidence_interval == (-1.0, 2.0)
    low, high = compare_paired(a, b, random_state=0).confidence_interval
    assert low > -0.2 and high < 1.6


@pytest.mark.parametrize("n_groups", [2, 4, 5])
def test_clustered_p_value_enumerates_the_sign_flips(n_groups):
    rng = np.random.default_rng(n_groups)
    groups = np.repeat(np.arange(n_groups), 3)
    a, b = rng.normal(0.3, 1, groups.size), rng.normal(size=groups.size)
    result = compare_paired_clustered(a, b, groups, random_state=0)
    means = np.array([np.mean((a - b)[groups == g]) for g in range(n_groups)])
    flipped = [
        abs(np.mean(np.array(signs) * means))
        for signs in itertools.product((-1, 1), repeat=n_groups)
    ]
    expected = np.mean(np.array(flipped) >= abs(means.mean()) * (1 - 1e-12))
    assert result.exact and result.pvalue == pytest.approx(expected)


@pytest.mark.parametrize("n_groups", [3, 6])
def test_clustered_p_value_is_at_least_two_over_two_to_the_groups(n_groups):
    groups = np.repeat(np.arange(n_groups), 2)
    result = compare_paired_clustered(np.full(groups.size, 0.5), np.zeros(groups.size), groups)
    assert result.pvalue == pytest.approx(2 / 2**n_groups)


def test_clustered_test_flips_at_random_past_n_resamples_and_p_one_without_a_difference():
    groups = np.repeat(np.arange(6), 2)
    random = compare_paired_clustered(
        np.full(12, 0.5), np.zeros(12), groups, n_resamples=63, random_state=0
    )
    assert not random.exact and random.n_resamples == 63
    same = compare_paired_clustered(np.ones(12), np.ones(12), groups)
    assert same.pvalue == 1.0 and same.confidence_interval == (0.0, 0.0)


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        ([0, 0, 0], r"`groups` must hold at least 2 distinct groups to test between them; "
         r"got 1 \(\[0\]\)"),
        ([0, 1], r"`groups` must hold one group label per case \(3 values\); got shape \(2,\)"),
    ],
)  # fmt: skip
def test_bad_groups_are_named(groups, match):
    with pytest.raises(ValueError, match=match):
        compare_paired_clustered([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], groups)
