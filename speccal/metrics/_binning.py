"""The one binning kernel behind every calibration metric, evaluator and reliability diagram.

State is additive and fixed-size: per-(class, bin) sample count, sum of probabilities and sum of
hits, accumulated in float64 with :func:`numpy.bincount` over chunks of float32 (or float64) rows,
so a whole test set streams through in constant memory and two states merge by addition.
"""

import numpy as np
from scipy import special

#: Rows of ``y_prob`` must sum to 1 within this absolute tolerance.
ROW_SUM_ATOL = 1e-3
#: Rows processed per chunk (keeps the temporaries in cache).
CHUNK_ROWS = 1 << 15
#: Bin-assignment rules, see :func:`bin_index`.
BIN_RULES = ("left", "left-extra", "right", "right-nonzero")


def check_n_bins(n_bins, name="n_bins"):
    """Return ``n_bins`` as an int after checking it is an integer >= 1."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"`{name}` must be an integer >= 1; got {n_bins!r}.")
    return int(n_bins)


def check_threshold(threshold, name="threshold"):
    """Return ``threshold`` as a float after checking it lies in [0, 1)."""
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float, np.floating, np.integer))
        or not 0.0 <= float(threshold) < 1.0
    ):
        raise ValueError(f"`{name}` must be a number in [0, 1); got {threshold!r}.")
    return float(threshold)


def check_bin_rule(bin_rule):
    """Check ``bin_rule`` is one of :data:`BIN_RULES`."""
    if bin_rule not in BIN_RULES:
        raise ValueError(f"`bin_rule` must be one of {BIN_RULES}; got {bin_rule!r}.")
    return bin_rule


def as_samples(y_true, y_prob):
    """Flatten ``y_true (...)`` and ``y_prob (..., n_classes)`` to samples, checking labels.

    Probabilities are checked chunk by chunk later (:func:`check_chunk`), so that the array is
    read only once.

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    probs : ndarray of shape (n_samples, n_classes), a view when possible, float32 or float64.
    """
    y_true, y_prob = check_shapes(y_true, y_prob)
    if y_true.size == 0:
        raise ValueError(f"`y_true` must hold at least one sample; got shape {y_true.shape!r}.")
    if y_true.dtype.kind not in "iub":
        raise ValueError(f"`y_true` must hold integer labels; got dtype {y_true.dtype!s}.")
    n_classes = y_prob.shape[-1]
    labels = y_true.reshape(-1)
    low, high = labels.min(), labels.max()
    if low < 0 or high >= n_classes:
        bad = low if low < 0 else high
        raise ValueError(
            f"`y_true` must hold labels in [0, n_classes) = [0, {n_classes}); got {int(bad)!r}."
        )
    return labels, y_prob.reshape(-1, n_classes)


def check_shapes(y_true, y_prob):
    """Return both as arrays after checking `y_true.shape == y_prob.shape[:-1]`."""
    y_true = np.asarray(y_true)
    y_prob = np.asarray(y_prob)
    if y_prob.ndim < 1 or y_prob.shape[-1] < 1:
        raise ValueError(
            f"`y_prob` must have shape (..., n_classes) with n_classes >= 1; got {y_prob.shape!r}."
        )
    if y_true.shape != y_prob.shape[:-1]:
        raise ValueError(
            f"`y_true` must have shape y_prob.shape[:-1] = {y_prob.shape[:-1]!r}; "
            f"got {y_true.shape!r}."
        )
    if y_prob.dtype.kind != "f":
        raise ValueError(f"`y_prob` must be a floating-point array; got dtype {y_prob.dtype!s}.")
    return y_true, y_prob


def check_chunk(probs, *, from_logits=False):
    """Validate one chunk of rows (and turn logits into probabilities).

    Raises
    ------
    ValueError
        If a value is not finite, a probability lies outside [0, 1] or a row does not sum to 1
        within :data:`ROW_SUM_ATOL`.
    """
    if from_logits:
        _check_finite(probs)
        return special.softmax(probs, axis=-1)
    low, high = probs.min(), probs.max()
    if not (low >= 0 and high <= 1):  # also catches NaN, which fails every comparison
        _check_finite(probs)
        bad = low if low < 0 else high
        raise ValueError(f"`y_prob` must hold probabilities in [0, 1]; got {float(bad)!r}.")
    # row sums by a matrix-vector product (BLAS), far faster than a reduction over 4 columns
    error = np.abs(probs @ np.ones(probs.shape[1], dtype=probs.dtype) - 1)
    worst = int(error.argmax())
    if error[worst] > ROW_SUM_ATOL:
        total = float(probs[worst].sum(dtype=np.float64))
        raise ValueError(
            f"`y_prob` rows must sum to 1 (within {ROW_SUM_ATOL}); got a row summing to {total!r}."
        )
    return probs


def _check_finite(values):
    if not np.isfinite(values).all():
        bad = values[~np.isfinite(values)][0]
        raise ValueError(f"`y_prob` must contain only finite values; got {float(bad)!r}.")


def iter_chunks(labels, probs, *, from_logits=False, chunk_rows=None):
    """Yield validated ``(labels, probs)`` chunks of at most ``chunk_rows`` rows.

    ``chunk_rows`` defaults to the module's :data:`CHUNK_ROWS`, read at call time.
    """
    chunk_rows = chunk_rows or CHUNK_ROWS
    for start in range(0, labels.shape[0], chunk_rows):
        stop = start + chunk_rows
        yield labels[start:stop], check_chunk(probs[start:stop], from_logits=from_logits)


def _monai_edges(n_bins):
    return np.linspace(0.0, 1.0 + np.finfo(np.float32).eps, n_bins + 1, dtype=np.float32)[1:]


def bin_index(values, n_bins, bin_rule="left"):
    """Equal-width bin of each value in [0, 1].

    Parameters
    ----------
    values : ndarray
        Probabilities in [0, 1].
    n_bins : int
        Number of bins M.
    bin_rule : {"left", "left-extra", "right", "right-nonzero"}
        ``"left"`` (speccal's definition): bin b = [b/M, (b+1)/M), 1.0 in the last bin;
        ``"left-extra"`` (uncertainty-metrics): the same, but 1.0 in an extra bin M;
        ``"right"`` (MONAI): bin b = (e_b, e_{b+1}] on MONAI's float32 edges
        ``linspace(0, 1 + eps, M + 1)``, 0.0 in bin 0;
        ``"right-nonzero"`` (Guo et al. / MbLS): bin b = (b/M, (b+1)/M] on float32 edges,
        0.0 in no bin (index M + 1, discarded by the metrics, still counted in N).

    Returns
    -------
    ndarray of intp, same shape as ``values``.

    Notes
    -----
    The default rule computes ``floor(M p)`` in float64. For float32 input this equals comparing
    with the real edges b/M: a float32 value k/2^e differs from b/M by at least 1/(M 2^e), far
    more than the float64 rounding of M p.
    """
    if bin_rule in ("left", "left-extra"):
        index = (values.astype(np.float64) * n_bins).astype(np.intp)
        return np.minimum(index, n_bins - 1, out=index) if bin_rule == "left" else index
    if bin_rule == "right":
        return np.searchsorted(_monai_edges(n_bins), values.astype(np.float32), side="left")
    edges = np.linspace(0.0, 1.0, n_bins + 1, dtype=np.float32)[1:]
    index = np.searchsorted(edges, values.astype(np.float32), side="left")
    index[values <= 0] = n_bins + 1
    return index


def n_slots(n_bins):
    """Bins stored per row of state: M regular bins, the extra bin M and the discard slot."""
    return n_bins + 2


def top_label(labels, probs):
    """Confidence ``max_k p_k`` and hit ``argmax_k p_k == y`` of each row."""
    # column by column: much faster than max/argmax over a short contiguous last axis
    conf = probs[:, 0].copy()
    for k in range(1, probs.shape[1]):
        np.maximum(conf, probs[:, k], out=conf)
    pred = np.full(conf.shape, probs.shape[1] - 1, dtype=np.intp)
    for k in range(probs.shape[1] - 2, -1, -1):  # the first maximum wins, like argmax
        pred[probs[:, k] == conf] = k
    return conf, pred == labels


def binned_sums(index, values, hits, n_slots_):
    """Count, sum of ``values`` and sum of ``hits`` per bin, float64 via :func:`numpy.bincount`.

    Returns
    -------
    ndarray of shape (3, n_slots_)
    """
    return np.stack(
        [
            np.bincount(index, minlength=n_slots_).astype(np.float64),
            np.bincount(index, weights=values, minlength=n_slots_),
            np.bincount(index[hits], minlength=n_slots_).astype(np.float64),
        ]
    )


def classwise_sums(labels, probs, n_bins, bin_rule="left"):
    """Per-(class, bin) count, sum of ``p_k`` and sum of ``1[y = k]`` over all samples.

    Returns
    -------
    ndarray of shape (3, n_classes, n_bins + 2)
    """
    return _class_binned_sums(labels, probs, bin_index(probs, n_bins, bin_rule), n_slots(n_bins))


def fine_index(values, n_fine_bins):
    """``floor(values * n_fine_bins)`` computed in float64 (not clipped).

    Any non-decreasing assignment serves the fine histograms; float64 makes
    ``floor(p M 2^r) // 2^r == floor(p M)`` hold exactly, so fine bins nest in coarse ones.
    """
    return (values.astype(np.float64) * n_fine_bins).astype(np.intp)


def fine_histogram(labels, probs, n_fine_bins, threshold):
    """Per-class fine equal-width histogram of the probabilities above ``threshold``.

    Returns
    -------
    ndarray of shape (3, n_classes, n_fine_bins + 1)
        Count, sum of ``p_k`` and sum of ``1[y = k]`` per fine bin; slot ``n_fine_bins`` holds
        the discarded values ``p_k <= threshold``.
    """
    index = np.minimum(fine_index(probs, n_fine_bins), n_fine_bins - 1)
    index[probs <= threshold] = n_fine_bins
    return _class_binned_sums(labels, probs, index, n_fine_bins + 1)


def _class_binned_sums(labels, probs, index, slots):
    """Bincount of per-class bin indices ``index (n, n_classes)`` into ``(3, n_classes, slots)``.

    Hits are counted from the label's column only (n values instead of n * n_classes).
    """
    n_classes = probs.shape[1]
    index += np.arange(n_classes) * slots
    flat = index.reshape(-1)
    size = n_classes * slots
    count = np.bincount(flat, minlength=size).astype(np.float64)
    sums = np.bincount(flat, weights=probs.reshape(-1), minlength=size)
    label_index = np.take_along_axis(index, labels[:, None].astype(np.intp), axis=1)[:, 0]
    hits = np.bincount(label_index, minlength=size).astype(np.float64)
    return np.stack([count, sums, hits]).reshape(3, n_classes, slots)


def adaptive_error_exact(fine, chunks, k, threshold, n_bins):
    """Exact equal-mass calibration error of class k (Nixon et al. / uncertainty-metrics rule).

    Parameters
    ----------
    fine : ndarray of shape (3, n_fine_bins)
        Fine histogram (count, sum of p, sum of hits) of class k's kept values.
    chunks : list of (labels, probs)
        The samples the histogram was built from.
    k : int
    threshold : float
        Values ``p_k <= threshold`` are not kept.
    n_bins : int

    Returns
    -------
    float
        ``sum_b |sum hits - sum p| / n`` over equal-mass bins (0 if nothing is kept).

    Notes
    -----
    Edges are the sorted kept values at ranks ``round(linspace(0, n, M, endpoint=False))``; a
    value goes to the last bin whose lower edge is <= the value, so ties move up. No full sort:
    the histogram locates the fine bin holding each edge, and one more pass reads only the
    values of those (at most M - 1) fine bins, to place the exact edges and assign those values.
    Every other fine bin lies wholly between two edges and contributes its histogram sums.
    """
    count, sums, hits = fine
    n = count.sum()
    if n == 0:
        return 0.0
    n_fine = count.shape[0]
    ranks = np.minimum(np.round(np.linspace(0, n, n_bins, endpoint=False)), n - 1)[1:]
    cumulative = np.cumsum(count)
    edge_bins = np.searchsorted(cumulative, ranks, side="right")
    boundary = np.zeros(n_fine + 1, dtype=bool)  # slot n_fine: values not kept
    boundary[edge_bins] = True
    values, value_hits = [np.zeros(0)], [np.zeros(0, dtype=bool)]
    for labels, probs in chunks:
        column = probs[:, k]
        index = np.minimum(fine_index(column, n_fine), n_fine - 1)
        index[column <= threshold] = n_fine
        selected = boundary[index]
        values.append(column[selected])
        value_hits.append(labels[selected] == k)
    values, value_hits = np.concatenate(values), np.concatenate(value_hits)
    # rank r sits at offset r - (count below its fine bin) inside that bin; among the sorted
    # boundary values, the boundary bins below it come first
    boundary_count = np.where(boundary[:-1], count, 0)
    positions = (
        np.cumsum(boundary_count)[edge_bins]
        - boundary_count[edge_bins]
        + ranks
        - (cumulative[edge_bins] - count[edge_bins])
    ).astype(np.intp)
    edges = np.partition(values, np.unique(positions))[positions]
    inner = ~boundary[:-1]
    coarse = np.searchsorted(edge_bins, np.arange(n_fine), side="left")[inner]
    index = np.searchsorted(edges, values, side="right")
    coarse_sums = np.bincount(coarse, weights=sums[inner], minlength=n_bins)
    coarse_sums += np.bincount(index, weights=values, minlength=n_bins)
    coarse_hits = np.bincount(coarse, weights=hits[inner], minlength=n_bins)
    coarse_hits += np.bincount(index[value_hits], minlength=n_bins)
    return float(np.abs(coarse_hits - coarse_sums).sum() / n)


def adaptive_error_from_histogram(fine, n_bins):
    r"""Approximate equal-mass error of one class from its fine histogram, with an error bound.

    Parameters
    ----------
    fine : ndarray of shape (3, n_fine_bins)
        Count, sum of probabilities and sum of hits per fine bin (discard slot removed).
    n_bins : int
        Number of equal-mass bins M.

    Returns
    -------
    error : float
    bound : float
        Bound on ``|error - exact|``.

    Notes
    -----
    Each exact edge (the value of rank :math:`r_j`) lies in some fine bin :math:`f_j`; the
    approximation puts the edge at the lower end of :math:`f_j`, so only samples of the fine
    bins :math:`F_e = \{f_j\}` may change bin. Moving a set S of samples from one bin to
    another changes :math:`\sum_b |S^{hit}_b - S^{p}_b|` by at most
    :math:`2 |\sum_{i \in S} (h_i - p_i)|`. In a fine bin :math:`f = [l_f, u_f)` with
    :math:`c_f` samples of which :math:`H_f` are hits, disjoint moved sets satisfy
    :math:`\sum_S |\sum_{i \in S} (h_i - p_i)| \le H_f (1 - l_f) + (c_f - H_f) u_f`. Hence

    .. math:: |\widehat{E} - E| \le \frac{2}{n} \sum_{f \in F_e}
        \left[ H_f (1 - l_f) + (c_f - H_f) u_f \right] \le \frac{2}{n} \sum_{f \in F_e} c_f.

    (:math:`l_f, u_f` are widened by 1e-6 to cover the rounding of ``floor(p F)``.)
    """
    count, sums, hits = fine
    n = count.sum()
    if n == 0:
        return 0.0, 0.0
    ranks = np.minimum(np.round(np.linspace(0, n, n_bins, endpoint=False)), n - 1)
    cumulative = np.cumsum(count)
    edge_bins = np.searchsorted(cumulative, ranks[1:], side="right")
    coarse = np.searchsorted(edge_bins, np.arange(count.shape[0]), side="right")
    coarse_sums = np.bincount(coarse, weights=sums, minlength=n_bins)
    coarse_hits = np.bincount(coarse, weights=hits, minlength=n_bins)
    error = float(np.abs(coarse_hits - coarse_sums).sum() / n)
    moved = np.unique(edge_bins)
    n_fine = count.shape[0]
    lower = np.maximum(moved / n_fine - 1e-6, 0.0)
    upper = np.minimum((moved + 1) / n_fine + 1e-6, 1.0)
    slack = hits[moved] * (1.0 - lower) + (count[moved] - hits[moved]) * upper
    return error, float(2.0 * slack.sum() / n)


def gap_error(state, n_bins, *, extra=False):
    """Weighted gap ``sum_b |sum hits - sum p| / N`` over the last axis of ``state``.

    ``state`` has shape ``(3, ..., n_bins + 2)``; N is the total count including the discard
    slot. Returns an array of shape ``state.shape[1:-1]``.
    """
    keep = n_bins + 1 if extra else n_bins
    total = state[0].sum(axis=-1)
    gap = np.abs(state[2, ..., :keep] - state[1, ..., :keep]).sum(axis=-1)
    return np.divide(gap, total, out=np.zeros_like(gap), where=total > 0)


def per_bin(state, n_bins, *, extra=False):
    """Per-bin count, mean confidence and accuracy (NaN where the bin is empty)."""
    keep = n_bins + 1 if extra else n_bins
    count = state[0, ..., :keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.where(count > 0, state[1, ..., :keep] / count, np.nan)
        accuracy = np.where(count > 0, state[2, ..., :keep] / count, np.nan)
    return count.copy(), confidence, accuracy
