"""Case-level statistics: bootstrap draws over volumes, paired comparisons, Holm's correction.

numpy and scipy only: this module never imports TensorFlow.

Every bootstrap in speccal draws its resamples the same documented way, so an interval can be
reproduced outside speccal: with ``rng = numpy.random.default_rng(random_state)``, resample
``r`` takes the cases ``rng.integers(0, n, size=(n_resamples, n))[r]`` (with replacement).
"""

import numbers
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "ClusteredPairedComparison",
    "PairedComparison",
    "compare_paired",
    "compare_paired_clustered",
    "holm_correction",
]


def check_bootstrap_params(n_resamples, confidence_level):
    """Validate the two bootstrap parameters; return them as (int, float)."""
    if (
        isinstance(n_resamples, bool)
        or not isinstance(n_resamples, numbers.Integral)
        or n_resamples < 1
    ):
        raise ValueError(f"`n_resamples` must be an int >= 1; got {n_resamples!r}.")
    if (
        isinstance(confidence_level, bool)
        or not isinstance(confidence_level, numbers.Real)
        or not 0 < confidence_level < 1
    ):
        raise ValueError(
            f"`confidence_level` must be a float in (0, 1); got {confidence_level!r}."
        )
    return int(n_resamples), float(confidence_level)


def resample_counts(n, n_resamples, random_state):
    """How often each of ``n`` cases is drawn in each bootstrap resample.

    Parameters
    ----------
    n : int
        Number of cases (volumes).
    n_resamples : int
        Number of resamples.
    random_state : None, int or numpy.random.Generator
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    ndarray of int64 of shape (n_resamples, n)
        Row ``r`` counts the draws ``rng.integers(0, n, size=(n_resamples, n))[r]``; each row
        sums to ``n``.
    """
    rng = np.random.default_rng(random_state)
    draws = rng.integers(0, n, size=(n_resamples, n))
    offsets = (np.arange(n_resamples, dtype=np.int64) * n)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=n_resamples * n).reshape(
        n_resamples, n
    )


def percentile_interval(values, confidence_level):
    """The percentile bootstrap interval ``(low, high)`` of resampled statistics.

    ``values`` has shape (n_resamples,) or (n_resamples, ...): one interval per column, as
    floats or arrays. numpy's linear quantiles; a column holding ``+inf`` (a mean over volumes
    with an infinite distance) gets the same quantiles, read as limits (inf between two inf).
    """
    values = np.asarray(values, dtype=np.float64)
    alpha = (1.0 - confidence_level) / 2.0
    if np.isfinite(values).all():
        low, high = np.quantile(values, [alpha, 1.0 - alpha], axis=0)
    else:
        ordered = np.sort(values, axis=0)
        bounds = []
        for q in (alpha, 1.0 - alpha):
            position = (ordered.shape[0] - 1) * q
            below = int(np.floor(position))
            fraction = position - below
            a, b = ordered[below], ordered[min(below + 1, ordered.shape[0] - 1)]
            with np.errstate(invalid="ignore"):
                bounds.append(np.where((fraction == 0) | (a == b), a, a + fraction * (b - a)))
        low, high = bounds
    if values.ndim == 1:
        return float(low), float(high)
    return low, high


def _check_paired(a, b):
    arrays = []
    for name, values in (("a", a), ("b", b)):
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"`{name}` must be a sequence of numbers; got {values!r}.") from exc
        if array.ndim != 1 or array.size == 0:
            raise ValueError(
                f"`{name}` must be a non-empty 1-D sequence of per-case values; got shape "
                f"{array.shape}."
            )
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            raise ValueError(
                f"`{name}` must hold finite values; got {float(array[bad[0]])!r} at case index "
                f"{int(bad[0])} ({bad.size} non-finite in all)."
            )
        arrays.append(array)
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(
            f"`a` and `b` must hold one value per case of the same cases; got {arrays[0].size} "
            f"and {arrays[1].size} values."
        )
    return arrays


