"""The one binning kernel behind every calibration metric, evaluator and reliability diagram.

State is additive and fixed-size: per-(class, bin) sample count, sum of probabilities and sum of
hits, accumulated in float64 with :func:`numpy.bincount` over chunks of float32 (or float64) rows,
so a whole test set streams through in constant memory and two states merge by addition.
"""

from typing import NamedTuple

import numpy as np
from scipy import special

from speccal._utils import check_scalar
from speccal.metrics._rows import as_rows, check_class_axis, without_axis

#: Rows of ``y_prob`` must sum to 1 within this absolute tolerance.
ROW_SUM_ATOL = 1e-3
#: Rows processed per chunk (keeps the temporaries in cache).
CHUNK_ROWS = 1 << 15
#: Bin-assignment rules, see :func:`bin_index`.
BIN_RULES = ("left", "left-extra", "right", "right-nonzero")


def check_n_bins(n_bins, name="n_bins"):
    """Return ``n_bins`` as an int after checking it is an int >= 1."""
    return check_scalar(name, n_bins, integer=True, minimum=1)


#: Largest bin state, in bytes, one calibration accumulator may hold (1 GiB).
MAX_STATE_BYTES = 1 << 30


def _format_bytes(n_bytes):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n_bytes < 1024 or unit == "TiB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1024


def check_state_size(n_floats, name, value, n_classes):
    """Refuse a ``name=value`` whose float64 bin state would exceed :data:`MAX_STATE_BYTES`."""
    n_bytes = 8 * n_floats
    if n_bytes > MAX_STATE_BYTES:
        raise ValueError(
            f"`{name}` must be small enough for the bin sums of {n_classes} classes to fit in "
            f"{_format_bytes(MAX_STATE_BYTES)}; got {value!r}, which would need "
            f"{_format_bytes(n_bytes)}."
        )


def check_threshold(threshold, name="threshold"):
    """Return ``threshold`` as a float after checking it lies in [0, 1)."""
    return check_scalar(name, threshold, minimum=0, maximum=1, include_boundaries="left")


def as_samples(y_true, y_prob, *, class_axis=-1, keep=None):
    """Flatten ``y_true (...)`` and ``y_prob (..., n_classes)`` to samples, checking labels.

    Probabilities are checked chunk by chunk later (:func:`check_chunk`), so that the array is
    read only once.

    Parameters
    ----------
    y_true, y_prob : array-like
    class_axis : int, default=-1
        Axis of ``y_prob`` holding the classes (0 for ``(C, D, H, W)``, 1 for
        ``(B, C, D, H, W)``).
    keep : ndarray of bool of the shape of ``y_true``, optional
        Voxels to keep (an evaluation protocol's selection).

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    probs : ndarray of shape (n_samples, n_classes) or ClassAxisRows
        A view when possible (class axis last), float32 or float64; lazy rows read chunk by
        chunk otherwise (:mod:`speccal.metrics._rows`).
    """
    y_true, y_prob = check_shapes(y_true, y_prob, class_axis=class_axis)
    if keep is not None:
        y_true = y_true[keep]
    if y_true.size == 0:
        raise ValueError(f"`y_true` must hold at least one sample; got shape {y_true.shape!r}.")
    if y_true.dtype.kind not in "iub":
        raise ValueError(f"`y_true` must hold integer labels; got dtype {y_true.dtype!s}.")
    probs = as_rows(y_prob, class_axis, keep)
    n_classes = probs.shape[1]
    labels = y_true.reshape(-1)
    low, high = labels.min(), labels.max()
    if low < 0 or high >= n_classes:
        bad = low if low < 0 else high
        raise ValueError(
            f"`y_true` must hold labels in [0, n_classes) = [0, {n_classes}); got {int(bad)!r}."
        )
    return labels, probs


def check_shapes(y_true, y_prob, *, class_axis=-1):
    """Return both as arrays after checking ``y_true.shape`` is ``y_prob.shape`` without its
    class axis (``y_prob.shape[:-1]`` by default)."""
    y_true = np.asarray(y_true)
    y_prob = np.asarray(y_prob)
    if y_prob.ndim < 1:
        raise ValueError(
            f"`y_prob` must have shape (..., n_classes) with n_classes >= 1; got {y_prob.shape!r}."
        )
    axis = check_class_axis(class_axis, y_prob.ndim)
    if y_prob.shape[axis] < 1:
        raise ValueError(
            f"`y_prob` must have shape (..., n_classes) with n_classes >= 1; got {y_prob.shape!r}."
        )
    expected = without_axis(y_prob.shape, axis)
    if y_true.shape != expected:
        where = (
            "y_prob.shape[:-1]" if axis == y_prob.ndim - 1 else f"y_prob.shape without axis {axis}"
        )
        raise ValueError(f"`y_true` must have shape {where} = {expected!r}; got {y_true.shape!r}.")
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


