"""Segmentation metrics: Dice, HD95 and average surface distance on voxel surfaces.

The conventions are medpy 0.5's: the surface of a binary mask is the
mask minus its binary erosion with the connectivity-1 structuring element (voxels outside the
volume count as background), and distances are Euclidean in millimetres, taken from
:func:`scipy.ndimage.distance_transform_edt` with ``sampling=spacing`` (its feature transform
gives each voxel's nearest surface voxel; the distances are evaluated, with scipy's own
arithmetic, at the surface voxels of the other mask only).

Distance transforms are computed on the bounding box of the union of both masks, enlarged by
one voxel on every side (clipped to the volume), never on the whole volume. This is exact:

* every voxel of either mask lies inside the box and so do its neighbours (or they lie outside
  the volume, which the erosion treats as background in both cases), so the erosion, hence the
  surfaces, are the same as on the full volume;
* the distance transform of ``~surface`` is, at each voxel, the minimum distance to a surface
  voxel; all surface voxels lie inside the box, so the minimum over the box equals the minimum
  over the volume at every voxel of the box, in particular at the surface voxels we read.

Label maps (:func:`segmentation_scores`) are first cropped to their non-zero voxels; one
:func:`scipy.ndimage.find_objects` pass then gives every class's box.

numpy and scipy only: this module never imports TensorFlow.
"""

import warnings

import numpy as np
from scipy import ndimage

from speccal._names import SEGMENTATION_METRICS
from speccal._utils import check_bool, check_option, check_scalar, fill_doc

__all__ = [
    "average_surface_distance",
    "dice_score",
    "hausdorff_distance_95",
    "segmentation_scores",
]

HD95_METHODS = ("medpy", "monai")


# -- shared parameter documentation (nilearn's ``docdict`` / ``fill_doc``) ----------------

_DOCS = {
    "masks": """y_true : array-like of shape (*spatial)
        Ground-truth (reference) binary mask: bool, or numbers that are all 0 or 1.
    y_pred : array-like of shape (*spatial)
        Predicted binary mask of the same shape.""",
    "spacing": """spacing : float or sequence of float, optional
        Voxel size along each axis (millimetres), one positive value per axis, or one value
        for all axes. Default: 1 on every axis (distances in voxels).""",
    "distance": """float
        The distance, in the units of ``spacing``. 0 when both masks are empty; ``inf``
        (with a :class:`UserWarning`) when exactly one is.""",
}


# -- input validation ---------------------------------------------------------------------


def _as_binary(mask, name):
    """Return ``mask`` as a boolean array; raise if it holds values other than 0 and 1."""
    mask = np.asarray(mask)
    if mask.ndim == 0:
        raise ValueError(f"`{name}` must be an array with at least one axis; got {mask!r}.")
    if mask.dtype == bool:
        return mask
    if not (np.issubdtype(mask.dtype, np.integer) or np.issubdtype(mask.dtype, np.floating)):
        raise TypeError(
            f"`{name}` must be a binary mask (bool, or numbers 0 and 1); got dtype {mask.dtype}."
        )
    if np.issubdtype(mask.dtype, np.integer):
        binary = mask.size == 0 or (mask.min() >= 0 and mask.max() <= 1)
    else:
        binary = bool(np.all((mask == 0) | (mask == 1)))
    if not binary:
        values = np.unique(mask[(mask != 0) & (mask != 1)])[:5]
        raise ValueError(
            f"`{name}` must be a binary mask (bool, or numbers 0 and 1); got values "
            f"{values.tolist()!r}."
        )
    return mask != 0


def _binary_pair(y_true, y_pred):
    """Validate two binary masks of one shape; return them as boolean arrays."""
    true = _as_binary(y_true, "y_true")
    pred = _as_binary(y_pred, "y_pred")
    _check_same_shape(true, pred)
    return true, pred


def _check_same_shape(y_true, y_pred):
    if y_pred.shape != y_true.shape:
        raise ValueError(
            f"`y_pred` must have the same shape as `y_true` {y_true.shape}; got {y_pred.shape}."
        )


def _check_spacing(spacing, ndim):
    """Return the voxel spacing as a float64 array of length ``ndim`` (ones if None)."""
    if spacing is None:
        return np.ones(ndim)
    try:
        values = np.asarray(spacing, dtype=float)
    except (TypeError, ValueError):
        values = None
    if values is not None and values.ndim == 0:
        values = np.full(ndim, float(values))
    if (
        values is None
        or values.shape != (ndim,)
        or not np.all(np.isfinite(values))
        or np.any(values <= 0)
    ):
        raise ValueError(
            f"`spacing` must be a positive finite number or a sequence of {ndim} positive "
            f"finite numbers (one per axis); got {spacing!r}."
        )
    return values