@dataclass(frozen=True)
class PairedComparison:
    """The result of :func:`compare_paired`.

    Attributes
    ----------
    n : int
        Number of paired cases.
    mean_difference : float
        Mean of ``a - b`` over the cases.
    confidence_interval : tuple of float
        ``(low, high)``: paired percentile bootstrap interval of the mean difference.
    statistic : float
        Wilcoxon signed-rank statistic (``scipy.stats.wilcoxon(a, b).statistic``).
    pvalue : float
        Its two-sided p-value.
    confidence_level : float
        Level of the interval.
    n_resamples : int
        Bootstrap resamples drawn.

    Examples
    --------
    >>> from speccal.evaluation import compare_paired
    >>> result = compare_paired([0.2, 0.3, 0.25], [0.1, 0.1, 0.3], n_resamples=99, random_state=0)
    >>> result.n, round(result.mean_difference, 3), result.statistic
    (3, 0.083, 1.0)
    """

    n: int
    mean_difference: float
    confidence_interval: tuple
    statistic: float
    pvalue: float
    confidence_level: float
    n_resamples: int


def compare_paired(a, b, *, n_resamples=9999, confidence_level=0.95, random_state=None):
    """Compare two methods on the same cases: mean difference, its interval, Wilcoxon's test.

    Parameters
    ----------
    a, b : array-like of float of shape (n_cases,)
        One value per case for each method; ``a[i]`` and ``b[i]`` belong to the same case
        (e.g. the same test volume and training seed). Finite values only.
    n_resamples : int, default=9999
        Bootstrap resamples of the cases.
    confidence_level : float, default=0.95
        Level of the interval, in (0, 1).
    random_state : None, int or numpy.random.Generator, optional
        Seed of the bootstrap (``numpy.random.default_rng(random_state)``).

    Returns
    -------
    PairedComparison
        ``n``, ``mean_difference`` (mean of ``a - b``), ``confidence_interval``, ``statistic``,
        ``pvalue``.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` are not 1-D, of one length, finite, or a parameter is invalid.
    TypeError
        If ``a`` or ``b`` does not hold numbers.

    See Also
    --------
    holm_correction : adjust the p-values of several metrics compared at once.

    Notes
    -----
    The interval is the percentile bootstrap of the mean of :math:`d_i = a_i - b_i`: resample
    ``r`` draws the cases ``rng.integers(0, n, size=(n_resamples, n))[r]`` and the interval is
    the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles (numpy's linear interpolation)
    of the resampled means. Resampling the differences resamples the pairs, so the
    correlation between the methods is kept.

    The test is the two-sided Wilcoxon signed-rank test, exactly ``scipy.stats.wilcoxon(a,
    b)`` with its defaults: zero differences are dropped (``zero_method="wilcox"``), tied
    absolute differences share their mean rank, and the exact null distribution is used for
    fewer than 50 non-zero differences without ties (the normal approximation otherwise).
    When every difference is zero there is nothing to test: ``statistic`` is 0 and
    ``pvalue`` 1, as scipy returns for two or more cases (it raises for a single case).

    References
    ----------
    .. [1] F. Wilcoxon, "Individual comparisons by ranking methods", Biometrics Bulletin 1(6),
       1945.
    .. [2] B. Efron and R. Tibshirani, "An Introduction to the Bootstrap", ch. 13, 1993.

    Examples
    --------
    >>> from speccal.evaluation import compare_paired
    >>> result = compare_paired([0.10, 0.12, 0.08, 0.11, 0.09], [0.12, 0.15, 0.09, 0.14, 0.10],
    ...                         random_state=0)
    >>> result.n, round(result.mean_difference, 3), result.pvalue
    (5, -0.02, 0.0625)
    """
    a, b = _check_paired(a, b)
    n_resamples, confidence_level = check_bootstrap_params(n_resamples, confidence_level)
    difference = a - b
    counts = resample_counts(difference.size, n_resamples, random_state)
    means = counts @ difference / difference.size
    if not difference.any():
        # nothing to test; scipy returns this for two or more cases (dividing 0 by 0 on the
        # way) and raises for one
        statistic, pvalue = 0.0, 1.0
    else:
        test = stats.wilcoxon(a, b)
        statistic, pvalue = test.statistic, test.pvalue
    return PairedComparison(
        n=int(difference.size),
        mean_difference=float(difference.mean()),
        confidence_interval=percentile_interval(means, confidence_level),
        statistic=float(statistic),
        pvalue=float(pvalue),
        confidence_level=confidence_level,
        n_resamples=n_resamples,
    )