def iter_chunks(labels, probs, *, from_logits=False, chunk_rows=None, with_reread=False):
    """Yield validated ``(labels, probs)`` chunks of at most ``chunk_rows`` rows.

    ``chunk_rows`` defaults to the module's :data:`CHUNK_ROWS`, read at call time. With
    ``with_reread``, yield ``(labels, probs, reread)``: ``reread`` is None when ``probs`` is an
    array (the chunk is a view of it and may be kept); for lazy rows
    (:class:`~speccal.metrics._rows.ClassAxisRows`) it is a :class:`Reread`, to keep instead of
    the chunk, a transposed copy.
    """
    chunk_rows = chunk_rows or CHUNK_ROWS
    lazy = not isinstance(probs, np.ndarray)
    for start in range(0, labels.shape[0], chunk_rows):
        stop = start + chunk_rows
        chunk = check_chunk(probs[start:stop], from_logits=from_logits)
        if not with_reread:
            yield labels[start:stop], chunk
            continue
        reread = Reread(labels[start:stop], probs, start, stop, from_logits) if lazy else None
        yield labels[start:stop], chunk, reread


class Reread:
    """A chunk of lazy rows read again when iterated, as ``labels, probs`` (no copy kept).

    The exact equal-mass bins read the kept chunks a second time; keeping this instead of a
    transposed chunk keeps channel-first input from being copied whole.
    """

    def __init__(self, labels, rows, start, stop, from_logits):
        self.labels, self.rows, self.start, self.stop = labels, rows, start, stop
        self.from_logits = from_logits

    def class_slab(self):
        """The chunk's values class by class, ``(n_classes, n)``, as a view of the rows' array
        when it is C-ordered with the classes first and every voxel kept (None otherwise)."""
        array, rows = self.rows.array, self.rows
        if (
            self.from_logits
            or rows.axis != 0
            or not array.flags.c_contiguous
            or rows.shape[0] != array[0].size
        ):
            return None
        return array.reshape(array.shape[0], -1)[:, self.start : self.stop]

    def __iter__(self):
        probs = self.rows[self.start : self.stop]
        if self.from_logits:
            probs = special.softmax(probs, axis=-1)
        return iter((self.labels, probs))


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
        scaled = np.multiply(values, float(n_bins), dtype=np.float64)
        if bin_rule == "left":  # floor(min(x, M - 1)) == min(floor(x), M - 1)
            np.minimum(scaled, n_bins - 1, out=scaled)
        return scaled.astype(np.intp)
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
    n_classes = probs.shape[1]
    conf = probs[:, 0].copy()
    for k in range(1, n_classes):
        np.maximum(conf, probs[:, k], out=conf)
    pred = np.full(conf.shape, n_classes - 1, dtype=np.min_scalar_type(n_classes - 1))
    for k in range(n_classes - 2, -1, -1):  # the first maximum wins, like argmax
        # pred > k here: arithmetic, as masked assignment is slow on random masks
        pred -= (probs[:, k] == conf) * (pred - k)
    return conf, pred == labels


def binned_sums(index, values, hits, n_slots_):
    """Count, sum of ``values`` and sum of ``hits`` per bin, float64 via :func:`numpy.bincount`.

    Returns
    -------
    ndarray of shape (3, n_slots_)
    """
    # one count of (hit, bin) pairs gives both the counts and the hits
    pairs = np.multiply(hits, n_slots_, dtype=np.intp)
    pairs += index
    by_hit = np.bincount(pairs, minlength=2 * n_slots_).reshape(2, n_slots_)
    return np.stack(
        [
            by_hit.sum(axis=0).astype(np.float64),
            np.bincount(index, weights=values, minlength=n_slots_),
            by_hit[1].astype(np.float64),
        ]
    )