def _check_method(method, name="method"):
    return check_option(name, method, HD95_METHODS)


def _as_labels(labels, name):
    """Return a label map as a non-negative integer array."""
    labels = np.asarray(labels)
    if labels.ndim == 0:
        raise ValueError(f"`{name}` must be an array with at least one axis; got {labels!r}.")
    if labels.dtype == bool:
        return labels.view(np.uint8)
    if np.issubdtype(labels.dtype, np.floating):
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError(f"`{name}` must hold integer class labels; got non-integer values.")
        labels = labels.astype(np.int64)
    elif not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"`{name}` must hold integer class labels; got dtype {labels.dtype}.")
    if labels.size and labels.min() < 0:
        raise ValueError(
            f"`{name}` must hold non-negative class labels; got minimum {labels.min()}."
        )
    return labels


def _check_n_classes(n_classes, true, pred):
    """Validate ``n_classes`` against both label maps, or infer it from them."""
    largest = max(int(true.max(initial=0)), int(pred.max(initial=0)))
    if n_classes is None:
        return max(largest + 1, 2)
    n_classes = check_scalar("n_classes", n_classes, integer=True, minimum=2)
    for name, labels in (("y_true", true), ("y_pred", pred)):
        if labels.size and labels.max() >= n_classes:
            raise ValueError(
                f"`{name}` must hold labels in [0, n_classes={n_classes}); got label "
                f"{labels.max()}."
            )
    return int(n_classes)


# -- the surface-distance kernel ----------------------------------------------------------


def _union_box(box_a, box_b, shape, margin=1):
    """Bounding box of two boxes, grown by ``margin`` voxels and clipped to ``shape``."""
    return tuple(
        slice(max(min(a.start, b.start) - margin, 0), min(max(a.stop, b.stop) + margin, n))
        for a, b, n in zip(box_a, box_b, shape, strict=True)
    )


def _surface(mask):
    """Boundary voxels: ``mask`` minus its erosion with the connectivity-1 structure."""
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask & ~ndimage.binary_erosion(mask, structure=structure, border_value=0)


def _distances_to(surface, points, spacing):
    """Distance from each voxel of ``points`` (a tuple of index arrays) to ``surface``.

    The nearest surface voxel of every voxel comes from the feature transform of
    :func:`scipy.ndimage.distance_transform_edt`; the distances are then computed at
    ``points`` only, with the same operations scipy applies to the whole array.
    """
    nearest = ndimage.distance_transform_edt(
        ~surface, sampling=spacing, return_distances=False, return_indices=True
    )
    offsets = np.stack([nearest[axis][points] - points[axis] for axis in range(surface.ndim)])
    offsets = offsets.astype(np.float64) * spacing[:, None]
    np.multiply(offsets, offsets, out=offsets)
    return np.sqrt(np.add.reduce(offsets, axis=0))


def _surface_distances(pred, true, spacing):
    """Directed surface distances ``d(P→G)`` and ``d(G→P)`` of two non-empty masks.

    ``pred`` and ``true`` are boolean crops that contain both masks with a one-voxel margin
    (or the volume border). Returns two float64 arrays, one distance per surface voxel, in
    C order of the voxels.
    """
    surface_pred = _surface(pred)
    surface_true = _surface(true)
    to_true = _distances_to(surface_true, np.nonzero(surface_pred), spacing)
    to_pred = _distances_to(surface_pred, np.nonzero(surface_true), spacing)
    return to_true, to_pred


def _hd95(to_true, to_pred, method):
    if method == "monai":
        return float(max(np.percentile(to_true, 95), np.percentile(to_pred, 95)))
    return float(np.percentile(np.concatenate([to_true, to_pred]), 95))


def _asd(to_true, to_pred, symmetric):
    if symmetric:
        return float(np.concatenate([to_true, to_pred]).mean())
    return float(to_true.mean())


def _bounding_box(array):
    """Bounding box (tuple of slices) of the non-zero voxels of ``array``, or None.

    One pass over the volume along the first axis, then passes over ever smaller slabs.
    """
    box = []
    for axis in range(array.ndim):
        others = tuple(a for a in range(array.ndim) if a != axis)
        present = np.flatnonzero(np.any(array, axis=others))
        if present.size == 0:
            return None
        box.append(slice(int(present[0]), int(present[-1]) + 1))
        array = array[(slice(None),) * axis + (box[-1],)]
    return tuple(box)


