"""Estimator-style calibration evaluators: several metrics in one pass, streaming, mergeable.

numpy, scipy and scikit-learn only: this module never imports TensorFlow.
"""

import copy
import warnings
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from speccal._names import CALIBRATION_METRICS
from speccal._utils import check_bool, check_option, check_scalar, fill_doc
from speccal.evaluation._protocol import EvaluationProtocol
from speccal.evaluation._statistics import (
    check_bootstrap_params,
    percentile_interval,
    resample_counts,
)
from speccal.metrics import _binning as kernel
from speccal.metrics._boundary import batch_axes, boundary_band, check_width, per_image
from speccal.metrics._calibration import (
    KEEP_ALL,
    N_FINE_BINS,
    CalibrationAccumulator,
    check_classes,
)
from speccal.metrics._segmentation import _check_spacing

__all__ = [
    "ACEEvaluator",
    "CalibrationEvaluator",
    "ECEEvaluator",
    "MCEEvaluator",
    "SCEEvaluator",
    "TACEEvaluator",
]

#: The part of the state (:meth:`CalibrationAccumulator.tables`) each pooled metric reads.
_TABLE_OF = {"boundary_ece": "boundary", "sce": "classwise", "brier": "scores", "nll": "scores"}
_TOP, _CLASSWISE, _SCORES = {"ece", "mce", "rmsce"}, {"sce"}, {"brier", "nll"}


class _Settings(NamedTuple):
    """The validated parameters of an evaluator, read once per call."""

    names: tuple
    n_bins: int
    thresholds: dict  # equal-mass metric name -> threshold
    protocol: EvaluationProtocol
    binning: str
    n_fine_bins: int
    boundary_width: float
    class_axis: int


def _as_volumes(values, name):
    """One array is one volume; a list or tuple holds one volume per item."""
    if isinstance(values, list | tuple):
        if not values:
            raise ValueError(f"`{name}` must hold at least one volume; got an empty sequence.")
        return list(values)
    return [values]


class _FittedAttributes:
    """Reading a fitted attribute (``name_``) before ``fit`` raises ``NotFittedError``.

    :class:`~sklearn.exceptions.NotFittedError` is also an :class:`AttributeError`, so
    ``hasattr`` keeps working. A fitted evaluator lacking an optional attribute (e.g.
    ``volume_scores_`` without ``per_volume``) raises a plain ``AttributeError``.
    """

    def __getattr__(self, name):
        if name.endswith("_") and not name.startswith("_") and "scores_" not in vars(self):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call 'fit' or "
                f"'partial_fit' before reading `{name}`."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class CalibrationEvaluator(_FittedAttributes, BaseEstimator):
    """Calibration metrics of segmentation volumes, computed in one pass and streamed.

    Parameters
    ----------
    metrics : sequence of str, default=("ece", "sce", "tace")
        Any of "ece", "mce", "rmsce", "sce", "ace", "tace", "brier", "nll", "boundary_ece"
        (the ECE of the voxels within ``boundary_width`` of a boundary of the reference, see
        :func:`speccal.metrics.boundary_calibration_error`; needs the volumes' ``spacing``).
    n_bins : int, default=15
        Number of bins M (equal-width for ECE/MCE/RMSCE/SCE, equal-mass for ACE/TACE).
    threshold : float, default=1e-3
        TACE threshold ε in [0, 1).
    boundary_width : float, default=2.0
        Width of the boundary band of "boundary_ece", in the units of ``spacing`` (mm).
    protocol : str or EvaluationProtocol, default="speccal"
        Which voxels count and how volumes are aggregated: a preset name ("speccal", "nixon",
        "mbls", "monai") or an :class:`EvaluationProtocol`.
    adaptive_binning : {"histogram", "exact"}, default="histogram"
        Equal-mass bins of pooled ACE/TACE: from a fine per-class histogram (constant memory,
        error at most ``error_bound_``) or exact (keeps references to the validated input, read
        again at the end: for data that fits in memory). Per-volume values are always exact.
    n_fine_bins : int, default=16384
        Fine histogram bins per class for ``adaptive_binning="histogram"``.
    per_volume : bool, default=False
        Also keep one value per volume in ``volume_scores_`` (implied by a per-volume protocol).
    from_logits : bool, default=False
        ``y_prob`` holds logits; a softmax over the class axis is applied chunk by chunk.
    class_axis : int, default=-1
        Axis of ``y_prob`` holding the classes: -1 for channels last ``(..., n_classes)``,
        0 for ``(n_classes, D, H, W)``, 1 for ``(B, n_classes, D, H, W)`` (PyTorch, MONAI).
        Channel-first volumes are read chunk by chunk, one transposed chunk at a time, and
        give the channels-last scores bit for bit. A parameter of the evaluator (not of
        ``fit``), as the layout is fixed by where the arrays come from; :meth:`merge` accepts
        evaluators that differ only in it.

    Attributes
    ----------
    n_classes_ : int
    protocol_ : EvaluationProtocol
        The resolved protocol.
    scores_ : dict of str to float
        Value of each metric on everything seen so far.
    score_ : float
        Value of the first metric.
    volume_scores_ : dict of str to ndarray of shape (n_volumes,)
        Per-volume values (only with ``per_volume=True`` or a per-volume protocol).
    volume_counts_ : ndarray of shape (n_volumes,)
        Selected voxels per volume (same condition).
    volume_bin_sums_ : ndarray of shape (n_volumes, 3, n_bins)
        Per volume, the count, sum of confidences and sum of hits of each top-label bin
        (same condition; n_bins + 1 bins for the "left-extra" rule): the reliability bins of
        any set of volumes are sums of these (:meth:`confidence_interval` resamples them).
    class_scores_ : dict of str to ndarray of shape (n_classes,)
        Per-class values of "sce" (the class-wise ECE of each class), "ace" and "tace", for
        those of them computed; entry k is class k, background included whatever
        ``include_background`` (which only chooses the classes ``scores_`` averages). Under a
        per-volume protocol, the (weighted) mean over volumes of ``volume_class_scores_``.
    volume_class_scores_ : dict of str to ndarray of shape (n_volumes, n_classes)
        The same per volume (when ``volume_scores_`` is kept).
    error_bound_ : dict of str to float
        Bound on the error of the histogram approximation of pooled "ace"/"tace" (0 if exact).
    n_samples_ : int
        Selected voxels seen.
    bin_count_, bin_confidence_, bin_accuracy_ : ndarray of shape (n_bins,)
        Top-label reliability bins of all selected voxels (NaN for empty bins; n_bins + 1
        entries for the "left-extra" bin rule).
    class_bin_count_, class_bin_confidence_, class_bin_accuracy_ : ndarray of shape \
(n_classes, n_bins)
        Per-class bins of ``p_k`` against ``1[y = k]`` (when "sce" is computed).

    Raises
    ------
    ValueError
        In ``fit``/``partial_fit``, for an invalid parameter or input; the message names it.

    See Also
    --------
    speccal.metrics.expected_calibration_error : the function this evaluator equals.
    speccal.plotting.ReliabilityDisplay.from_evaluator : draw the fitted bins.

    Notes
    -----
    The state is fixed-size — per-(class, bin) counts, probability sums and hit sums (and a
    fine histogram per class for streaming TACE) — so :meth:`partial_fit` streams any number of
    volumes in memory independent of their number, and ``a + b`` (:meth:`merge`) gives the
    state of the concatenated data. With the histogram, each equal-mass edge is moved to the
    lower end of the fine bin holding it; only the samples of those fine bins can change bin,
    and moving them changes each class's error by at most

    .. math:: \\frac{2}{N_k} \\sum_{f \\in F_e} \\left[ H_f (1 - l_f) + (c_f - H_f) u_f \\right]
        \\le \\frac{2}{N_k} \\sum_{f \\in F_e} c_f

    (``error_bound_``, the mean over classes), with :math:`F_e` the fine bins holding an edge,
    :math:`[l_f, u_f)` their range, :math:`c_f` their counts and :math:`H_f` their hits (the
    bound is derived where it is computed, in speccal's source). Below 1e-3 on 3·10⁴
    segmentation-like voxels per class with the default 16384 fine bins.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.evaluation import CalibrationEvaluator
    >>> y_prob = np.array([[0.8, 0.2], [0.8, 0.2]])
    >>> evaluator = CalibrationEvaluator(metrics=("ece", "sce")).fit(np.array([0, 1]), y_prob)
    >>> {k: round(v, 6) for k, v in evaluator.scores_.items()}
    {'ece': 0.3, 'sce': 0.3}
    """

    def __init__(
        self,
        *,
        metrics=("ece", "sce", "tace"),
        n_bins=15,
        threshold=1e-3,
        boundary_width=2.0,
        protocol="speccal",
        adaptive_binning="histogram",
        n_fine_bins=N_FINE_BINS,
        per_volume=False,
        from_logits=False,
        class_axis=-1,
    ):
        self.metrics = metrics
        self.n_bins = n_bins
        self.threshold = threshold
        self.boundary_width = boundary_width
        self.protocol = protocol
        self.adaptive_binning = adaptive_binning
        self.n_fine_bins = n_fine_bins
        self.per_volume = per_volume
        self.from_logits = from_logits
        self.class_axis = class_axis

    # -- parameters --
    def _metric_names(self):
        """The metric names as a tuple, or None if ``metrics`` is not a sequence of them."""
        metrics = self.metrics
        if isinstance(metrics, str) or not isinstance(metrics, Iterable):
            return None
        names = tuple(metrics)
        if not names or any(m not in CALIBRATION_METRICS for m in names):
            return None
        return names

    def _config(self):
        """The validated parameters, as a :class:`_Settings`."""
        names = self._metric_names()
        if names is None:
            raise ValueError(
                f"`metrics` must be a non-empty sequence of {CALIBRATION_METRICS}; got "
                f"{self.metrics!r}."
            )
        check_bool("per_volume", self.per_volume)
        check_bool("from_logits", self.from_logits)
        n_bins = kernel.check_n_bins(self.n_bins)
        threshold = kernel.check_threshold(self.threshold)
        protocol = self.protocol
        if isinstance(protocol, str):
            protocol = EvaluationProtocol.preset(protocol)
        elif not isinstance(protocol, EvaluationProtocol):
            raise ValueError(
                f"`protocol` must be a preset name or an EvaluationProtocol; got {protocol!r}."
            )
        protocol.validate()
        binning = check_option("adaptive_binning", self.adaptive_binning, ("histogram", "exact"))
        n_fine_bins = kernel.check_n_bins(self.n_fine_bins, "n_fine_bins")
        thresholds = {"ace": KEEP_ALL, "tace": threshold}
        width = check_width(self.boundary_width, "boundary_width")
        class_axis = check_scalar("class_axis", self.class_axis, integer=True)
        return _Settings(
            names, n_bins, thresholds, protocol, binning, n_fine_bins, width, int(class_axis)
        )

    @staticmethod
    def _new_state(n_classes, settings, binning):
        wanted = set(settings.names)
        return CalibrationAccumulator(
            n_classes,
            settings.n_bins,
            bin_rule=settings.protocol.bin_rule,
            top=True,
            classwise=bool(wanted & _CLASSWISE),
            scores=bool(wanted & _SCORES),
            boundary="boundary_ece" in wanted,
            adaptive=tuple(settings.thresholds[m] for m in ("ace", "tace") if m in wanted),
            adaptive_binning=binning,
            n_fine_bins=settings.n_fine_bins,
            eps=1e-12,
        )

    def _keeps_volumes(self, protocol):
        return self.per_volume or protocol.aggregation == "per_volume"

    # -- fitting --
    def fit(self, y_true, y_prob, *, mask=None, spacing=None):
        """Compute the metrics on one volume or a list of volumes, forgetting previous data.

        Parameters
        ----------
        y_true : array-like of int of shape (...) or list of them
            True labels in [0, n_classes), one array per volume.
        y_prob : array-like of float of shape (..., n_classes) or list of them
            Probabilities (or logits with ``from_logits=True``); rows sum to 1 within 1e-3.
            The classes lie on axis ``class_axis`` (last by default).
        mask : array-like of bool of shape (...) or list of them, optional
            Voxels to count (required by a protocol with ``voxels="mask"``).
        spacing : sequence of float or list of sequences of float, optional
            Voxel size per axis (mm) of each volume, used by "boundary_ece" only: one spacing
            shared by all volumes or one per volume; 1 per axis if None. The band is found on
            the whole volume, from every reference label (an ignored label too); the protocol
            then selects its voxels (e.g. the foreground ones). With a class axis that is not
            the last, the axes before it are batch axes: one band per image, and ``spacing``
            has one entry per spatial axis.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For invalid parameters, shapes, labels or probabilities (the message names them).
        """
        for name in list(vars(self)):
            if name.endswith("_") and not name.startswith("_"):
                delattr(self, name)
        for name in (
            "_state",
            "_volume_scores",
            "_volume_counts",
            "_volume_class_scores",
            "_volume_tables",
        ):
            self.__dict__.pop(name, None)
        return self.partial_fit(y_true, y_prob, mask=mask, spacing=spacing)

    def partial_fit(self, y_true, y_prob, *, mask=None, spacing=None):
        """Add one volume (or a list of volumes) to the state, in constant extra memory.

        Parameters
        ----------
        y_true, y_prob, mask, spacing
            As in :meth:`fit`.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            As in :meth:`fit`, and if the number of classes differs from earlier calls.
        """
        settings = self._config()
        trues, probs = _as_volumes(y_true, "y_true"), _as_volumes(y_prob, "y_prob")
        masks = _as_volumes(mask, "mask") if mask is not None else [None] * len(trues)
        for name, values in (("y_prob", probs), ("mask", masks)):
            if len(values) != len(trues):
                raise ValueError(
                    f"`{name}` must hold as many volumes as `y_true` ({len(trues)}; a list or "
                    f"tuple holds one volume per item); got {len(values)}."
                )
        # imported here: the segmentation module imports this one
        from speccal.evaluation._segmentation import _per_volume_spacings

        spacings = _per_volume_spacings(spacing, len(trues))
        saved = self._snapshot()
        try:
            for volume in zip(trues, probs, masks, spacings, strict=True):
                self._add_volume(*volume, settings)
            if self.n_samples_ == 0:
                raise ValueError(
                    "`y_true` must leave at least one voxel under the protocol; got 0."
                )
            self._finalize(settings)
        except BaseException:
            # a call adds all of its volumes or none: a bad volume leaves no trace
            vars(self).clear()
            vars(self).update(saved)
            raise
        return self

    def _snapshot(self):
        """The attributes :meth:`partial_fit` changes, as they are now."""
        saved = dict(vars(self))
        for name in ("_volume_scores", "_volume_counts", "_volume_class_scores"):
            if name in saved:
                saved[name] = list(saved[name])
        if "_state" in saved:  # `+=` on the state builds new arrays but updates its dict
            saved["_state"] = copy.copy(saved["_state"])
            saved["_state"].adaptive = dict(saved["_state"].adaptive)
        return saved

    def _add_volume(self, y_true, y_prob, mask, spacing, settings):
        protocol, class_axis = settings.protocol, settings.class_axis
        y_true, y_prob = kernel.check_shapes(y_true, y_prob, class_axis=class_axis)
        keep = protocol.select(y_true, mask)
        band = None
        if "boundary_ece" in settings.names:
            n_batch = batch_axes(class_axis, y_prob.ndim)
            spacing = _check_spacing(spacing, y_true.ndim - n_batch)
            band = per_image(boundary_band, y_true, n_batch, spacing, settings.boundary_width)
            band = band[keep] if keep is not None else band.reshape(-1)
            if not band.any() and y_true.size:
                warnings.warn(
                    "a volume has no voxel under the protocol within `boundary_width` of a "
                    "boundary of the reference; its boundary_ece is NaN and it adds nothing "
                    "to the pooled one.",
                    UserWarning,
                    3,
                )
        n_classes = y_prob.shape[class_axis]
        if not hasattr(self, "n_classes_"):
            self.n_classes_, self.protocol_, self.n_samples_ = n_classes, protocol, 0
            self._state = self._new_state(n_classes, settings, settings.binning)
            if self._keeps_volumes(protocol):
                self._volume_scores, self._volume_counts = [], []
                self._volume_class_scores, self._volume_tables = [], []
        elif n_classes != self.n_classes_:
            raise ValueError(
                f"`y_prob` must have {self.n_classes_} classes like the earlier volumes; "
                f"got {n_classes}."
            )
        if (y_true.size if keep is None else np.count_nonzero(keep)) == 0:
            warnings.warn(
                "a volume has no voxel under the protocol; it is skipped.", UserWarning, 2
            )
            return
        labels, samples = kernel.as_samples(y_true, y_prob, class_axis=class_axis, keep=keep)
        if self._keeps_volumes(protocol):
            exact = self._accumulate(labels, samples, band, settings, "exact")
            values, _, class_values = self._scores_of(exact, settings)
            self._volume_scores.append(values)
            self._volume_class_scores.append(class_values)
            self._volume_counts.append(labels.shape[0])
            tables = exact.tables()
            for key in tables:
                if isinstance(key, tuple):  # ("adaptive", threshold): what the bootstrap reads
                    tables[key] = kernel.FinePrefix.from_histogram(tables[key])
            self._volume_tables.append(tables)
            self._state += exact  # a histogram-mode state keeps only the sums
        else:
            self._state += self._accumulate(labels, samples, band, settings, settings.binning)
        self.n_samples_ += labels.shape[0]

    def _accumulate(self, labels, samples, band, settings, binning):
        state = self._new_state(samples.shape[1], settings, binning)
        start = 0
        for chunk_labels, chunk_probs, reread in kernel.iter_chunks(
            labels, samples, from_logits=self.from_logits, with_reread=True
        ):
            stop = start + chunk_labels.shape[0]
            chunk_band = None if band is None else band[start:stop]
            state.update(chunk_labels, chunk_probs, band=chunk_band, reread=reread)
            start = stop
        return state

    @staticmethod
    def _scores_of(state, settings):
        """Metric values, error bounds and per-class values of one accumulated state."""
        background = settings.protocol.include_background
        check_classes(state, background)
        classes = state.classes(background)
        thresholds = settings.thresholds
        values, bounds, class_values = {}, {}, {}
        for name in settings.names:
            if name in thresholds:
                errors, error_bounds = state.adaptive_errors(thresholds[name])
                bounds[name] = float(error_bounds[classes].mean())
            elif name == "sce":
                errors = state.classwise_ece()
            else:
                values[name] = getattr(state, name)()
                continue
            values[name], class_values[name] = float(errors[classes].mean()), errors
        return values, bounds, class_values

    def _finalize(self, settings):
        state = self._state
        names = settings.names
        values, self.error_bound_, class_values = self._scores_of(state, settings)
        if hasattr(self, "_volume_scores"):
            self.volume_scores_ = {m: np.array([v[m] for v in self._volume_scores]) for m in names}
            self.volume_class_scores_ = {
                m: np.array([v[m] for v in self._volume_class_scores]).reshape(-1, self.n_classes_)
                for m in class_values
            }
            self.volume_counts_ = np.array(self._volume_counts, dtype=np.int64)
            self.volume_bin_sums_ = self._volume_bin_sums()
            if self.protocol_.aggregation == "per_volume":
                values = {m: self._volume_mean(m) for m in names}
                weights = self.volume_counts_ if self.protocol_.volume_weights == "count" else None
                class_values = {
                    m: np.average(v, axis=0, weights=weights)
                    for m, v in self.volume_class_scores_.items()
                }
                self.error_bound_ = dict.fromkeys(self.error_bound_, 0.0)
        self.class_scores_ = class_values
        self.scores_ = values
        self.score_ = values[names[0]]
        extra = self.protocol_.bin_rule == "left-extra"
        n_bins = state.n_bins
        self.bin_count_, self.bin_confidence_, self.bin_accuracy_ = kernel.per_bin(
            state.top, n_bins, extra=extra
        )
        classwise = state.classwise_state()
        if classwise is not None:
            (
                self.class_bin_count_,
                self.class_bin_confidence_,
                self.class_bin_accuracy_,
            ) = kernel.per_bin(classwise, n_bins, extra=extra)

    def _volume_mean(self, name):
        """Mean over volumes (of those with a value: a volume without a band has no
        boundary_ece), weighted as the protocol says."""
        scores = self.volume_scores_[name]
        weights = self.volume_counts_ if self.protocol_.volume_weights == "count" else None
        has_value = ~np.isnan(scores)
        if not has_value.any():
            return float("nan")
        if weights is not None:
            weights = weights[has_value]
        return float(np.average(scores[has_value], weights=weights))

    def _volume_bin_sums(self):
        """Top-label bin sums per volume, read off the per-volume tables."""
        keep = self._state.n_bins + (self.protocol_.bin_rule == "left-extra")
        if not self._volume_tables:
            return np.zeros((0, 3, keep))
        return np.stack([tables["top"][:, :keep] for tables in self._volume_tables])

    # -- case bootstrap --
    def confidence_interval(
        self,
        metric=None,
        *,
        n_resamples=1000,
        confidence_level=0.95,
        random_state=None,
        aggregation=None,
    ):
        """Percentile bootstrap interval of a metric over volumes (a case bootstrap).

        Parameters
        ----------
        metric : str, optional
            One of the evaluator's ``metrics``; default the first.
        n_resamples : int, default=1000
            Bootstrap resamples of the volumes.
        confidence_level : float, default=0.95
            Level of the interval, in (0, 1).
        random_state : None, int or numpy.random.Generator, optional
            Seed of the resampling (``numpy.random.default_rng(random_state)``).
        aggregation : {"pooled", "per_volume"}, optional
            The statistic resampled: the pooled metric of the resampled volumes, or the mean
            of their per-volume values (weighted as the protocol says). Default: the
            protocol's aggregation, i.e. the statistic of ``scores_``.

        Returns
        -------
        (low, high) : tuple of float

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the evaluator is not fitted.
        ValueError
            If it was fitted without ``per_volume=True`` (and with a pooled protocol), or a
            parameter is invalid.

        Notes
        -----
        Volumes, not voxels, are resampled: voxels of one volume are not independent. With
        ``rng = numpy.random.default_rng(random_state)``, resample ``r`` takes the volumes
        ``rng.integers(0, n_volumes, size=(n_resamples, n_volumes))[r]`` (in the order
        they were fitted), and the interval is the pair of ``(1 ∓ level) / 2`` quantiles of
        the resampled statistics.

        *Pooled*: the per-(class, bin) sums of a volume add up, so a resample's state is a
        count-weighted sum of the volumes' sums — one matrix product of the
        ``(n_resamples, n_volumes)`` draw counts with the stacked per-volume sums — and its
        metric is computed exactly as ``scores_`` is: equal to fitting a new evaluator on
        the concatenated voxels of the drawn volumes, for ECE, MCE, RMSCE, SCE, boundary ECE,
        Brier and NLL. ACE and TACE are computed from the summed fine histograms, as
        ``adaptive_binning="histogram"`` does (each resample within its ``error_bound_``
        of the exact equal-mass value; also when this evaluator is exact), for all
        resamples at once: the equal-mass edges fall in the fine bins where summing each
        resample's histograms puts them (found on integer counts, exactly), and the bins'
        sums are differences of cumulative sums (equal to summing the fine bins up to
        float rounding, below 1e-12 relative).
        The per-volume sums take memory: ``3 (n_bins + 2)`` numbers per volume for ECE,
        times ``n_classes`` for SCE, and per equal-mass metric the fine histograms' non-empty
        bins as cumulative sums, 20 bytes each (a key, float64 sums, counts and hits in
        uint32 or a smaller unsigned type): at most 2.5 MB per volume at 4 classes and the
        30720 fine bins used when "sce" is computed too (``n_bins`` times a power of two),
        1.4 MB on a 240 x 240 x 155 segmentation volume whose 4 classes fill 55 % of them,
        0.5 MB on a 96 x 96 x 64 one (21 %); the dense histogram took 2.9 MB. Not less: any
        non-empty fine bin may hold an edge in some resample, so its count is needed, and
        the probability sum below it, which only float64 holds exactly.

        *Per volume*: the mean (weighted by voxel counts with ``volume_weights="count"``) of
        the drawn volumes' values; volumes without a value (boundary ECE of a volume without
        a boundary) are left out, as in ``scores_``.

        Examples
        --------
        >>> import numpy as np
        >>> from speccal.evaluation import CalibrationEvaluator
        >>> rng = np.random.default_rng(0)
        >>> y_prob = [rng.dirichlet([1, 1], size=50) for _ in range(8)]
        >>> y_true = [rng.integers(0, 2, size=50) for _ in range(8)]
        >>> evaluator = CalibrationEvaluator(metrics=("ece",), per_volume=True)
        >>> low, high = evaluator.fit(y_true, y_prob).confidence_interval(random_state=0)
        >>> bool(low <= evaluator.score_ <= high)
        True
        """
        check_is_fitted(self, "scores_")
        settings = self._config()
        if not hasattr(self, "_volume_tables"):
            raise ValueError(
                "`confidence_interval` resamples volumes: fit the evaluator with "
                "`per_volume=True` (or a per-volume protocol); this one kept no per-volume "
                "state."
            )
        metric = settings.names[0] if metric is None else metric
        if metric not in settings.names:
            raise ValueError(f"`metric` must be one of {settings.names}; got {metric!r}.")
        if aggregation is None:
            aggregation = self.protocol_.aggregation
        if aggregation not in ("pooled", "per_volume"):
            raise ValueError(
                f"`aggregation` must be 'pooled', 'per_volume' or None; got {aggregation!r}."
            )
        n_resamples, level = check_bootstrap_params(n_resamples, confidence_level)
        counts = resample_counts(len(self._volume_tables), n_resamples, random_state)
        if aggregation == "pooled":
            values = self._pooled_resamples(metric, counts, settings)
        else:
            values = self._mean_resamples(metric, counts)
        missing = np.isnan(values)
        if missing.all():
            raise ValueError(f"`metric` {metric!r} has no value in any resample.")
        if missing.any():
            warnings.warn(
                f"{int(missing.sum())} of {n_resamples} resamples hold no voxel with a "
                f"{metric} value; the interval is taken over the others.",
                UserWarning,
                2,
            )
        return percentile_interval(values[~missing], level)

    def _pooled_resamples(self, metric, counts, settings):
        """The pooled metric of each resample: summed per-volume tables, then the metric."""
        if metric in settings.thresholds:
            return self._adaptive_resamples(settings.thresholds[metric], counts, settings)
        keys = [_TABLE_OF.get(metric, "top")]
        first = self._volume_tables[0]
        shapes = [first[key].shape for key in keys]
        stacked = np.concatenate(
            [np.stack([tables[key].ravel() for tables in self._volume_tables]) for key in keys],
            axis=1,
        )
        splits = np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1]
        settings = settings._replace(names=(metric,))
        values = np.empty(counts.shape[0])
        step = max(1, (1 << 23) // stacked.shape[1])  # about 64 MB of summed tables at once
        for start in range(0, counts.shape[0], step):
            sums = counts[start : start + step].astype(np.float64) @ stacked  # BLAS
            for i, row in enumerate(sums, start):
                parts = {
                    key: part.reshape(shape)
                    for key, part, shape in zip(keys, np.split(row, splits), shapes, strict=True)
                }
                state = self._state.from_tables(parts)
                values[i] = self._scores_of(state, settings)[0][metric]
        return values

    def _adaptive_resamples(self, threshold, counts, settings):
        """Pooled ACE/TACE of each resample, all at once from the per-volume fine histograms
        (:func:`~speccal.metrics._binning.resampled_adaptive_errors`)."""
        background = settings.protocol.include_background
        check_classes(self._state, background)
        prefixes = [tables[("adaptive", threshold)] for tables in self._volume_tables]
        errors = kernel.resampled_adaptive_errors(prefixes, counts, self._state.n_bins)
        return errors[:, self._state.classes(background)].mean(axis=1)

    def _mean_resamples(self, metric, counts):
        """The (weighted) mean of the per-volume values of each resample."""
        scores = self.volume_scores_[metric]
        weights = (
            self.volume_counts_.astype(np.float64)
            if self.protocol_.volume_weights == "count"
            else np.ones(scores.size)
        )
        has_value = ~np.isnan(scores)
        weights = np.where(has_value, weights, 0.0)
        total = counts @ weights
        with np.errstate(invalid="ignore", divide="ignore"):
            return (counts @ (weights * np.where(has_value, scores, 0.0))) / total

    # -- using a fitted evaluator --
    def score(self, y_true, y_prob, *, mask=None, spacing=None):
        """Value of the first metric on new data (this evaluator is left unchanged).

        The value is the calibration *error* itself: lower is better. This is unlike
        scikit-learn, whose ``score`` is greater-is-better; for a scikit-learn model search,
        use the negated value (as ``sklearn.metrics.make_scorer(...,
        greater_is_better=False)`` does).

        Parameters
        ----------
        y_true, y_prob, mask, spacing
            As in :meth:`fit`.

        Returns
        -------
        float
            The error (lower is better).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the evaluator is not fitted.
        """
        check_is_fitted(self, "scores_")
        return clone(self).fit(y_true, y_prob, mask=mask, spacing=spacing).score_

    def merge(self, other):
        """State of the concatenated data of two fitted evaluators with the same parameters.

        Parameters
        ----------
        other : CalibrationEvaluator
            Fitted, of the same class and parameters.

        Returns
        -------
        CalibrationEvaluator
            A new fitted evaluator; volumes of ``self`` come first.

        Raises
        ------
        ValueError
            If the classes, parameters or numbers of classes differ.
        """
        check_mergeable(self, other)
        # the per-volume tables are never changed in place: shared, not copied (summing
        # evaluators one volume at a time would copy all earlier volumes' tables each time)
        memo = {id(tables): tables for tables in getattr(self, "_volume_tables", ())}
        merged = copy.deepcopy(self, memo)
        merged._state += other._state  # builds new sums; `other` is left as it is
        merged.n_samples_ += other.n_samples_
        if hasattr(self, "_volume_scores"):
            merged._volume_scores += other._volume_scores
            merged._volume_class_scores += other._volume_class_scores
            merged._volume_counts += other._volume_counts
            merged._volume_tables += other._volume_tables
        merged._finalize(merged._config())
        return merged

    def __add__(self, other):
        return self.merge(other)


def _layout_free(evaluator):
    """The parameters that shape the state (all but ``class_axis``), for :meth:`merge`."""
    params = evaluator.get_params()
    params.pop("class_axis", None)
    return repr(params)


def check_mergeable(evaluator, other):
    """Raise unless both evaluators are fitted, of one class, parameters and class count."""
    check_is_fitted(evaluator, "scores_")
    check_is_fitted(other, "scores_")
    if type(other) is not type(evaluator) or _layout_free(other) != _layout_free(evaluator):
        raise ValueError(
            f"`other` must be a fitted {type(evaluator).__name__} with the same parameters; "
            f"got {other!r}."
        )
    if other.n_classes_ != evaluator.n_classes_:
        raise ValueError(
            f"`other` must have {evaluator.n_classes_} classes; got {other.n_classes_}."
        )


class _OneMetricEvaluator(CalibrationEvaluator):
    """Base of the one-metric evaluators: a :class:`CalibrationEvaluator` whose ``metrics``
    is fixed by the class; every other parameter is the same."""

    _metric = None

    def __init__(
        self,
        *,
        n_bins=15,
        threshold=1e-3,
        boundary_width=2.0,
        protocol="speccal",
        adaptive_binning="histogram",
        n_fine_bins=N_FINE_BINS,
        per_volume=False,
        from_logits=False,
        class_axis=-1,
    ):
        self.n_bins = n_bins
        self.threshold = threshold
        self.boundary_width = boundary_width
        self.protocol = protocol
        self.adaptive_binning = adaptive_binning
        self.n_fine_bins = n_fine_bins
        self.per_volume = per_volume
        self.from_logits = from_logits
        self.class_axis = class_axis

    def _metric_names(self):
        return (self._metric,)


_ONE_METRIC_PARAMETERS = """Those of :class:`CalibrationEvaluator` but ``metrics``, which the class
    fixes (the evaluator is that one metric of :class:`CalibrationEvaluator`):

    n_bins : int, default=15
        Number of bins M.
    threshold : float, default=1e-3
        TACE threshold ε in [0, 1) (used by :class:`TACEEvaluator`).
    boundary_width : float, default=2.0
        Width of the boundary band of "boundary_ece" (unused here).
    protocol : str or EvaluationProtocol, default="speccal"
        A preset name ("speccal", "nixon", "mbls", "monai") or an
        :class:`EvaluationProtocol`.
    adaptive_binning : {"histogram", "exact"}, default="histogram"
        Equal-mass binning of ACE/TACE, see :class:`CalibrationEvaluator`.
    n_fine_bins : int, default=16384
        Fine histogram bins per class for ``adaptive_binning="histogram"``.
    per_volume : bool, default=False
        Also keep one value per volume in ``volume_scores_``.
    from_logits : bool, default=False
        ``y_prob`` holds logits.
    class_axis : int, default=-1
        Axis of ``y_prob`` that holds the classes."""


@fill_doc(parameters=_ONE_METRIC_PARAMETERS)
class ECEEvaluator(_OneMetricEvaluator):
    """Expected calibration error as an evaluator (top-label, equal-width bins).

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    score_ : float
        The ECE of all data seen.
    bin_count_, bin_confidence_, bin_accuracy_ : ndarray of shape (n_bins,)
        Reliability bins.

    Raises
    ------
    ValueError
        In ``fit`` for invalid parameters or input.

    See Also
    --------
    CalibrationEvaluator : all attributes and methods.
    speccal.metrics.expected_calibration_error : the same value as a function.

    Notes
    -----
    .. math:: \\mathrm{ECE} = \\sum_b \\frac{n_b}{N} \\left| \\bar a_b - \\bar c_b \\right|.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.evaluation import ECEEvaluator
    >>> y_prob = np.array([[0.8, 0.2], [0.8, 0.2]])
    >>> round(ECEEvaluator(n_bins=15).fit(np.array([0, 1]), y_prob).score_, 6)
    0.3
    """

    _metric = "ece"


@fill_doc(parameters=_ONE_METRIC_PARAMETERS)
class MCEEvaluator(ECEEvaluator):
    """Maximum calibration error as an evaluator (largest gap over non-empty bins).

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    score_ : float
        The MCE.

    Raises
    ------
    ValueError
        In ``fit`` for invalid parameters or input.

    Notes
    -----
    .. math:: \\mathrm{MCE} = \\max_{b:\\, n_b > 0} |\\bar a_b - \\bar c_b|.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.evaluation import MCEEvaluator
    >>> y_prob = np.array([[0.8, 0.2], [0.8, 0.2]])
    >>> round(MCEEvaluator().fit(np.array([0, 1]), y_prob).score_, 6)
    0.3
    """

    _metric = "mce"


@fill_doc(parameters=_ONE_METRIC_PARAMETERS)
class SCEEvaluator(ECEEvaluator):
    """Static calibration error as an evaluator (class-wise, equal-width bins).

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    score_ : float
        The SCE.
    class_bin_count_, class_bin_confidence_, class_bin_accuracy_ : ndarray of shape \
(n_classes, n_bins)

    Raises
    ------
    ValueError
        In ``fit`` for invalid parameters or input.

    Notes
    -----
    .. math:: \\mathrm{SCE} = \\frac{1}{K} \\sum_k \\sum_b \\frac{n_{bk}}{N}
        |\\overline{1[y = k]}_{bk} - \\bar p_{bk}|.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.evaluation import SCEEvaluator
    >>> y_prob = np.array([[0.8, 0.2], [0.8, 0.2]])
    >>> round(SCEEvaluator().fit(np.array([0, 1]), y_prob).score_, 6)
    0.3
    """

    _metric = "sce"


@fill_doc(parameters=_ONE_METRIC_PARAMETERS)
class ACEEvaluator(_OneMetricEvaluator):
    """Adaptive calibration error as an evaluator (class-wise, equal-mass bins).

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    score_ : float
        The ACE.
    error_bound_ : dict
        ``{"ace": bound}`` on the histogram approximation.

    Raises
    ------
    ValueError
        In ``fit`` for invalid parameters or input.

    Notes
    -----
    .. math:: \\mathrm{ACE} = \\frac{1}{K} \\sum_k \\sum_b \\frac{n_{bk}}{N}
        |\\overline{1[y = k]}_{bk} - \\bar p_{bk}|

    over equal-mass bins of each class's probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.evaluation import ACEEvaluator
    >>> y_prob = np.array([[0.8, 0.2], [0.8, 0.2]])
    >>> round(ACEEvaluator().fit(np.array([0, 1]), y_prob).score_, 6)
    0.3
    """

    _metric = "ace"


@fill_doc(parameters=_ONE_METRIC_PARAMETERS)
class TACEEvaluator(_OneMetricEvaluator):
    """Thresholded adaptive calibration error as an evaluator (Nixon et al. 2019).

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    score_ : float
        The TACE.
    error_bound_ : dict
        ``{"tace": bound}`` on the histogram approximation.

    Raises
    ------
    ValueError
        In ``fit`` for invalid parameters or input.

    Notes
    -----
    .. math:: \\mathrm{TACE} = \\frac{1}{K} \\sum_k \\sum_b \\frac{n_{bk}}{N_k}
        |\\overline{1[y = k]}_{bk} - \\bar p_{bk}|.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.evaluation import TACEEvaluator
    >>> y_prob = np.array([[0.8, 0.2], [0.8, 0.2]])
    >>> round(TACEEvaluator(threshold=1e-3).fit(np.array([0, 1]), y_prob).score_, 6)
    0.3
    """

    _metric = "tace"