def classwise_sums(labels, probs, n_bins, bin_rule="left", out=None):
    """Per-(class, bin) count, sum of ``p_k`` and sum of ``1[y = k]`` over all samples.

    Returns
    -------
    ndarray of shape (3, n_classes, n_bins + 2)
        ``out`` (the sums added to it) if given.
    """
    index = bin_index(probs, n_bins, bin_rule)
    return _class_binned_sums(labels, probs, index, n_slots(n_bins), out)


def _scaled(values, factor):
    """``values * factor`` computed exactly, so that its floor is ``floor(values * factor)``.

    In float32 when ``values`` is float32 and ``factor`` a power of two (scaling by a power of
    two is exact), else in float64 (exact for float32 values and factors below 2^29).
    """
    if values.dtype == np.float32 and factor & (factor - 1) == 0:
        return values * np.float32(factor)
    return np.multiply(values, float(factor), dtype=np.float64)


def fine_index(values, n_fine_bins):
    """``floor(values * n_fine_bins)`` computed exactly (not clipped).

    Any non-decreasing assignment serves the fine histograms; the exact floor makes
    ``floor(p M 2^r) // 2^r == floor(p M)`` hold, so fine bins nest in coarse ones.
    """
    return _scaled(values, n_fine_bins).astype(np.intp)


def fine_histogram(labels, probs, n_fine_bins, threshold, out=None):
    """Per-class fine equal-width histogram of the probabilities above ``threshold``.

    Returns
    -------
    ndarray of shape (3, n_classes, n_fine_bins + 1)
        Count, sum of ``p_k`` and sum of ``1[y = k]`` per fine bin; slot ``n_fine_bins`` holds
        the discarded values ``p_k <= threshold``. ``out`` (the sums added to it) if given.
    """
    # on the integer indices (no masked assignment): min(i, F - 1) puts 1.0 in the last bin,
    # and max(i, F * [p <= threshold]) sends the discarded values to slot F. Not in float32:
    # from F = 2^25 on, F - 1 rounds to F there, and 1.0 would land in the discard slot.
    index = fine_index(probs, n_fine_bins)
    np.minimum(index, n_fine_bins - 1, out=index)
    if threshold >= 0:  # probabilities are >= 0: a negative threshold discards nothing
        discard = np.multiply(probs <= threshold, n_fine_bins, dtype=np.intp)
        np.maximum(index, discard, out=index)
    return _class_binned_sums(labels, probs, index, n_fine_bins + 1, out)


def _class_binned_sums(labels, probs, index, slots, out=None):
    """Bincount of per-class bin indices ``index (n, n_classes)`` into ``(3, n_classes, slots)``.

    ``index`` is overwritten. Hits are counted from the label's column only (n values instead
    of n * n_classes). The sums are added to ``out`` if given (a new array otherwise).
    """
    n, n_classes = probs.shape
    if out is None:
        out = np.zeros((3, n_classes, slots))
    size = n_classes * slots
    flat = index.reshape(-1)
    flat += np.tile(np.arange(0, size, slots), n)  # flat 1-D add: fast, unlike a broadcast
    out[0] += np.bincount(flat, minlength=size).reshape(n_classes, slots)
    weights = probs.reshape(-1)
    out[1] += np.bincount(flat, weights=weights, minlength=size).reshape(n_classes, slots)
    label_index = np.arange(0, n * n_classes, n_classes)
    label_index += labels.astype(np.intp, copy=False)
    label_index = flat.take(label_index)
    out[2] += np.bincount(label_index, minlength=size).reshape(n_classes, slots)
    return out


def adaptive_errors_exact(fine, chunks, threshold, n_bins):
    """Exact equal-mass calibration error of every class (Nixon et al. / uncertainty-metrics).

    Parameters
    ----------
    fine : ndarray of shape (3, n_classes, n_fine_bins + 1)
        Fine histograms (count, sum of p, sum of hits) of each class's kept values; the last
        slot (discarded values) is ignored.
    chunks : list of (labels, probs)
        The samples the histograms were built from.
    threshold : float
        Values ``p_k <= threshold`` are not kept.
    n_bins : int

    Returns
    -------
    ndarray of shape (n_classes,)
        ``sum_b |sum hits - sum p| / n`` over equal-mass bins (0 for a class with nothing kept).

    Notes
    -----
    Edges are the sorted kept values at ranks ``round(linspace(0, n, M, endpoint=False))``; a
    value goes to the last bin whose lower edge is <= the value, so ties move up. No full sort:
    the histogram locates the fine bin holding each edge, and one more pass reads only the
    values of those (at most M - 1 per class) fine bins, to place the exact edges and assign
    those values. Every other fine bin lies wholly between two edges and contributes its
    histogram sums. The one pass serves all classes.
    """
    n_classes, n_fine = fine.shape[1], fine.shape[2] - 1
    plans = [_edge_plan(fine[:, k, :-1], n_bins) for k in range(n_classes)]
    # boundary[k, f]: fine bin f of class k holds an edge; slot n_fine is where the value 1.0
    # lands (the index is not clipped here), so it mirrors the last fine bin
    boundary = np.zeros((n_classes, n_fine + 1), dtype=bool)
    for k, plan in enumerate(plans):
        if plan is not None:
            boundary[k, plan[1]] = True
    boundary[:, n_fine] = boundary[:, n_fine - 1]
    # class by class (a column's passes, no per-(row, class) offsets); row order within each
    # class, as the sums of _exact_error add them
    classes = [k for k, plan in enumerate(plans) if plan is not None]
    values = {k: [np.zeros(0)] for k in classes}
    hits = {k: [np.zeros(0, bool)] for k in classes}
    for chunk in chunks:
        slab = chunk.class_slab() if isinstance(chunk, Reread) else None
        labels, probs = (chunk.labels, slab.T) if slab is not None else chunk
        for k in classes:
            column = probs[:, k]  # contiguous from a slab
            where = np.flatnonzero(boundary[k].take(fine_index(column, n_fine)))
            chunk_values = column[where]
            if threshold >= 0:  # an edge bin may hold values <= threshold, which are not kept
                kept = ~(chunk_values <= threshold)  # compared as in fine_histogram
                where, chunk_values = where[kept], chunk_values[kept]
            values[k].append(chunk_values)
            hits[k].append(labels[where] == k)
    errors = np.zeros(n_classes)
    for k in classes:
        mine = np.concatenate(values[k])  # float64, as the histogram sums
        errors[k] = _exact_error(fine[:, k, :-1], plans[k], mine, np.concatenate(hits[k]), n_bins)
    return errors


def _edge_plan(fine, n_bins):
    """Ranks of the equal-mass edges and the fine bins holding them (None if nothing kept)."""
    count = fine[0]
    n = count.sum()
    if n == 0:
        return None
    ranks = np.minimum(np.round(np.linspace(0, n, n_bins, endpoint=False)), n - 1)[1:]
    cumulative = np.cumsum(count)
    edge_bins = np.searchsorted(cumulative, ranks, side="right")
    return ranks, edge_bins, cumulative


def _exact_error(fine, plan, values, value_hits, n_bins):
    """Equal-mass error of one class from its histogram and the values of its edge bins."""
    count, sums, hits = fine
    ranks, edge_bins, cumulative = plan
    n_fine = count.shape[0]
    boundary = np.zeros(n_fine, dtype=bool)
    boundary[edge_bins] = True
    # rank r sits at offset r - (count below its fine bin) inside that bin; among the sorted
    # boundary values, the boundary bins below it come first
    boundary_count = np.where(boundary, count, 0)
    positions = (
        np.cumsum(boundary_count)[edge_bins]
        - boundary_count[edge_bins]
        + ranks
        - (cumulative[edge_bins] - count[edge_bins])
    ).astype(np.intp)
    edges = np.partition(values, np.unique(positions))[positions]
    inner = ~boundary
    coarse = np.searchsorted(edge_bins, np.arange(n_fine), side="left")[inner]
    index = np.searchsorted(edges, values, side="right")
    coarse_sums = np.bincount(coarse, weights=sums[inner], minlength=n_bins)
    coarse_sums += np.bincount(index, weights=values, minlength=n_bins)
    coarse_hits = np.bincount(coarse, weights=hits[inner], minlength=n_bins)
    coarse_hits += np.bincount(index[value_hits], minlength=n_bins)
    return float(np.abs(coarse_hits - coarse_sums).sum() / count.sum())


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


class FinePrefix(NamedTuple):
    """One set's fine histograms as cumulative sums over its non-empty fine bins: what a case
    bootstrap reads of a volume (:meth:`below` gives them at any fine edge).

    Entry j is the non-empty fine bin f of class k with ``keys[j] = k (n_fine + 1) + f``
    (sorted); ``counts[j]``, ``sums[j]`` and ``hits[j]`` are the count, sum of ``p_k`` and sum
    of ``1[y = k]`` of class k's kept values in its fine bins up to f (the discarded values
    are left out). Exact: an empty fine bin adds nothing to a cumulative sum. Counts and hits
    are integers, in the smallest unsigned dtype that holds the total count (uint32 below
    2^32 values): 20 bytes per non-empty fine bin instead of the histogram's 24 per fine bin.
    """

    keys: np.ndarray
    counts: np.ndarray
    sums: np.ndarray
    hits: np.ndarray
    n_classes: int
    n_fine: int

    @classmethod
    def from_histogram(cls, fine):
        """From fine histograms of shape (3, n_classes, n_fine_bins + 1), discard slot last."""
        kept = fine[..., :-1]
        n_classes, n_fine = kept.shape[1:]
        total = np.cumsum(kept, axis=-1)  # integral floats below 2^53 for the counts
        nonempty = kept[0] > 0
        dtype = np.min_scalar_type(int(total[0, :, -1].max(initial=0)))
        k, f = np.nonzero(nonempty)
        key_type = np.min_scalar_type(n_classes * (n_fine + 1))
        keys = (k * (n_fine + 1) + f).astype(key_type)
        counts, sums, hits = (part[nonempty] for part in total)
        return cls(keys, counts.astype(dtype), sums, hits.astype(dtype), n_classes, n_fine)

    def below(self, k, edge, parts=(0, 1, 2)):
        """Count, sum and hits (``parts`` of them, as float64) of class k's fine bins below
        fine edge ``edge`` (``edge = n_fine`` gives the totals); ``k`` and ``edge`` broadcast."""
        k, edge = np.broadcast_arrays(np.asarray(k, np.int64), np.asarray(edge, np.int64))
        if self.keys.size == 0:
            return [np.zeros(k.shape) for _ in parts]
        width, keys = self.n_fine + 1, self.keys
        # queries in the keys' dtype (they are below n_classes * width): the keys not converted
        starts = np.searchsorted(keys, (np.arange(self.n_classes) * width).astype(keys.dtype))
        position = np.searchsorted(keys, (k * width + edge).astype(keys.dtype))
        inside = position > starts[k]
        previous = np.maximum(position - 1, 0)
        values = (self.counts, self.sums, self.hits)
        return [np.where(inside, values[i][previous], 0.0) for i in parts]

    @property
    def nbytes(self):
        return self.keys.nbytes + self.counts.nbytes + self.sums.nbytes + self.hits.nbytes


def resampled_adaptive_errors(prefixes, draws, n_bins):
    r""":func:`adaptive_error_from_histogram` of every class of every bootstrap resample at once.

    Resample ``r`` holds volume ``v`` ``draws[r, v]`` times, so its fine histogram is
    ``sum_v draws[r, v] * fine[v]``; this returns the error of that histogram without forming
    it: the equal-mass edges are found on the exact (integer) counts, in the same fine bins as
    the per-resample computation finds them; only the rounding of the probability sums of the
    equal-mass bins differs (differences of prefix sums instead of sums over fine bins).

    Parameters
    ----------
    prefixes : sequence of FinePrefix
        One per volume, all with the same ``n_classes`` and ``n_fine``.
    draws : ndarray of int of shape (n_resamples, n_volumes)
        How often each volume is drawn in each resample.
    n_bins : int
        Number of equal-mass bins M.

    Returns
    -------
    ndarray of shape (n_resamples, n_classes)
        The error of each class in each resample (0 where a class holds nothing).

    Notes
    -----
    With :math:`C(f)` a resample's count up to and including fine bin f, the edge of rank
    :math:`r_j` lies in fine bin :math:`e_j = \#\{f : C(f) \le r_j\}`, and equal-mass bin b
    holds the fine bins :math:`[e_b, e_{b+1})` (:math:`e_0 = 0`, :math:`e_M = F`), so its sums
    are differences of the cumulative sums at the edges. :math:`e_j` is found in two steps, on
    blocks of fine bins and then inside the block holding it: only the counts at the block
    ends and inside the few blocks that hold an edge are summed over volumes.
    """
    draws = np.asarray(draws, dtype=np.float64)
    n_resamples = draws.shape[0]
    n_classes, width = prefixes[0].n_classes, prefixes[0].n_fine + 1
    classes = np.arange(n_classes)
    totals = np.array([p.below(classes, width - 1) for p in prefixes])  # (V, 3, K)
    totals = (draws @ totals.reshape(len(prefixes), -1)).reshape(n_resamples, 3, n_classes)
    n = totals[:, 0]
    ranks = np.round(np.linspace(0, n, n_bins, endpoint=False, axis=-1))
    ranks = np.minimum(ranks, n[..., None] - 1)[..., 1:]  # (R, K, M - 1), -1 for no values
    edges = _edge_fine_bins(prefixes, draws, ranks)
    # cumulative sums and hits of each resample at its edges, from the distinct (class, edge)
    pairs, where = np.unique(classes[:, None] * width + edges, return_inverse=True)
    k, f = np.divmod(pairs, width)
    at = np.array([p.below(k, f, parts=(1, 2)) for p in prefixes])  # (V, 2, n_pairs)
    at = (draws @ at.reshape(len(prefixes), -1)).reshape(n_resamples, 2, -1)
    rows = np.arange(n_resamples)[:, None, None]
    bounds = np.concatenate(
        [
            np.zeros((n_resamples, 2, n_classes, 1)),
            np.moveaxis(at[rows, :, where.reshape(edges.shape)], -1, 1),
            totals[:, 1:, :, None],
        ],
        axis=-1,
    )
    sums, hits = np.moveaxis(np.diff(bounds, axis=-1), 1, 0)
    gap = np.abs(hits - sums).sum(axis=-1)
    return np.divide(gap, n, out=np.zeros_like(gap), where=n > 0)


def _edge_fine_bins(prefixes, draws, ranks):
    """Fine bin holding each edge rank, ``#{f : C_r(f) <= rank}``, of shape ``ranks.shape``
    (n_resamples, n_classes, n_edges)."""
    n_classes, n_fine = prefixes[0].n_classes, prefixes[0].n_fine
    if ranks.shape[-1] == 0:  # one equal-mass bin: no edge
        return np.zeros(ranks.shape, dtype=np.intp)
    block = max(1, int(np.sqrt(n_fine / 8)))  # fine bins per block
    n_blocks = -(-n_fine // block)
    ends = np.minimum(np.arange(1, n_blocks + 1) * block, n_fine)
    # counts up to each block's end, per resample: integers, exact in float64
    classes = np.arange(n_classes)[:, None]
    at_ends = np.array([p.below(classes, ends, parts=(0,))[0] for p in prefixes])
    at_ends = draws @ at_ends.reshape(len(prefixes), -1)
    n_edges = ranks.shape[-1]
    holding = _count_at_most(at_ends.reshape(-1, n_blocks), ranks.reshape(-1, n_edges))
    holding = np.minimum(holding.reshape(ranks.shape), n_blocks - 1)  # no values: rank -1
    # inside the block holding an edge: the counts of its fine bins (past the last fine bin,
    # C is the total, above every rank), for the distinct (class, block) pairs only
    groups, group_of = np.unique(
        np.arange(n_classes)[:, None] * n_blocks + holding, return_inverse=True
    )
    k, b = np.divmod(groups, n_blocks)
    inside = np.minimum(b[:, None] * block + np.arange(1, block + 1), n_fine)
    inside = np.array([p.below(k[:, None], inside, parts=(0,))[0] for p in prefixes])
    inside = (draws @ inside.reshape(len(prefixes), -1)).reshape(draws.shape[0], -1, block)
    rows = np.arange(draws.shape[0])[:, None, None]
    counts = inside[rows, group_of.reshape(ranks.shape)]  # (R, K, n_edges, block)
    return holding * block + (counts <= ranks[..., None]).sum(axis=-1)


def _count_at_most(rows, values):
    """``(rows[i] <= values[i, j]).sum()`` for nondecreasing rows of integral floats >= 0
    (``values >= -1``), by one searchsorted over the rows laid end to end."""
    shift = max(rows.max(initial=0), values.max(initial=0)) + 2
    if shift * (rows.shape[0] + 1) >= 2.0**53:  # offsets no longer exact: row by row
        pairs = zip(rows, values, strict=True)
        return np.array([np.searchsorted(r, v, side="right") for r, v in pairs])
    offsets = np.arange(1, rows.shape[0] + 1, dtype=np.float64)[:, None] * shift
    flat = (rows + offsets).reshape(-1)  # row i within [(i + 1) shift, (i + 2) shift - 2]
    found = np.searchsorted(flat, (values + offsets).reshape(-1), side="right")
    return found.reshape(values.shape) - np.arange(rows.shape[0])[:, None] * rows.shape[1]


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
