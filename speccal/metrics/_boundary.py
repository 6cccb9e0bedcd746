"""Calibration near the boundaries of the reference segmentation (user guide: metrics).

A voxel is a *boundary voxel* when one of its face neighbours (2 per axis: 6 in 3-D, 4 in 2-D)
has another reference label; both sides of a boundary count. Its distance to the boundary is
``scipy.ndimage.distance_transform_edt(~boundary, sampling=spacing)``, in the units of
``spacing``.

Why the computations here are exact and cheap:

- **Cropping.** Every voxel further than ``floor(w / s_i)`` voxels along axis i from the
  bounding box of the boundary voxels is further than ``w`` from all of them. So a band of
  width ``w`` (or the distances up to ``w``) is computed in that box grown by that margin, and
  inside the box the distance transform equals the one of the whole volume, because the box
  holds every boundary voxel.
- **Band without a distance transform.** "distance ≤ w" means: some boundary voxel lies at an
  offset ``o`` with ``|o · s| ≤ w``. The band is therefore the union of the boundary mask
  shifted by every such offset (a dilation by the anisotropic ball). For each offset ``o'`` of
  the leading axes the admissible offsets along the last axis form one interval ``|o_last| ≤
  r(o')``, so the union is taken over ``o'`` of the boundary mask first dilated along the last
  axis by ``r(o')`` (built incrementally for r = 0, 1, ...). ``|o · s|`` is evaluated with the
  very float64 operations scipy uses (``sqrt`` of the squares of ``o_i s_i`` added in axis
  order), so the comparison with ``w`` is the one of the definition. A wide band (many
  offsets) falls back to the distance transform of the cropped box.
"""

import itertools
import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
from scipy import ndimage

from speccal._utils import check_scalar
from speccal.metrics import _binning as kernel
from speccal.metrics._rows import check_class_axis
from speccal.metrics._segmentation import _check_spacing

__all__ = [
    "DistanceCalibration",
    "boundary_band",
    "boundary_calibration_error",
    "boundary_distance",
    "boundary_voxels",
    "calibration_by_distance",
]

#: Above this many shifted copies, :func:`boundary_band` uses the distance transform instead.
MAX_SHIFTS = 64


def check_width(width, name="width"):
    """Return ``width`` as a float after checking it is a finite number >= 0."""
    return check_scalar(name, width, minimum=0)


def boundary_voxels(labels):
    """Voxels with a face neighbour of another label (both sides of every boundary).

    Parameters
    ----------
    labels : ndarray of shape (...)
        Reference labels.

    Returns
    -------
    ndarray of bool, same shape as ``labels``.
    """
    boundary = np.zeros(labels.shape, dtype=bool)
    for axis in range(labels.ndim):
        low = [slice(None)] * labels.ndim
        high = [slice(None)] * labels.ndim
        low[axis], high[axis] = slice(None, -1), slice(1, None)
        low, high = tuple(low), tuple(high)
        differs = labels[low] != labels[high]
        boundary[low] |= differs
        boundary[high] |= differs
    return boundary


def _crop(boundary, spacing, reach):
    """Slices of the boundary voxels' bounding box grown by ``floor(reach / s_i)`` voxels."""
    (box,) = ndimage.find_objects(boundary.view(np.uint8), max_label=1)
    if box is None:
        return None
    crop = []
    for axis_slice, size, step in zip(box, boundary.shape, spacing, strict=True):
        margin = int(min(math.floor(reach / step), size)) if math.isfinite(reach) else size
        crop.append(slice(max(axis_slice.start - margin, 0), min(axis_slice.stop + margin, size)))
    return tuple(crop)


def _offset_norm(squares):
    """``sqrt`` of squared per-axis offsets added in axis order, as scipy's EDT adds them."""
    total = 0.0
    for square in squares:
        total = total + square
    return math.sqrt(total)


def _shift_plan(spacing, width):
    """Per offset of the leading axes, the largest admissible offset along the last axis."""
    *leading, last = (float(s) for s in spacing)
    ranges = [range(-int(width // s), int(width // s) + 1) for s in leading]
    plan = []
    for offset in itertools.product(*ranges):
        squares = [(o * s) ** 2 for o, s in zip(offset, leading, strict=True)]
        if _offset_norm([*squares, 0.0]) > width:
            continue
        reach = 0
        while _offset_norm([*squares, ((reach + 1) * last) ** 2]) <= width:
            reach += 1
        plan.append((offset, reach))
    return plan


def _dilate(boundary, plan):
    """Union of ``boundary`` shifted by every offset of ``plan`` (see the module notes)."""
    needed = {reach for _, reach in plan}
    along_last, grown = {0: boundary}, boundary
    for reach in range(1, max(needed) + 1):  # keeps only the reaches the plan uses
        grown = grown.copy()
        grown[..., reach:] |= boundary[..., :-reach]
        grown[..., :-reach] |= boundary[..., reach:]
        if reach in needed:
            along_last[reach] = grown
    band = np.zeros(boundary.shape, dtype=bool)
    for offset, reach in plan:
        target, source = [], []
        for o, size in zip(offset, boundary.shape, strict=False):
            if abs(o) >= size:
                break
            target.append(slice(o, None) if o >= 0 else slice(None, o))
            source.append(slice(None, size - o) if o >= 0 else slice(-o, None))
        else:
            band[tuple(target)] |= along_last[reach][tuple(source)]
    return band


def boundary_band(labels, spacing, width):
    """Voxels within ``width`` of a boundary voxel of ``labels`` (validated inputs).

    Parameters
    ----------
    labels : ndarray of shape (...)
    spacing : ndarray of float of shape (labels.ndim,)
    width : float

    Returns
    -------
    ndarray of bool, same shape as ``labels``; all False when there is no boundary.
    """
    boundary = boundary_voxels(labels)
    crop = _crop(boundary, spacing, width)
    band = np.zeros(labels.shape, dtype=bool)
    if crop is None:
        return band
    plan = _shift_plan(spacing, width)
    if len(plan) + max(r for _, r in plan) <= MAX_SHIFTS:
        band[crop] = _dilate(boundary[crop], plan)
    else:
        band[crop] = ndimage.distance_transform_edt(~boundary[crop], sampling=spacing) <= width
    return band


def boundary_distance(labels, spacing, reach=math.inf):
    """Distance of every voxel to the nearest boundary voxel, exact up to ``reach``.

    Parameters
    ----------
    labels : ndarray of shape (...)
    spacing : ndarray of float of shape (labels.ndim,)
    reach : float, default=inf
        Distances above it may be returned as ``inf`` (the crop of the module notes).

    Returns
    -------
    ndarray of float64, same shape as ``labels``; all ``inf`` when there is no boundary.
    """
    boundary = boundary_voxels(labels)
    distance = np.full(labels.shape, np.inf)
    crop = _crop(boundary, spacing, reach)
    if crop is not None:
        distance[crop] = ndimage.distance_transform_edt(~boundary[crop], sampling=spacing)
    return distance


def batch_axes(class_axis, ndim):
    """Number of leading batch axes of a ``y_prob`` with ``ndim`` axes: those before a class
    axis that is not the last one (``(B, C, D, H, W)``: 1; ``(C, D, H, W)`` or
    ``(D, H, W, C)``: 0)."""
    axis = check_class_axis(class_axis, ndim)
    return axis if axis != ndim - 1 else 0


def per_image(function, labels, n_batch, *args):
    """``function(image, *args)`` for each image of ``labels`` after ``n_batch`` batch axes."""
    if n_batch == 0:
        return function(labels, *args)
    images = labels.reshape(-1, *labels.shape[n_batch:])
    return np.stack([function(image, *args) for image in images]).reshape(labels.shape)


def _check_labels(y_true, y_prob, class_axis):
    y_true, y_prob = kernel.check_shapes(y_true, y_prob, class_axis=class_axis)
    n_batch = batch_axes(class_axis, y_prob.ndim)
    if y_true.ndim - n_batch < 1:
        raise ValueError(f"`y_true` must be an image with >= 1 axis; got shape {y_true.shape!r}.")
    return y_true, y_prob, n_batch


def _top_label_sums(labels, probs, groups, n_groups, n_bins, class_axis):
    """Top-label bin sums per group: ``(3, n_groups, n_bins + 2)``; rows of group -1 dropped."""
    slots = kernel.n_slots(n_bins)
    out = np.zeros((3, n_groups, slots))
    flat_labels, flat_probs = kernel.as_samples(labels, probs, class_axis=class_axis)
    flat_groups = groups.reshape(-1)
    start = 0
    for chunk_labels, chunk_probs in kernel.iter_chunks(flat_labels, flat_probs):
        chunk_groups = flat_groups[start : start + chunk_labels.shape[0]]
        start += chunk_labels.shape[0]
        keep = chunk_groups >= 0
        n_kept = np.count_nonzero(keep)
        if n_kept == keep.shape[0]:
            conf, hit = kernel.top_label(chunk_labels, chunk_probs)
        elif n_kept > keep.shape[0] // 4:  # selecting confidences beats gathering rows
            conf, hit = kernel.top_label(chunk_labels, chunk_probs)
            conf, hit, chunk_groups = conf[keep], hit[keep], chunk_groups[keep]
        else:
            conf, hit = kernel.top_label(chunk_labels[keep], chunk_probs[keep])
            chunk_groups = chunk_groups[keep]
        index = kernel.bin_index(conf, n_bins) + chunk_groups.astype(np.intp) * slots
        out += kernel.binned_sums(index, conf, hit, n_groups * slots).reshape(3, n_groups, slots)
    return out


def boundary_calibration_error(
    y_true, y_prob, *, spacing=None, width=2.0, n_bins=15, class_axis=-1
):
    """Expected calibration error of the voxels near a boundary of the reference segmentation.

    Parameters
    ----------
    y_true : array-like of int of shape (*spatial)
        Reference labels of one image (2-D or 3-D, any number of axes), in [0, n_classes).
    y_prob : array-like of float of shape (*spatial, n_classes)
        Predicted probabilities in [0, 1]; each row sums to 1 within 1e-3.
    spacing : float or sequence of float, optional
        Voxel size along each axis (e.g. millimetres); 1 per axis if None.
    width : float, default=2.0
        Width of the band, in the units of ``spacing``; 0 keeps only the boundary voxels.
    n_bins : int, default=15
        Number M of equal-width bins on [0, 1]; bin b = [b/M, (b+1)/M), 1.0 in the last bin.
    class_axis : int, default=-1
        Axis of ``y_prob`` holding the classes. Axes before it, when it is not the last one,
        are batch axes (``(B, C, D, H, W)`` with ``class_axis=1``): each image of the batch
        gets its own band, and the ECE pools the bands. With the classes last, every axis of
        ``y_true`` is spatial.

    Returns
    -------
    float
        Top-label ECE, in [0, 1], of the voxels within ``width`` of a boundary voxel.

    Raises
    ------
    ValueError
        If the shapes do not match, a label or probability is invalid, ``spacing`` does not
        hold one positive number per axis, ``width`` is not a finite number >= 0, or
        ``y_true`` has no boundary (a single label).

    See Also
    --------
    calibration_by_distance : the same distance, cut into shells.
    speccal.evaluation.CalibrationEvaluator : ``"boundary_ece"``, streamed over volumes.

    Notes
    -----
    A voxel is a boundary voxel when a face neighbour (6 in 3-D, 4 in 2-D) has another
    reference label: both sides of a boundary count. The band B holds the voxels whose distance
    :math:`d_i` to the nearest boundary voxel (``distance_transform_edt(~boundary,
    sampling=spacing)``) is at most ``width``; the result is the ECE over B,

    .. math:: \\mathrm{ECE}_\\partial = \\sum_b \\frac{n_b}{|B|} \\left| \\bar a_b - \\bar c_b
        \\right|, \\quad B = \\{ i : d_i \\le w \\},

    with bins, confidences :math:`c_i` and hits :math:`a_i` as in
    :func:`expected_calibration_error`. The band is computed in the bounding box of the
    boundary grown by the width, by shifting the boundary mask (no distance transform for
    narrow bands); see the module notes of ``speccal/metrics/_boundary.py`` for why both are
    exact.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import boundary_calibration_error
    >>> y_true = np.zeros((6, 6), dtype=int)
    >>> y_true[:, 3:] = 1
    >>> y_prob = np.where(y_true[..., None] == np.arange(2), 0.9, 0.1)
    >>> round(boundary_calibration_error(y_true, y_prob, width=1.0), 6)
    0.1
    """
    n_bins = kernel.check_n_bins(n_bins)
    width = check_width(width)
    y_true, y_prob, n_batch = _check_labels(y_true, y_prob, class_axis)
    spacing = _check_spacing(spacing, y_true.ndim - n_batch)
    band = per_image(boundary_band, y_true, n_batch, spacing, width)
    if not band.any():
        raise ValueError(
            "`y_true` must hold a boundary (two labels on neighbouring voxels); got a single "
            f"label, {int(y_true.reshape(-1)[0])!r}."
        )
    groups = band.astype(np.int8) - 1  # 0 in the band, -1 (dropped) outside
    state = _top_label_sums(y_true, y_prob, groups, 1, n_bins, class_axis)
    return float(kernel.gap_error(state, n_bins)[0])


@dataclass(frozen=True)
class DistanceCalibration:
    """Calibration of the voxels in shells of distance to the reference boundary.

    Returned by :func:`calibration_by_distance`; one entry per shell
    ``[edges[j], edges[j + 1])`` (the last shell also holds its right edge).

    Attributes
    ----------
    edges : ndarray of shape (n_shells + 1,)
        Shell edges, in the units of the spacing.
    count : ndarray of int of shape (n_shells,)
        Voxels per shell.
    ece : ndarray of shape (n_shells,)
        Top-label ECE of each shell's voxels.
    accuracy : ndarray of shape (n_shells,)
        Fraction of the shell's voxels whose top label is right.
    confidence : ndarray of shape (n_shells,)
        Mean top-label confidence of the shell's voxels.

    Notes
    -----
    A shell without voxels has ``count`` 0 and NaN for ``ece``, ``accuracy`` and
    ``confidence`` (no value exists; plots leave a gap).

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import calibration_by_distance
    >>> y_true = np.zeros((8, 8), dtype=int)
    >>> y_true[:, 4:] = 1
    >>> y_prob = np.where(y_true[..., None] == np.arange(2), 0.9, 0.1)
    >>> result = calibration_by_distance(y_true, y_prob, edges=(0, 1, np.inf))
    >>> result.labels()
    ['[0, 1) mm', '>= 1 mm']
    >>> result.ece.round(6).tolist()
    [0.1, 0.1]
    """

    edges: np.ndarray
    count: np.ndarray
    ece: np.ndarray
    accuracy: np.ndarray
    confidence: np.ndarray

    @property
    def n_shells(self):
        """Number of shells."""
        return self.count.shape[0]

    def labels(self, unit="mm"):
        """Text label of each shell, e.g. ``"[0, 1) mm"``; the last one closed on the right.

        Parameters
        ----------
        unit : str, default="mm"

        Returns
        -------
        list of str
        """
        text = [f"{e:g}" for e in self.edges]
        out = [f"[{a}, {b}) {unit}".rstrip() for a, b in zip(text[:-1], text[1:], strict=True)]
        if math.isinf(self.edges[-1]):
            out[-1] = f">= {text[-2]} {unit}".rstrip()
        else:
            out[-1] = f"[{text[-2]}, {text[-1]}] {unit}".rstrip()
        return out


def check_edges(edges):
    """Return ``edges`` as float64 after checking: >= 2, increasing, from >= 0, inf only last."""
    values = np.asarray(edges, dtype=float) if _is_numbers(edges) else None
    if (
        values is None
        or values.ndim != 1
        or values.shape[0] < 2
        or np.isnan(values).any()
        or values[0] < 0
        or np.isinf(values[:-1]).any()
        or not (np.diff(values) > 0).all()
    ):
        raise ValueError(
            "`edges` must be >= 2 strictly increasing numbers >= 0 (inf allowed last); "
            f"got {edges!r}."
        )
    return values


def _is_numbers(edges):
    try:
        return all(isinstance(e, Real) and not isinstance(e, bool) for e in edges)
    except TypeError:
        return False


def calibration_by_distance(
    y_true, y_prob, *, spacing=None, edges=(0, 1, 2, 4, 8, math.inf), n_bins=15, class_axis=-1
):
    """Calibration of the voxels in shells of distance to the reference segmentation's boundary.

    Parameters
    ----------
    y_true : array-like of int of shape (*spatial)
        Reference labels of one image, in [0, n_classes).
    y_prob : array-like of float of shape (*spatial, n_classes)
        Predicted probabilities in [0, 1]; each row sums to 1 within 1e-3.
    spacing : float or sequence of float, optional
        Voxel size along each axis (e.g. millimetres); 1 per axis if None.
    edges : sequence of float, default=(0, 1, 2, 4, 8, inf)
        Shell edges in the units of ``spacing``: shell j is ``[edges[j], edges[j + 1])``, the
        last one ``[edges[-2], edges[-1]]``. Voxels outside ``[edges[0], edges[-1]]`` count in
        no shell.
    n_bins : int, default=15
        Equal-width bins of the ECE of each shell.
    class_axis : int, default=-1
        Axis of ``y_prob`` holding the classes; axes before it, when it is not the last one,
        are batch axes (each image gets its own distances), as in
        :func:`boundary_calibration_error`.

    Returns
    -------
    DistanceCalibration
        ``edges``, and per shell ``count``, ``ece``, ``accuracy``, ``confidence``.

    Raises
    ------
    ValueError
        For invalid shapes, labels, probabilities, ``spacing`` or ``edges``, or when
        ``y_true`` has no boundary (a single label).

    See Also
    --------
    boundary_calibration_error : the ECE of the shell ``[0, width]``.
    speccal.plotting.plot_calibration_by_distance : several methods overlaid.

    Notes
    -----
    The distance of a voxel is the one of :func:`boundary_calibration_error`: Euclidean, to the
    nearest boundary voxel of the reference (a voxel with a face neighbour of another label;
    boundary voxels are at 0), from ``scipy.ndimage.distance_transform_edt(~boundary,
    sampling=spacing)``, computed in the boundary's bounding box grown by the last finite edge
    (further voxels lie beyond it). Per shell S the ECE is
    :math:`\\sum_b (n_b / |S|) |\\bar a_b - \\bar c_b|`, the accuracy :math:`\\bar a_S` and the
    confidence :math:`\\bar c_S`.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import calibration_by_distance
    >>> y_true = np.zeros((8, 8), dtype=int)
    >>> y_true[:, 4:] = 1
    >>> y_prob = np.where(y_true[..., None] == np.arange(2), 0.9, 0.1)
    >>> calibration_by_distance(y_true, y_prob, edges=(0, 1, 2, np.inf)).count.tolist()
    [16, 16, 32]
    """
    n_bins = kernel.check_n_bins(n_bins)
    edges = check_edges(edges)
    y_true, y_prob, n_batch = _check_labels(y_true, y_prob, class_axis)
    spacing = _check_spacing(spacing, y_true.ndim - n_batch)
    finite = edges[np.isfinite(edges)]
    reach = float(finite[-1])
    distance = per_image(boundary_distance, y_true, n_batch, spacing, reach)
    if np.isinf(distance).all():
        raise ValueError(
            "`y_true` must hold a boundary (two labels on neighbouring voxels); got a single "
            f"label, {int(y_true.reshape(-1)[0])!r}."
        )
    n_shells = edges.shape[0] - 1
    shell = np.searchsorted(edges, distance, side="right") - 1
    shell[distance == edges[-1]] = n_shells - 1  # the last shell is closed on the right
    shell[shell >= n_shells] = -1
    state = _top_label_sums(y_true, y_prob, shell.astype(np.intp), n_shells, n_bins, class_axis)
    count, confidence, accuracy = (state[j, :, :n_bins].sum(-1) for j in range(3))
    with np.errstate(invalid="ignore", divide="ignore"):
        ece = np.where(count > 0, kernel.gap_error(state, n_bins), np.nan)
        confidence = np.where(count > 0, confidence / count, np.nan)
        accuracy = np.where(count > 0, accuracy / count, np.nan)
    return DistanceCalibration(edges, count.astype(np.int64), ece, accuracy, confidence)