@dataclass(frozen=True)
class ClusteredPairedComparison:
    """The result of :func:`compare_paired_clustered`.

    Attributes
    ----------
    n : int
        Number of paired cases.
    n_groups : int
        Number of groups (e.g. training seeds).
    mean_difference : float
        Mean of ``a - b`` over the cases.
    group_differences : tuple of float
        Mean of ``a - b`` within each group, groups in sorted order.
    confidence_interval : tuple of float
        ``(low, high)``: two-stage percentile bootstrap interval of the mean difference.
    pvalue : float
        Two-sided sign-flip p-value of the group means.
    exact : bool
        Whether ``pvalue`` enumerates every sign flip (else random ones).
    confidence_level : float
        Level of the interval.
    n_resamples : int
        Bootstrap resamples drawn.

    Examples
    --------
    >>> from speccal.evaluation import compare_paired_clustered
    >>> result = compare_paired_clustered([0.2, 0.3, 0.1, 0.2], [0.1, 0.1, 0.2, 0.1],
    ...                                   groups=[0, 0, 1, 1], n_resamples=99, random_state=0)
    >>> result.n, result.n_groups, [round(d, 2) for d in result.group_differences]
    (4, 2, [0.15, 0.0])
    """

    n: int
    n_groups: int
    mean_difference: float
    group_differences: tuple
    confidence_interval: tuple
    pvalue: float
    exact: bool
    confidence_level: float
    n_resamples: int


def _check_groups(groups, n):
    array = np.asarray(groups)
    if array.shape != (n,):
        raise ValueError(
            f"`groups` must hold one group label per case ({n} values); got shape {array.shape}."
        )
    labels, index = np.unique(array, return_inverse=True)
    if labels.size < 2:
        raise ValueError(
            f"`groups` must hold at least 2 distinct groups to test between them; got "
            f"{labels.size} ({labels.tolist()!r})."
        )
    return labels.size, index


def compare_paired_clustered(
    a, b, groups, *, n_resamples=9999, confidence_level=0.95, random_state=None
):
    """Compare two methods on paired cases that come in groups, a group being the unit.

    Test volumes scored after one training run share that run: as evidence about a training
    method, they count for less than their number. Here the unit of replication is a group
    (e.g. a training seed): the interval resamples groups, then cases within them, and the
    test asks whether the groups' mean differences are symmetric about zero.

    Parameters
    ----------
    a, b : array-like of float of shape (n_cases,)
        One value per case for each method, paired as in :func:`compare_paired`. Finite
        values only.
    groups : array-like of shape (n_cases,)
        The group of each pair (e.g. its training seed); at least 2 distinct groups.
    n_resamples : int, default=9999
        Bootstrap resamples; also the most sign flips the test enumerates (see Notes).
    confidence_level : float, default=0.95
        Level of the interval, in (0, 1).
    random_state : None, int or numpy.random.Generator, optional
        Seed of the bootstrap (and of the random sign flips when the test is not exact).

    Returns
    -------
    ClusteredPairedComparison
        ``n``, ``n_groups``, ``mean_difference``, ``group_differences``,
        ``confidence_interval``, ``pvalue``, ``exact``.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` are not 1-D, of one length, finite; if ``groups`` does not give
        one label per case or holds fewer than 2 groups; or if a parameter is invalid.
    TypeError
        If ``a`` or ``b`` does not hold numbers.

    See Also
    --------
    compare_paired : the same cases taken as independent pairs (Wilcoxon's test).

    Notes
    -----
    The interval is a two-stage percentile bootstrap of the mean of :math:`d_i = a_i - b_i`
    over the cases: with ``rng = numpy.random.default_rng(random_state)`` and the ``G``
    groups in sorted order, each of ``G`` slots of a resample draws a group
    (``drawn = rng.integers(0, G, size=n_resamples)``), then, group by group, the ``k`` resamples
    that drew group ``g`` in that slot draw its cases with replacement
    (``rng.integers(0, n_g, size=(k, n_g))``, ``k = (drawn == g).sum()``); a resample's
    statistic is the mean over all the cases it drew. The cost is linear in the number of
    cases times ``n_resamples``. With one case per group it is the bootstrap of the
    group means, and with groups of equal values it spans the group means.

    The test is the two-sided sign-flip (randomisation) test of the ``G`` group means, with
    their mean as statistic (:func:`scipy.stats.permutation_test`,
    ``permutation_type="samples"``): exact, over all :math:`2^G` sign patterns, when
    :math:`2^G \\le` ``n_resamples``; else ``n_resamples`` random ones. Its smallest exact
    p-value is :math:`2 / 2^G` (0.25 with 3 seeds): few groups cannot give strong evidence,
    however many cases each holds. When every group mean is zero the p-value is 1.

    References
    ----------
    .. [1] A. C. Davison and D. V. Hinkley, "Bootstrap Methods and their Application",
       section 3.8 (multistage sampling), 1997.
    .. [2] R. A. Fisher, "The Design of Experiments", section 21, 1935.

    Examples
    --------
    >>> from speccal.evaluation import compare_paired_clustered
    >>> a = [0.10, 0.12, 0.20, 0.21, 0.30, 0.33]
    >>> b = [0.12, 0.13, 0.22, 0.24, 0.31, 0.33]
    >>> result = compare_paired_clustered(a, b, groups=[0, 0, 1, 1, 2, 2], random_state=0)
    >>> result.n_groups, round(result.mean_difference, 4), result.pvalue, result.exact
    (3, -0.015, 0.25, True)
    """
    a, b = _check_paired(a, b)
    n_resamples, confidence_level = check_bootstrap_params(n_resamples, confidence_level)
    n_groups, index = _check_groups(groups, a.size)
    difference = a - b
    members = [difference[index == g] for g in range(n_groups)]
    sizes = np.array([m.size for m in members])
    rng = np.random.default_rng(random_state)
    total, count = np.zeros(n_resamples), np.zeros(n_resamples)
    for _ in range(n_groups):  # each slot of a resample draws a group, then its cases
        drawn = rng.integers(0, n_groups, size=n_resamples)
        for g, m in enumerate(members):  # only where group g was drawn: cost ~ n_cases per slot
            where = np.flatnonzero(drawn == g)
            total[where] += m[rng.integers(0, m.size, size=(where.size, m.size))].sum(axis=1)
        count += sizes[drawn]
    group_means = np.array([m.mean() for m in members])
    exact = 2**n_groups <= n_resamples
    if not group_means.any():
        pvalue = 1.0
    else:
        pvalue = stats.permutation_test(
            (group_means,),
            np.mean,
            permutation_type="samples",
            n_resamples=2**n_groups if exact else n_resamples,
            alternative="two-sided",
            random_state=rng,
        ).pvalue
    return ClusteredPairedComparison(
        n=int(difference.size),
        n_groups=int(n_groups),
        mean_difference=float(difference.mean()),
        group_differences=tuple(float(m) for m in group_means),
        confidence_interval=percentile_interval(total / count, confidence_level),
        pvalue=float(pvalue),
        exact=bool(exact),
        confidence_level=confidence_level,
        n_resamples=n_resamples,
    )


