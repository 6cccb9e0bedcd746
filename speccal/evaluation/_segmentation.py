"""Per-volume segmentation tables: Dice, HD95 and ASD per class, means and deviations.

numpy, scipy, scikit-learn and joblib only: this module never imports TensorFlow.
"""

import copy
import csv
import numbers
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from speccal._names import SEGMENTATION_METRICS
from speccal._utils import check_bool, check_scalar
from speccal.evaluation._calibration import _as_volumes, _FittedAttributes, check_mergeable
from speccal.evaluation._statistics import (
    check_bootstrap_params,
    percentile_interval,
    resample_counts,
)
from speccal.metrics._segmentation import _check_method, _check_spacing, segmentation_scores

__all__ = ["SegmentationEvaluator"]


def _score_volume(y_true, y_pred, spacing, case_id, options):
    """Score one volume; return its scores and the messages of the warnings raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            scores = segmentation_scores(y_true, y_pred, spacing=spacing, **options)
        except (TypeError, ValueError) as error:
            raise type(error)(f"case {case_id!r}: {error}") from error
    return scores, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _as_volume_list(volumes, name):
    """The volumes of :func:`_as_volumes`, each as an array."""
    return [np.asarray(volume) for volume in _as_volumes(volumes, name)]


def _per_volume_spacings(spacing, n_volumes):
    """One spacing shared by every volume, or check that there is one per volume."""
    if spacing is None or _is_one_spacing(spacing):
        return [spacing] * n_volumes
    spacings = list(spacing)
    if len(spacings) != n_volumes:
        raise ValueError(
            f"`spacing` must be one spacing for all volumes or one per volume ({n_volumes}); "
            f"got {len(spacings)} spacings."
        )
    return spacings


def _case_ids(case_id, n_volumes, n_done):
    """One identifier per volume (a str for one volume); default: the running index."""
    if case_id is None:
        return [str(n_done + i) for i in range(n_volumes)]
    ids = [case_id] if isinstance(case_id, str) else [str(c) for c in case_id]
    if len(ids) != n_volumes:
        raise ValueError(
            f"`case_id` must hold one identifier per volume ({n_volumes}); got {case_id!r}."
        )
    return ids


def _check_spatial_rank(trues, preds, spatial_dims):
    """Every volume must have ``spatial_dims`` axes (2 or 3 if None): a batch is a list."""
    if spatial_dims is None:
        ranks, expected = (2, 3), "2 or 3 axes"
    elif spatial_dims in (1, 2, 3) and not isinstance(spatial_dims, bool):
        ranks, expected = (spatial_dims,), f"{spatial_dims} axes (`spatial_dims`)"
    else:
        raise ValueError(f"`spatial_dims` must be None, 1, 2 or 3; got {spatial_dims!r}.")
    for name, volumes in (("y_true", trues), ("y_pred", preds)):
        for volume in volumes:
            if volume.ndim not in ranks:
                hint = "; pass a batch as a list of volumes, list(batch)"
                raise ValueError(
                    f"`{name}` must hold volumes of {expected}"
                    f"{hint if volume.ndim > max(ranks) else ''}; got an array of shape "
                    f"{volume.shape!r}."
                )


def _is_one_spacing(spacing):
    return isinstance(spacing, numbers.Real) or all(
        isinstance(value, numbers.Real) for value in spacing
    )


def _column_std(values):
    """Population standard deviation per column; ``inf`` where a column holds ``inf``."""
    finite = np.isfinite(values).all(axis=0)
    std = np.full(values.shape[1], np.inf)
    std[finite] = values[:, finite].std(axis=0)
    return std


class SegmentationEvaluator(_FittedAttributes, BaseEstimator):
    r"""Per-volume Dice, HD95 and ASD for every class, with means and standard deviations.

    Each volume is scored with :func:`speccal.metrics.segmentation_scores`, using its own
    voxel spacing; volumes can be scored in parallel with joblib, :meth:`partial_fit` adds
    volumes one call at a time, and ``a + b`` (:meth:`merge`) joins the tables of two
    evaluators, like the calibration evaluators' states.

    Parameters
    ----------
    n_classes : int, optional
        Number of classes (background included), at least 2. Default: ``len(class_names)``
        if given, else one more than the largest label in the volumes of the first call to
        :meth:`fit` or :meth:`partial_fit`.
    include_background : bool, default=False
        Whether class 0 is scored too.
    class_names : sequence of str, optional
        One name per class, background included (length ``n_classes``), used in the table's
        column names. Default: the class indices.
    n_jobs : int, optional
        Number of joblib workers that score volumes in parallel; None means 1 unless inside
        a :func:`joblib.parallel_config` context, -1 means all processors.
    hd95_method : {"medpy", "monai"}, default="medpy"
        HD95 definition, see :func:`speccal.metrics.hausdorff_distance_95`.
    spatial_dims : {1, 2, 3} or None, default=None
        Number of axes of every volume (None: 2 or 3). An array with another number of axes
        is refused, so that a batch ``(n_volumes, *spatial)`` is not scored as one volume
        of one more axis: pass it as ``list(batch)``.

    Attributes
    ----------
    n_classes_ : int
        Number of classes, background included.
    classes_ : ndarray of shape (n_scored_classes,)
        The scored class indices (1..n_classes-1, or 0..n_classes-1 with background).
    class_names_ : list of str
        The names of the scored classes.
    case_ids_ : list of str
        One identifier per scored volume, in order.
    spacings_ : list of tuple of float
        The voxel spacing used for each volume.
    scores_ : dict of str to ndarray of shape (n_volumes, n_scored_classes)
        ``{"dice": ..., "hd95": ..., "asd": ...}``, one row per volume.
    mean_ : dict of str to ndarray of shape (n_scored_classes,)
        Per-class mean over volumes of each metric.
    std_ : dict of str to ndarray of shape (n_scored_classes,)
        Per-class population standard deviation (``ddof=0``) over volumes; ``inf`` for a
        class where some volume scored ``inf``.
    records_ : list of dict
        The per-volume table: one dict per volume with ``case_id`` and one entry per
        metric and class, named ``"{metric}_{class_name}"`` (e.g. ``"hd95_tumour"``).
    n_volumes_ : int
        Number of volumes scored.

    See Also
    --------
    speccal.metrics.segmentation_scores : The scores of one pair of label maps.
    speccal.evaluation.CalibrationEvaluator : Calibration metrics over the same volumes.

    Notes
    -----
    For class :math:`k` and volumes :math:`v = 1..V`, with :math:`m_{vk}` one of
    DSC, HD95 or ASD,

    .. math::

        \bar m_k = \frac{1}{V} \sum_{v=1}^{V} m_{vk}, \qquad
        s_k = \sqrt{\frac{1}{V} \sum_{v=1}^{V} (m_{vk} - \bar m_k)^2}.

    A class absent from a volume's prediction but present in its ground truth (or the
    reverse) scores HD95 = ASD = ``inf`` with a :class:`UserWarning` naming the case; the
    class mean is then ``inf``, never a silent NaN. Warnings raised in joblib workers are
    re-emitted in the calling process.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.evaluation import SegmentationEvaluator
    >>> y_true = np.zeros((8, 8, 8), dtype=int); y_true[2:6, 2:6, 2:6] = 1
    >>> y_pred = np.roll(y_true, 1, axis=0)
    >>> evaluator = SegmentationEvaluator(class_names=["background", "tumour"])
    >>> evaluator = evaluator.fit([y_true, y_true], [y_pred, y_true],
    ...                           spacing=[(1.0, 1.0, 1.0), (2.0, 1.0, 1.0)],
    ...                           case_id=["a", "b"])
    >>> evaluator.scores_["dice"].ravel().tolist()
    [0.75, 1.0]
    >>> evaluator.mean_["dice"].tolist()
    [0.875]
    >>> sorted(evaluator.records_[0])
    ['asd_tumour', 'case_id', 'dice_tumour', 'hd95_tumour']
    """

    def __init__(
        self,
        *,
        n_classes=None,
        include_background=False,
        class_names=None,
        n_jobs=None,
        hd95_method="medpy",
        spatial_dims=None,
    ):
        self.n_classes = n_classes
        self.include_background = include_background
        self.class_names = class_names
        self.n_jobs = n_jobs
        self.hd95_method = hd95_method
        self.spatial_dims = spatial_dims

    def fit(self, y_true, y_pred, *, spacing=None, case_id=None):
        """Score volumes, replacing any previous result.

        Parameters
        ----------
        y_true : array-like of shape (*spatial), or list of such arrays
            Ground-truth (reference) label maps: one array is one volume; a list or tuple
            holds one volume per item (shapes may differ between volumes). A batch array of
            shape ``(n_volumes, *spatial)`` is passed as ``list(batch)``.
        y_pred : array-like of shape (*spatial), or list of such arrays
            Predicted label maps, matching ``y_true`` one for one.
        spacing : sequence of float or list of sequences of float, optional
            Voxel size per axis (millimetres): one spacing shared by all volumes, or one per
            volume. Default: 1 on every axis.
        case_id : str or sequence of str, optional
            One identifier per volume. Default: the running index of the volume.

        Returns
        -------
        self : SegmentationEvaluator
            The fitted evaluator.

        Raises
        ------
        ValueError
            If a parameter is invalid, the numbers of volumes, spacings and identifiers
            differ, a volume does not have ``spatial_dims`` axes, or a volume fails
            :func:`speccal.metrics.segmentation_scores`'s checks (the message names the case).
        """
        for name in ("n_classes_", "scores_"):
            self.__dict__.pop(name, None)
        return self.partial_fit(y_true, y_pred, spacing=spacing, case_id=case_id)

    def partial_fit(self, y_true, y_pred, *, spacing=None, case_id=None):
        """Score more volumes and add them to the table.

        Parameters
        ----------
        y_true : array-like of shape (*spatial), or list of such arrays
            Ground-truth label maps, as in :meth:`fit`.
        y_pred : array-like of shape (*spatial), or list of such arrays
            Predicted label maps, as in :meth:`fit`.
        spacing : sequence of float or list of sequences of float, optional
            One spacing for all these volumes or one per volume, as in :meth:`fit`.
        case_id : str or sequence of str, optional
            One identifier per volume. Default: the running index of the volume.

        Returns
        -------
        self : SegmentationEvaluator
            The evaluator, with the new volumes appended.

        Raises
        ------
        ValueError
            As in :meth:`fit`; also if a volume holds a label >= ``n_classes_`` fixed by an
            earlier call.
        """
        trues = _as_volume_list(y_true, "y_true")
        preds = _as_volume_list(y_pred, "y_pred")
        if len(preds) != len(trues):
            raise ValueError(
                f"`y_pred` must hold as many volumes as `y_true` ({len(trues)}); got {len(preds)}."
            )
        first = not hasattr(self, "scores_")
        if first:
            self._check_params(trues, preds)
        n_done = 0 if first else self.n_volumes_
        spacings = _per_volume_spacings(spacing, len(preds))
        case_ids = _case_ids(case_id, len(preds), n_done)
        _check_spatial_rank(trues, preds, self.spatial_dims)
        options = {
            "n_classes": self.n_classes_,
            "include_background": self.include_background,
            "hd95_method": self.hd95_method,
        }
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_score_volume)(t, p, s, c, options)
            for t, p, s, c in zip(trues, preds, spacings, case_ids, strict=True)
        )
        for case, (_, messages) in zip(case_ids, results, strict=True):
            for message in messages:
                warnings.warn(f"case {case!r}: {message}", UserWarning, stacklevel=2)
        new = {m: np.stack([scores[m] for scores, _ in results]) for m in SEGMENTATION_METRICS}
        if first:
            self.scores_, self.case_ids_, self.spacings_ = new, [], []
        else:
            self.scores_ = {m: np.concatenate([self.scores_[m], new[m]]) for m in new}
        self.case_ids_ += case_ids
        self.spacings_ += [
            tuple(_check_spacing(s, p.ndim).tolist()) for s, p in zip(spacings, preds, strict=True)
        ]
        self._summarise()
        return self

    def confidence_interval(
        self, metric, *, n_resamples=1000, confidence_level=0.95, random_state=None
    ):
        """Percentile bootstrap interval over volumes of each class's mean of a metric.

        Parameters
        ----------
        metric : {"dice", "hd95", "asd"}
            The metric whose per-class mean (``mean_[metric]``) is resampled.
        n_resamples : int, default=1000
            Bootstrap resamples of the volumes.
        confidence_level : float, default=0.95
            Level of the interval, in (0, 1).
        random_state : None, int or numpy.random.Generator, optional
            Seed of the resampling (``numpy.random.default_rng(random_state)``).

        Returns
        -------
        low, high : ndarray of shape (n_scored_classes,)
            Per scored class (``classes_``), the interval of the mean over volumes.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the evaluator is not fitted.
        ValueError
            If ``metric`` or a parameter is invalid.

        Notes
        -----
        Resample ``r`` takes the volumes ``rng.integers(0, n_volumes, size=(n_resamples,
        n_volumes))[r]`` with ``rng = numpy.random.default_rng(random_state)``, as
        :meth:`CalibrationEvaluator.confidence_interval` does, so intervals of both evaluators
        fitted on the same volumes come from the same draws. A resample holding a volume
        whose distance is ``inf`` (a missed structure) has mean ``inf``; the bounds are then
        the quantiles of resampled means that include ``inf`` (``high`` is ``inf`` when more
        than ``(1 - level) / 2`` of the resamples drew such a volume).

        Examples
        --------
        >>> import numpy as np
        >>> from speccal.evaluation import SegmentationEvaluator
        >>> y_true = np.zeros((8, 8, 8), dtype=int); y_true[2:6, 2:6, 2:6] = 1
        >>> y_pred = [np.roll(y_true, s, axis=0) for s in (0, 1, 1, 2)]
        >>> evaluator = SegmentationEvaluator(n_classes=2).fit(y_true=[y_true] * 4, y_pred=y_pred)
        >>> low, high = evaluator.confidence_interval("dice", random_state=0)
        >>> bool(low[0] <= evaluator.mean_["dice"][0] <= high[0])
        True
        """
        check_is_fitted(self, "scores_")
        if metric not in SEGMENTATION_METRICS:
            raise ValueError(f"`metric` must be one of {SEGMENTATION_METRICS}; got {metric!r}.")
        n_resamples, level = check_bootstrap_params(n_resamples, confidence_level)
        values = self.scores_[metric]
        counts = resample_counts(values.shape[0], n_resamples, random_state)
        finite = np.isfinite(values)
        means = counts @ np.where(finite, values, 0.0) / values.shape[0]
        means[(counts @ ~finite) > 0] = np.inf  # only +inf: distances are never -inf
        return percentile_interval(means, level)

    def merge(self, other):
        """The table of the volumes of two fitted evaluators with the same parameters.

        Parameters
        ----------
        other : SegmentationEvaluator
            Fitted, with the same parameters and number of classes.

        Returns
        -------
        SegmentationEvaluator
            A new fitted evaluator; the volumes of ``self`` come first. ``a + b`` is
            ``a.merge(b)``, as for the calibration evaluators, so volumes scored apart (for
            example on Dask workers) add up to one table.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If either evaluator is not fitted.
        ValueError
            If the classes, parameters or numbers of classes differ.
        """
        check_mergeable(self, other)
        merged = copy.deepcopy(self)
        merged.scores_ = {
            m: np.concatenate([self.scores_[m], other.scores_[m]]) for m in self.scores_
        }
        merged.case_ids_ = self.case_ids_ + other.case_ids_
        merged.spacings_ = self.spacings_ + other.spacings_
        merged._summarise()
        return merged

    def __add__(self, other):
        return self.merge(other)

    def to_csv(self, path):
        """Write the per-volume table to a CSV file.

        Columns: ``case_id``, then ``{metric}_{class_name}`` for each metric (dice, hd95,
        asd) and scored class; floats are written with full precision (``inf`` as ``inf``).

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (created or overwritten).

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the evaluator has not been fitted.
        """
        check_is_fitted(self, "records_")
        path = Path(path)
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(self.records_[0]))
            writer.writeheader()
            writer.writerows(self.records_)
        return path

    def _check_params(self, trues, preds):
        """Check the constructor's parameters; set ``n_classes_`` and the class names."""
        names = self.class_names
        if names is not None and (
            isinstance(names, str) or not all(isinstance(n, str) for n in names)
        ):
            raise ValueError(f"`class_names` must be a sequence of str; got {names!r}.")
        n_classes = check_scalar(
            "n_classes", self.n_classes, integer=True, minimum=2, allow_none=True
        )
        if n_classes is None:
            n_classes = len(names) if names is not None else _largest_label(trues + preds) + 1
            n_classes = max(n_classes, 2)
        if names is not None and len(names) != n_classes:
            raise ValueError(
                f"`class_names` must hold one name per class ({n_classes}, background "
                f"included); got {len(names)} names."
            )
        check_bool("include_background", self.include_background)
        _check_method(self.hd95_method, "hd95_method")
        check_scalar("n_jobs", self.n_jobs, integer=True, allow_none=True)
        self.n_classes_ = int(n_classes)
        self.classes_ = np.arange(0 if self.include_background else 1, self.n_classes_)
        names = list(names) if names is not None else [str(k) for k in range(self.n_classes_)]
        self.class_names_ = [names[k] for k in self.classes_]

    def _summarise(self):
        """Recompute the means, deviations and the per-volume table from ``scores_``."""
        self.n_volumes_ = len(self.case_ids_)
        self.mean_ = {m: values.mean(axis=0) for m, values in self.scores_.items()}
        self.std_ = {m: _column_std(values) for m, values in self.scores_.items()}
        columns = [
            (f"{m}_{name}", m, j)
            for m in SEGMENTATION_METRICS
            for j, name in enumerate(self.class_names_)
        ]
        self.records_ = [
            {"case_id": case, **{col: float(self.scores_[m][i, j]) for col, m, j in columns}}
            for i, case in enumerate(self.case_ids_)
        ]


def _largest_label(volumes):
    largest = 0
    for volume in volumes:
        if volume.size and np.issubdtype(volume.dtype, np.number) and np.all(np.isfinite(volume)):
            largest = max(largest, int(volume.max()))
    return largest