def _binary_surface_distances(y_true, y_pred, spacing, metric):
    """Validate a pair of binary masks; return their directed distances, or a fixed value.

    Returns ``(to_true, to_pred, None)``, or ``(None, None, value)`` when at least one mask
    is empty: 0 if both are, ``inf`` with a warning if exactly one is.
    """
    true, pred = _binary_pair(y_true, y_pred)
    spacing = _check_spacing(spacing, pred.ndim)
    box_pred, box_true = _bounding_box(pred), _bounding_box(true)
    if box_pred is None or box_true is None:
        return (
            None,
            None,
            _empty_distance(box_pred is None, box_true is None, metric, stacklevel=4),
        )
    box = _union_box(box_pred, box_true, pred.shape)
    to_true, to_pred = _surface_distances(pred[box], true[box], spacing)
    return to_true, to_pred, None


def _empty_distance(pred_empty, true_empty, what, stacklevel):
    """0 if both masks are empty; ``inf`` and a UserWarning if exactly one is."""
    if pred_empty and true_empty:
        return 0.0
    empty = "y_pred" if pred_empty else "y_true"
    warnings.warn(
        f"{what}: `{empty}` is empty and the other mask is not; the distance is inf.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return np.inf


# -- public functions ---------------------------------------------------------------------


@fill_doc(**_DOCS)
def dice_score(y_true, y_pred):
    r"""Dice similarity coefficient of two binary masks.

    Parameters
    ----------
    {masks}

    Returns
    -------
    float
        The Dice coefficient in [0, 1]; 1 when both masks are empty, 0 when exactly one is.

    Raises
    ------
    TypeError
        If an input is neither boolean nor numeric.
    ValueError
        If the shapes differ or a mask holds values other than 0 and 1.

    See Also
    --------
    segmentation_scores : Dice, HD95 and ASD per class of two label maps.

    Notes
    -----
    With :math:`P` and :math:`G` the sets of foreground voxels,

    .. math::

        \mathrm{DSC}(P, G) = \frac{2\,|P \cap G|}{|P| + |G|},

    and :math:`\mathrm{DSC} = 1` when :math:`|P| + |G| = 0` (medpy ``dc`` convention).

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import dice_score
    >>> y_true = np.zeros((4, 4), dtype=bool); y_true[1:3, 1:3] = True
    >>> y_pred = np.zeros((4, 4), dtype=bool); y_pred[1:3, 1:4] = True
    >>> round(dice_score(y_true, y_pred), 4)
    0.8
    """
    true, pred = _binary_pair(y_true, y_pred)
    total = np.count_nonzero(pred) + np.count_nonzero(true)
    if total == 0:
        return 1.0
    return float(2.0 * np.count_nonzero(pred & true) / total)


@fill_doc(**_DOCS)
def hausdorff_distance_95(y_true, y_pred, *, spacing=None, method="medpy"):
    r"""95th-percentile Hausdorff distance between the surfaces of two binary masks.

    Parameters
    ----------
    {masks}
    {spacing}
    method : {"medpy", "monai"}, default="medpy"
        ``"medpy"``: the 95th percentile of the union of both directed distance sets (medpy
        0.5 ``hd95``). ``"monai"``: the larger of the two directed 95th percentiles (MONAI
        ``compute_hausdorff_distance(percentile=95)``).

    Returns
    -------
    {distance}

    Raises
    ------
    TypeError
        If an input is neither boolean nor numeric.
    ValueError
        If the shapes differ, a mask is not binary, ``spacing`` does not hold one positive
        finite value per axis, or ``method`` is unknown.

    See Also
    --------
    average_surface_distance : The mean of the same distances.
    segmentation_scores : Dice, HD95 and ASD per class of two label maps.

    Notes
    -----
    The surface :math:`\partial P` of a mask is the mask minus its binary erosion with the
    6-neighbourhood (connectivity 1) structuring element. For each surface voxel :math:`p` of
    one mask, :math:`d(p, \partial G) = \min_{g \in \partial G} \lVert (p - g) \odot s
    \rVert_2` with :math:`s` the spacing. With the directed sets
    :math:`D_{PG} = \{d(p, \partial G)\}_{p \in \partial P}` and :math:`D_{GP}` likewise,

    .. math::

        \mathrm{HD95}_{\mathrm{medpy}} = Q_{95}(D_{PG} \cup D_{GP}), \qquad
        \mathrm{HD95}_{\mathrm{monai}} = \max\left(Q_{95}(D_{PG}), Q_{95}(D_{GP})\right),

    where :math:`Q_{95}` is :func:`numpy.percentile` with linear interpolation. The two
    differ, notably with anisotropic spacing. The distance transform runs only on the
    bounding box of both masks plus a one-voxel margin, which gives the same values as on
    the full volume.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import hausdorff_distance_95
    >>> y_true = np.zeros((8, 8, 8), dtype=bool); y_true[2:6, 2:6, 2:6] = True
    >>> y_pred = np.roll(y_true, 1, axis=0)
    >>> hausdorff_distance_95(y_true, y_pred, spacing=(2.0, 1.0, 1.0))
    2.0
    """
    _check_method(method)
    to_true, to_pred, value = _binary_surface_distances(y_true, y_pred, spacing, "HD95")
    return value if value is not None else _hd95(to_true, to_pred, method)


@fill_doc(**_DOCS)
def average_surface_distance(y_true, y_pred, *, spacing=None, symmetric=True):
    r"""Average surface distance between two binary masks.

    Parameters
    ----------
    {masks}
    {spacing}
    symmetric : bool, default=True
        True: the mean over the surface voxels of both masks (medpy ``assd``). False: the
        directed mean from the prediction to the reference, i.e. the mean, over the surface
        voxels of ``y_pred``, of their distance to the surface of ``y_true`` (medpy
        ``asd(result=y_pred, reference=y_true)``; :math:`\mathrm{ASD}_{P \to G}` below).
        Swapping the two masks changes this value.

    Returns
    -------
    {distance}

    Raises
    ------
    TypeError
        If a mask is neither boolean nor numeric, or ``symmetric`` is not a bool.
    ValueError
        If the shapes differ, a mask is not binary, or ``spacing`` does not hold one positive
        finite value per axis.

    See Also
    --------
    hausdorff_distance_95 : The 95th percentile of the same distances.
    segmentation_scores : Dice, HD95 and ASD per class of two label maps.

    Notes
    -----
    With the directed surface-distance sets :math:`D_{PG}` and :math:`D_{GP}` defined in
    :func:`hausdorff_distance_95`,

    .. math::

        \mathrm{ASD}_{\mathrm{sym}} = \frac{\sum D_{PG} + \sum D_{GP}}
        {|\partial P| + |\partial G|}, \qquad
        \mathrm{ASD}_{P \to G} = \frac{\sum D_{PG}}{|\partial P|}.

    The symmetric form is the mean of the union, not the mean of the two directed means.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import average_surface_distance
    >>> y_true = np.zeros((8, 8), dtype=bool); y_true[2:6, 2:6] = True
    >>> y_pred = np.zeros((8, 8), dtype=bool); y_pred[2:6, 2:7] = True
    >>> round(average_surface_distance(y_true, y_pred), 4)
    0.2308
    >>> round(average_surface_distance(y_true, y_pred, symmetric=False), 4)
    0.2857
    """
    check_bool("symmetric", symmetric)
    to_true, to_pred, value = _binary_surface_distances(y_true, y_pred, spacing, "ASD")
    return value if value is not None else _asd(to_true, to_pred, symmetric)


def _class_boxes(labels, n_classes, include_background):
    """Bounding box of every class (index = class), None where a class is absent."""
    boxes = [None] * n_classes
    foreground = _bounding_box(labels)
    if foreground is not None:
        starts = [s.start for s in foreground]
        found = ndimage.find_objects(labels[foreground], max_label=n_classes - 1)
        for k, box in enumerate(found, start=1):
            if box is not None:
                boxes[k] = tuple(
                    slice(s.start + o, s.stop + o) for s, o in zip(box, starts, strict=True)
                )
    if include_background:
        boxes[0] = _bounding_box(labels == 0)
    return boxes


@fill_doc(**_DOCS)
def segmentation_scores(
    y_true,
    y_pred,
    *,
    n_classes=None,
    spacing=None,
    include_background=False,
    hd95_method="medpy",
):
    r"""Dice, HD95 and symmetric ASD for every class of two label maps.

    Each class is scored one-vs-rest as a binary mask; its surfaces and surface distances
    are computed once and serve both HD95 and ASD, on the bounding box of the class in both
    maps (plus a one-voxel margin).

    Parameters
    ----------
    y_true : array-like of shape (*spatial)
        Ground-truth (reference) label map: non-negative integers (floats with integer
        values are accepted).
    y_pred : array-like of shape (*spatial)
        Predicted label map of the same shape.
    n_classes : int, optional
        Number of classes, at least 2; labels must lie in ``[0, n_classes)``. Default: one
        more than the largest label in either map (and at least 2).
    {spacing}
    include_background : bool, default=False
        Whether class 0 is scored too.
    hd95_method : {"medpy", "monai"}, default="medpy"
        HD95 definition, see :func:`hausdorff_distance_95`.

    Returns
    -------
    dict of str to ndarray
        ``{"dice": ..., "hd95": ..., "asd": ...}``, each a float64 array of shape
        ``(n_classes,)`` if ``include_background`` else ``(n_classes - 1,)``: entry ``i``
        belongs to class ``i`` (with background) or ``i + 1`` (without). A class absent from
        both maps scores Dice 1 and distances 0; absent from exactly one, Dice 0 and
        distances ``inf`` with a :class:`UserWarning` naming the class.

    Raises
    ------
    TypeError
        If a label map is neither boolean nor numeric, or ``include_background`` is not a
        bool.
    ValueError
        If the shapes differ, a map holds negative, non-integer or out-of-range labels,
        ``n_classes`` is not an integer >= 2, ``spacing`` is invalid or ``hd95_method`` is
        unknown.

    See Also
    --------
    dice_score, hausdorff_distance_95, average_surface_distance : The binary forms.
    speccal.evaluation.SegmentationEvaluator : Per-volume tables over many volumes.

    Notes
    -----
    For class :math:`k`, :math:`P_k = \{v : \hat y_v = k\}` and :math:`G_k = \{v : y_v = k\}`;
    then :math:`\mathrm{DSC}_k = \mathrm{DSC}(P_k, G_k)`, :math:`\mathrm{HD95}_k =
    \mathrm{HD95}(P_k, G_k)` and :math:`\mathrm{ASD}_k = \mathrm{ASD}_{\mathrm{sym}}(P_k,
    G_k)`, as in :func:`dice_score`, :func:`hausdorff_distance_95` and
    :func:`average_surface_distance`.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import segmentation_scores
    >>> y_true = np.zeros((6, 6, 6), dtype=int)
    >>> y_true[1:4, 1:4, 1:4] = 1; y_true[4:, 4:, 4:] = 2
    >>> y_pred = y_true.copy(); y_pred[1, 1, 1] = 0
    >>> scores = segmentation_scores(y_true, y_pred, spacing=(1.0, 1.0, 2.0))
    >>> sorted(scores)
    ['asd', 'dice', 'hd95']
    >>> scores["dice"].round(4).tolist()
    [0.9811, 1.0]
    """
    _check_method(hd95_method, "hd95_method")
    check_bool("include_background", include_background)
    true = _as_labels(y_true, "y_true")
    pred = _as_labels(y_pred, "y_pred")
    _check_same_shape(true, pred)
    spacing = _check_spacing(spacing, pred.ndim)
    n_classes = _check_n_classes(n_classes, true, pred)
    boxes_pred = _class_boxes(pred, n_classes, include_background)
    boxes_true = _class_boxes(true, n_classes, include_background)
    classes = range(0 if include_background else 1, n_classes)
    scores = {name: np.empty(len(classes)) for name in SEGMENTATION_METRICS}
    for i, k in enumerate(classes):
        box_pred, box_true = boxes_pred[k], boxes_true[k]
        if box_pred is None or box_true is None:
            distance = _empty_distance(
                box_pred is None, box_true is None, f"class {k}", stacklevel=3
            )
            scores["dice"][i] = float(box_pred is None and box_true is None)
            scores["hd95"][i] = scores["asd"][i] = distance
            continue
        box = _union_box(box_pred, box_true, pred.shape)
        mask_pred, mask_true = pred[box] == k, true[box] == k
        total = np.count_nonzero(mask_pred) + np.count_nonzero(mask_true)
        scores["dice"][i] = 2.0 * np.count_nonzero(mask_pred & mask_true) / total
        to_true, to_pred = _surface_distances(mask_pred, mask_true, spacing)
        scores["hd95"][i] = _hd95(to_true, to_pred, hd95_method)
        scores["asd"][i] = _asd(to_true, to_pred, symmetric=True)
    return scores