def holm_correction(pvalues):
    """Holm's step-down adjusted p-values for several tests made together.

    Parameters
    ----------
    pvalues : array-like of float of shape (n_tests,)
        The unadjusted p-values, each in [0, 1].

    Returns
    -------
    ndarray of shape (n_tests,)
        Adjusted p-values, in the order given: reject test ``i`` at family-wise error rate
        :math:`\\alpha` when its adjusted p-value is at most :math:`\\alpha`.

    Raises
    ------
    ValueError
        If ``pvalues`` is not a 1-D sequence of values in [0, 1].

    Notes
    -----
    With the p-values sorted, :math:`p_{(1)} \\le \\dots \\le p_{(m)}`,

    .. math:: \\tilde p_{(i)} = \\max_{j \\le i} \\min\\left(1, (m - j + 1)\\, p_{(j)}\\right).

    It controls the family-wise error rate under any dependence between the tests (metrics of
    the same volumes are dependent), and is uniformly more powerful than Bonferroni's
    :math:`\\min(1, m p_i)`. (``scipy.stats.false_discovery_control`` controls the false
    discovery rate instead, a weaker guarantee.)

    References
    ----------
    .. [1] S. Holm, "A simple sequentially rejective multiple test procedure", Scandinavian
       Journal of Statistics 6(2), 1979.

    Examples
    --------
    >>> from speccal.evaluation import holm_correction
    >>> holm_correction([0.01, 0.04, 0.03]).round(4).tolist()
    [0.03, 0.06, 0.06]
    """
    try:
        p = np.asarray(pvalues, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`pvalues` must be a sequence of numbers; got {pvalues!r}.") from exc
    if p.ndim != 1 or not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"`pvalues` must be a 1-D sequence of values in [0, 1]; got {pvalues!r}.")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted
