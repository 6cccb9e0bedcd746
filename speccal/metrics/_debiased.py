"""The debiased L2 calibration error of Kumar, Liang and Ma (2019), "Verified uncertainty
calibration", as their ``uncertainty-calibration`` package computes it (``calibration.utils``:
``get_equal_bins``, ``fast_bin``, ``unbiased_square_ce``, ``unbiased_l2_ce``), in numpy.

In memory: equal-mass bins need the values themselves. The edges come from
:func:`numpy.partition` at the split points (no full sort), the bins from one
:func:`numpy.searchsorted` and the sums from :func:`numpy.bincount`.
"""

import numpy as np

from speccal.metrics import _binning as kernel

#: Bin choices of :func:`debiased_calibration_error`.
BINNINGS = ("equal-mass", "unique")
#: Modes of :func:`debiased_calibration_error`.
MODES = ("top-label", "marginal")


def _equal_mass_edges(values, n_bins):
    """Kumar's ``get_equal_bins``: midpoints between ``array_split`` parts of the sorted values.

    ``numpy.array_split`` of n values into M parts gives the first ``n % M`` parts one more
    value; an edge is the mean of the last value of a part and the first of the next,
    computed in the values' dtype (as the package does on numpy scalars); 1.0 closes the
    list; duplicates are dropped.
    """
    n = values.shape[0]
    n_bins = min(n_bins, n)
    sizes = np.full(n_bins, n // n_bins)
    sizes[: n % n_bins] += 1
    stops = np.cumsum(sizes)[:-1]  # first index of parts 1..M-1
    if stops.size == 0:
        return np.array([1.0])
    ranks = np.unique(np.concatenate([stops - 1, stops]))
    ordered = np.partition(values, ranks)
    two = values.dtype.type(2)
    middle = (ordered[stops - 1] + ordered[stops]) / two
    return np.unique(np.append(middle.astype(np.float64), 1.0))


def _unique_edges(values):
    """Kumar's ``get_discrete_bins``: midpoints between consecutive distinct values, then 1.0."""
    distinct = np.unique(values)
    two = values.dtype.type(2)
    middle = (distinct[:-1] + distinct[1:]) / two
    return np.append(middle.astype(np.float64), 1.0)


def _debiased_square(values, targets, edges):
    """Kumar's ``unbiased_square_ce`` on the bins ``searchsorted(edges, value, side="left")``.

    Per bin b with n_b >= 2 values: ``(mean p - mean y)^2 - mean y (1 - mean y) / (n_b - 1)``,
    weighted by ``n_b / n``; bins with fewer than 2 values add 0.
    """
    index = np.searchsorted(edges, values, side="left")
    size = edges.shape[0] + 1
    count = np.bincount(index, minlength=size).astype(np.float64)
    value_sum = np.bincount(index, weights=values, minlength=size)
    target_sum = np.bincount(index, weights=targets, minlength=size)
    enough = count >= 2
    count, value_sum, target_sum = count[enough], value_sum[enough], target_sum[enough]
    mean_target = target_sum / count
    bias = mean_target * (1.0 - mean_target) / (count - 1.0)
    terms = (value_sum / count - mean_target) ** 2 - bias
    return float((count * terms).sum() / values.shape[0])


def _one_dimensional(values, targets, n_bins, binning):
    if binning == "equal-mass":
        edges = _equal_mass_edges(values, n_bins)
    else:
        edges = _unique_edges(values)
    return _debiased_square(values, targets, edges)


def debiased_calibration_error(
    y_true, y_prob, *, n_bins=15, mode="top-label", binning="equal-mass", class_axis=-1
):
    """Debiased L2 calibration error (Kumar, Liang and Ma 2019).

    Parameters
    ----------
    y_true : array-like of int of shape (...)
        True labels in [0, n_classes).
    y_prob : array-like of float of shape (..., n_classes)
        Predicted probabilities in [0, 1]; each row sums to 1 within 1e-3.
    n_bins : int, default=15
        Number of equal-mass bins (fewer when there are fewer samples or tied edges).
    mode : {"top-label", "marginal"}, default="top-label"
        ``"top-label"``: the confidence ``max_k p_k`` against the hit, as speccal's ECE;
        ``"marginal"``: each class's ``p_k`` against ``1[y = k]``, the root of the mean over
        classes of the squared errors (the package's default mode).
    binning : {"equal-mass", "unique"}, default="equal-mass"
        ``"equal-mass"``: the package's ``lower_bound_scaling_ce`` (for continuous outputs,
        a lower bound of the true error); ``"unique"``: one bin per distinct value, its
        ``get_binning_ce`` (for the outputs of a binning method, e.g.
        :class:`speccal.posthoc.HistogramBinning`).
    class_axis : int, default=-1
        Axis of ``y_prob`` holding the classes (0 for ``(n_classes, D, H, W)``); read without
        a transposed copy of the whole array, same value as channels last.

    Returns
    -------
    float
        The debiased estimate of the L2 calibration error, in [0, 1].

    Raises
    ------
    ValueError
        If the shapes do not match, a label or probability is invalid, or a parameter is out
        of range; the message names the argument.

    See Also
    --------
    rms_calibration_error : the plug-in (biased) L2 error on equal-width bins.
    smooth_calibration_error : SmoothECE, a binning-free L1 error.

    Notes
    -----
    With bins :math:`B_b` of :math:`n_b` samples, mean prediction :math:`\\bar p_b` and mean
    outcome :math:`\\bar y_b`, the plug-in estimate of the squared error
    :math:`\\sum_b (n_b/n)(\\bar p_b - \\bar y_b)^2` is biased upwards by the sampling
    variance of :math:`\\bar y_b`; the debiased estimate subtracts its unbiased estimate,

    .. math:: \\widehat{\\mathrm{CE}}^2 = \\sum_{b:\\, n_b \\ge 2} \\frac{n_b}{n}
        \\left[ (\\bar p_b - \\bar y_b)^2 - \\frac{\\bar y_b (1 - \\bar y_b)}{n_b - 1}
        \\right], \\qquad \\widehat{\\mathrm{CE}} = \\sqrt{\\max(\\widehat{\\mathrm{CE}}^2,
        0)}.

    Equal-mass edges are the midpoints between the last value of one part and the first of
    the next when the sorted values are split as :func:`numpy.array_split` splits them, plus
    1.0; a value equal to an edge belongs to the bin below. This is the package's
    ``get_calibration_error(probs, labels, p=2, debias=True, mode=mode)``, which picks
    ``"unique"`` by itself when every class column has fewer than n/4 distinct values;
    speccal asks for the choice instead of guessing it.

    References
    ----------
    .. [1] Kumar, Liang, Ma. "Verified uncertainty calibration." NeurIPS 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import debiased_calibration_error
    >>> y_prob = np.array([[0.9, 0.1]] * 4 + [[0.6, 0.4]] * 4)
    >>> y_true = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    >>> round(debiased_calibration_error(y_true, y_prob, n_bins=2), 6)
    0.187083
    """
    n_bins = kernel.check_n_bins(n_bins)
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}; got {mode!r}.")
    if binning not in BINNINGS:
        raise ValueError(f"`binning` must be one of {BINNINGS}; got {binning!r}.")
    labels, probs = kernel.as_samples(y_true, y_prob, class_axis=class_axis)
    for _ in kernel.iter_chunks(labels, probs):  # validates the probabilities
        pass
    if mode == "top-label":
        confidence, hit = kernel.top_label(labels, probs)
        square = _one_dimensional(confidence, hit.astype(np.float64), n_bins, binning)
        return float(np.sqrt(max(square, 0.0)))
    squares = [
        max(_one_dimensional(probs[:, k], (labels == k).astype(np.float64), n_bins, binning), 0)
        for k in range(probs.shape[1])
    ]
    return float(np.sqrt(np.mean(squares)))
