"""Calibration metrics as plain functions on numpy arrays (user guide: metrics).

Every function flattens ``y_true (...)`` and ``y_prob (..., n_classes)`` to samples and feeds
them, chunk by chunk, through the one binning kernel of :mod:`speccal.metrics._binning` into a
:class:`CalibrationAccumulator`, whose fixed-size state the evaluators of
:mod:`speccal.evaluation` reuse for streaming.
"""

import copy
from numbers import Real

import numpy as np

from speccal._utils import check_bool, check_option, fill_doc
from speccal.metrics import _binning as kernel
from speccal.metrics import _fused

#: Default number of fine bins per class for streaming equal-mass (ACE/TACE) bins.
N_FINE_BINS = 1 << 14
#: Threshold that keeps every probability (ACE).
KEEP_ALL = -1.0


class CalibrationAccumulator:
    """Fixed-size, additive calibration state of a set of samples (private helper).

    Parameters
    ----------
    n_classes, n_bins : int
    bin_rule : str
        Equal-width bin rule (``EvaluationProtocol.bin_rule``).
    top, classwise, scores : bool
        Keep top-label bins (ECE/MCE/RMSCE), class-wise bins (SCE, class-wise ECE), and the
        Brier/NLL sums.
    boundary : bool
        Keep top-label bins of the boundary band (boundary ECE); :meth:`update` then needs
        ``band``.
    adaptive : tuple of float
        Thresholds for which equal-mass bins are needed (``KEEP_ALL`` for ACE).
    adaptive_binning : {"exact", "histogram"}
        Both keep a fine histogram of ``n_fine_bins`` bins per class; ``"exact"`` also keeps
        references to the validated chunks (no copy for probability input) and reads the values
        of the edge bins again at the end.

    Notes
    -----
    With class-wise bins, the "left" rule and an equal-mass threshold below 1/M, the class-wise
    bins are read off the fine histogram instead of a second pass: the fine histogram then has
    ``M * 2^r >= n_fine_bins`` bins, and since ``floor(p M 2^r) // 2^r == floor(p M)`` exactly
    (scaling by a power of two commutes with rounding), each fine bin lies in one coarse bin;
    the discarded values ``p <= threshold < 1/M`` all lie in coarse bin 0.
    """

    def __init__(
        self,
        n_classes,
        n_bins,
        *,
        bin_rule="left",
        top=False,
        classwise=False,
        scores=False,
        boundary=False,
        adaptive=(),
        adaptive_binning="exact",
        n_fine_bins=N_FINE_BINS,
        eps=1e-12,
    ):
        self.n_classes, self.n_bins, self.bin_rule = n_classes, n_bins, bin_rule
        self.adaptive_binning, self.n_fine_bins, self.eps = adaptive_binning, n_fine_bins, eps
        slots = kernel.n_slots(n_bins)
        fusable = [t for t in adaptive if t < 1.0 / n_bins] if bin_rule == "left" else []
        self.fused = fusable[0] if classwise and fusable else None
        kernel.check_state_size(3 * (n_classes + 1) * slots, "n_bins", n_bins, n_classes)
        if self.fused is not None:
            self.fine_ratio = 1 << max(0, int(np.ceil(np.log2(n_fine_bins / n_bins))))
            self.n_fine_bins = n_fine_bins = n_bins * self.fine_ratio
        n_fine_floats = 3 * n_classes * (n_fine_bins + 1) * len(adaptive)
        kernel.check_state_size(n_fine_floats, "n_fine_bins", self.n_fine_bins, n_classes)
        self.top = np.zeros((3, slots)) if top else None
        self.boundary = np.zeros((3, slots)) if boundary else None
        self.classwise = (
            np.zeros((3, n_classes, slots)) if classwise and self.fused is None else None
        )
        self.scores = np.zeros(3) if scores else None  # n, Brier sum, NLL sum
        self.adaptive = {t: np.zeros((3, n_classes, n_fine_bins + 1)) for t in adaptive}
        self.chunks = []  # (labels, probs) chunks kept by the exact mode

    def update(self, labels, probs, band=None, reread=None):
        """Add one validated chunk of samples (``band``: bool per row, for ``boundary``;
        ``reread``: kept instead of the chunk by the exact mode, see ``kernel.iter_chunks``)."""
        top, classwise, adaptive = self._fused_update(labels, probs)
        conf = hit = None
        if top:
            conf, hit = kernel.top_label(labels, probs)
            index = kernel.bin_index(conf, self.n_bins, self.bin_rule)
            self.top += kernel.binned_sums(index, conf, hit, self.top.shape[-1])
        if self.boundary is not None:
            if conf is None:
                conf, hit = kernel.top_label(labels[band], probs[band])
            else:
                conf, hit = conf[band], hit[band]
            index = kernel.bin_index(conf, self.n_bins, self.bin_rule)
            self.boundary += kernel.binned_sums(index, conf, hit, self.boundary.shape[-1])
        if classwise:
            kernel.classwise_sums(labels, probs, self.n_bins, self.bin_rule, out=self.classwise)
        if self.scores is not None:
            true_prob = np.take_along_axis(probs, labels[:, None].astype(np.intp), axis=1)[:, 0]
            true_prob = true_prob.astype(np.float64)
            squares = np.einsum("ij,ij->", probs, probs, dtype=np.float64)
            brier = squares - 2.0 * true_prob.sum() + labels.shape[0]
            nll = -np.log(np.maximum(true_prob, self.eps)).sum()
            self.scores += [labels.shape[0], brier, nll]
        for threshold in adaptive:
            state = self.adaptive[threshold]
            kernel.fine_histogram(labels, probs, self.n_fine_bins, threshold, out=state)
        if self.adaptive and self.adaptive_binning == "exact":
            self.chunks.append((labels, probs) if reread is None else reread)

    def _fused_update(self, labels, probs):
        """Add what the compiled one-read loop covers (:mod:`speccal.metrics._fused`).

        Returns whether the top-label and class-wise bins are still to be added, and the
        thresholds whose fine histograms are (all of them without numba).
        """
        top, classwise = self.top is not None, self.classwise is not None
        adaptive = list(self.adaptive)
        if not _fused.usable(labels, probs):
            return top, classwise, adaptive
        # the boundary band reuses the top-label confidences of the numpy path
        fuse_top = top and self.boundary is None and self.bin_rule == "left"
        histograms = []
        if self.n_fine_bins <= _fused.MAX_FINE_BINS:
            histograms = [(self.adaptive[t], self.n_fine_bins, t) for t in adaptive]
            adaptive = []
        if classwise and self.bin_rule == "left":  # the same loop with M bins, nothing discarded
            histograms.append((self.classwise, self.n_bins, KEEP_ALL))
            classwise = False
        if fuse_top and not histograms:
            _fused.accumulate(labels, probs, top=self.top, n_bins=self.n_bins)
        for i, (state, n_fine, threshold) in enumerate(histograms):
            _fused.accumulate(
                labels,
                probs,
                top=self.top if fuse_top and i == 0 else None,
                n_bins=self.n_bins,
                fine=state,
                n_fine=n_fine,
                threshold=threshold,
            )
        return top and not fuse_top, classwise, adaptive

    def __iadd__(self, other):
        for name in ("top", "boundary", "classwise", "scores"):
            if getattr(self, name) is not None:
                setattr(self, name, getattr(self, name) + getattr(other, name))
        for threshold, state in self.adaptive.items():
            self.adaptive[threshold] = state + other.adaptive[threshold]
        if self.adaptive_binning == "exact":
            self.chunks = self.chunks + other.chunks
        return self

    # -- the sums by part (case bootstrap: resampled volumes' sums add up) --
    def tables(self):
        """The additive sums by part: ``"top"``, ``"boundary"``, ``"scores"``, ``"classwise"``
        (class-wise bins, also when read off a fine histogram) and ``("adaptive", threshold)``
        for each fine histogram; only the parts kept."""
        parts = {
            name: getattr(self, name)
            for name in ("top", "boundary", "scores")
            if getattr(self, name) is not None
        }
        classwise = self.classwise_state()
        if classwise is not None:
            parts["classwise"] = classwise
        parts.update({("adaptive", t): state for t, state in self.adaptive.items()})
        return parts

    def from_tables(self, parts):
        """A state of this layout holding the sums ``parts`` (keys of :meth:`tables`, or some
        of them: the others are absent). Its equal-mass errors come from the fine histograms,
        as in the histogram mode."""
        state = copy.copy(self)
        state.adaptive_binning, state.chunks, state.fused = "histogram", [], None
        for name in ("top", "boundary", "scores", "classwise"):
            setattr(state, name, parts.get(name))
        state.adaptive = {key[1]: value for key, value in parts.items() if isinstance(key, tuple)}
        return state

    # -- results --
    def classes(self, include_background):
        """Indices of the classes averaged by SCE/ACE/TACE."""
        return np.arange(0 if include_background else 1, self.n_classes)

    def ece(self):
        return float(kernel.gap_error(self.top, self.n_bins, extra=self._extra))

    def boundary_ece(self):
        """ECE of the boundary band's samples; NaN when the band holds none."""
        if self.boundary[0].sum() == 0:
            return float("nan")
        return float(kernel.gap_error(self.boundary, self.n_bins, extra=self._extra))

    def rmsce(self):
        count, conf, acc = kernel.per_bin(self.top, self.n_bins, extra=self._extra)
        weights = count / self.top[0].sum()
        return float(np.sqrt(np.nansum(weights * (acc - conf) ** 2)))

    def mce(self):
        count, conf, acc = kernel.per_bin(self.top, self.n_bins, extra=self._extra)
        return float(np.abs(acc - conf)[count > 0].max())

    def classwise_state(self):
        """Class-wise bin sums of shape (3, n_classes, n_bins + 2), or None if not kept."""
        if self.fused is None:
            return self.classwise
        fine = self.adaptive[self.fused]
        n_fine = fine.shape[-1] - 1
        state = np.zeros((3, self.n_classes, kernel.n_slots(self.n_bins)))
        state[..., : self.n_bins] = (
            fine[..., :n_fine].reshape(3, self.n_classes, self.n_bins, self.fine_ratio).sum(-1)
        )
        state[..., 0] += fine[..., n_fine]
        return state

    def classwise_ece(self):
        return kernel.gap_error(self.classwise_state(), self.n_bins, extra=self._extra)

    def sce(self, include_background=True):
        return float(self.classwise_ece()[self.classes(include_background)].mean())

    def adaptive_errors(self, threshold):
        """Per-class equal-mass errors and their bounds (zero bounds in exact mode)."""
        state = self.adaptive[threshold]
        bounds = np.zeros(self.n_classes)
        if self.adaptive_binning == "exact":
            errors = kernel.adaptive_errors_exact(state, self.chunks, threshold, self.n_bins)
            return errors, bounds
        errors = np.zeros(self.n_classes)
        for k in range(self.n_classes):
            fine = state[:, k, :-1]
            errors[k], bounds[k] = kernel.adaptive_error_from_histogram(fine, self.n_bins)
        return errors, bounds

    def adaptive_score(self, threshold, include_background=True):
        """Mean over classes of the equal-mass error, and the bound of that mean."""
        errors, bounds = self.adaptive_errors(threshold)
        classes = self.classes(include_background)
        return float(errors[classes].mean()), float(bounds[classes].mean())

    def brier(self):
        return float(self.scores[1] / self.scores[0])

    def nll(self):
        return float(self.scores[2] / self.scores[0])

    @property
    def _extra(self):
        return self.bin_rule == "left-extra"


def accumulate(y_true, y_prob, *, n_bins=15, from_logits=False, class_axis=-1, **parts):
    """Validate and accumulate samples into a new :class:`CalibrationAccumulator`."""
    n_bins = kernel.check_n_bins(n_bins)
    labels, probs = kernel.as_samples(y_true, y_prob, class_axis=class_axis)
    state = CalibrationAccumulator(probs.shape[1], n_bins, **parts)
    for chunk_labels, chunk_probs, reread in kernel.iter_chunks(
        labels, probs, from_logits=from_logits, with_reread=True
    ):
        state.update(chunk_labels, chunk_probs, reread=reread)
    return state


_SHAPES = """y_true : array-like of int of shape (...)
        True labels in [0, n_classes).
    y_prob : array-like of float of shape (..., n_classes)
        Predicted probabilities in [0, 1]; each row sums to 1 within 1e-3."""

_RAISES = """ValueError
        If the shapes do not match, the input is empty, a value is NaN or infinite, a label
        lies outside [0, n_classes), a probability outside [0, 1], a row does not sum to 1
        within 1e-3, or a parameter is out of range; the message names the argument.
    TypeError
        If ``class_axis`` is not an int."""

_CLASS_AXIS = """class_axis : int, default=-1
        Axis of ``y_prob`` holding the classes, e.g. 0 for ``(n_classes, D, H, W)`` or 1 for
        ``(B, n_classes, D, H, W)`` (PyTorch, MONAI); ``y_true`` has the shape of ``y_prob``
        without it. Read chunk by chunk, without a transposed copy of the whole array; the
        value is the channels-last one, bit for bit."""


_AVERAGE = """average : {"macro", None}, default="macro"
        ``"macro"``: the mean over the classes chosen by ``include_background``; None: one
        value per class, an array of shape (n_classes,) whose entry k is class k —
        background included whatever ``include_background``, which only chooses the classes
        the mean takes (so the ``"macro"`` value is ``values[1:].mean()`` without the
        background)."""


_doc = fill_doc(shapes=_SHAPES, raises=_RAISES, average=_AVERAGE, class_axis=_CLASS_AXIS)


def check_average(average):
    """Check ``average`` is "macro" or None."""
    return check_option("average", average, ("macro", None))


def _averaged(errors, state, include_background, average):
    """The per-class ``errors`` (average=None) or their mean over the chosen classes."""
    if average is None:
        return errors
    return float(errors[state.classes(include_background)].mean())


@_doc
def expected_calibration_error(y_true, y_prob, *, n_bins=15, class_axis=-1):
    """Expected calibration error (top-label, equal-width bins).

    Parameters
    ----------
    {shapes}
    n_bins : int, default=15
        Number M of equal-width bins on [0, 1]; bin b = [b/M, (b+1)/M), 1.0 in the last bin.
    {class_axis}

    Returns
    -------
    float
        ECE in [0, 1].

    Raises
    ------
    {raises}

    Notes
    -----
    With confidence :math:`c_i = \\max_k p_{ik}` and hit
    :math:`a_i = 1[\\arg\\max_k p_{ik} = y_i]`,

    .. math:: \\mathrm{ECE} = \\sum_b \\frac{n_b}{N} \\left| \\bar a_b - \\bar c_b \\right|.

    References
    ----------
    .. [1] Naeini, Cooper, Hauskrecht. "Obtaining well calibrated probabilities using Bayesian
       binning." AAAI 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import expected_calibration_error
    >>> round(expected_calibration_error(np.array([0, 1]), np.array([[0.8, 0.2], [0.8, 0.2]])), 6)
    0.3
    """
    return accumulate(y_true, y_prob, class_axis=class_axis, n_bins=n_bins, top=True).ece()


@_doc
def maximum_calibration_error(y_true, y_prob, *, n_bins=15, class_axis=-1):
    """Maximum calibration error: the largest gap over non-empty equal-width bins.

    Parameters
    ----------
    {shapes}
    n_bins : int, default=15
        Number of equal-width bins.
    {class_axis}

    Returns
    -------
    float
        MCE in [0, 1].

    Raises
    ------
    {raises}

    Notes
    -----
    .. math:: \\mathrm{MCE} = \\max_{b:\\, n_b > 0} \\left| \\bar a_b - \\bar c_b \\right|.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import maximum_calibration_error
    >>> y_prob = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4]])
    >>> round(maximum_calibration_error(np.array([0, 1, 0]), y_prob), 6)
    0.4
    """
    return accumulate(y_true, y_prob, class_axis=class_axis, n_bins=n_bins, top=True).mce()


@_doc
def rms_calibration_error(y_true, y_prob, *, n_bins=15, class_axis=-1):
    """Root-mean-square calibration error (top-label, equal-width bins).

    Parameters
    ----------
    {shapes}
    n_bins : int, default=15
        Number of equal-width bins.
    {class_axis}

    Returns
    -------
    float
        RMSCE in [0, 1].

    Raises
    ------
    {raises}

    Notes
    -----
    .. math:: \\mathrm{RMSCE} = \\sqrt{\\sum_b \\frac{n_b}{N} (\\bar a_b - \\bar c_b)^2}.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import rms_calibration_error
    >>> round(rms_calibration_error(np.array([0, 1]), np.array([[0.8, 0.2], [0.8, 0.2]])), 6)
    0.3
    """
    return accumulate(y_true, y_prob, class_axis=class_axis, n_bins=n_bins, top=True).rmsce()


@_doc
def classwise_calibration_error(y_true, y_prob, *, n_bins=15, average=None, class_axis=-1):
    """Class-wise (one-vs-rest) expected calibration error, one value per class.

    Parameters
    ----------
    {shapes}
    n_bins : int, default=15
        Number of equal-width bins on each class's probabilities.
    average : {None, "macro"}, default=None
        None: one value per class; ``"macro"``: their mean over all classes (the SCE).
    {class_axis}

    Returns
    -------
    ndarray of shape (n_classes,) or float
        ECE of each class k, binning ``p_k`` of all samples against ``1[y = k]`` (or their
        mean).

    Raises
    ------
    {raises}

    Notes
    -----
    .. math:: \\mathrm{ECE}_k = \\sum_b \\frac{n_{bk}}{N}
        \\left| \\overline{1[y = k]}_{bk} - \\bar p_{bk} \\right|.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import classwise_calibration_error
    >>> classwise_calibration_error(np.array([0, 1]), np.array([[0.8, 0.2], [0.8, 0.2]]))
    array([0.3, 0.3])
    """
    check_average(average)
    state = accumulate(y_true, y_prob, class_axis=class_axis, n_bins=n_bins, classwise=True)
    return _averaged(state.classwise_ece(), state, True, average)


@_doc
def static_calibration_error(
    y_true, y_prob, *, n_bins=15, include_background=True, average="macro", class_axis=-1
):
    """Static calibration error (class-wise, equal-width bins; Nixon et al. 2019).

    Parameters
    ----------
    {shapes}
    n_bins : int, default=15
        Number of equal-width bins per class.
    include_background : bool, default=True
        Average over all classes, or over classes 1..K-1 only.
    {average}
    {class_axis}

    Returns
    -------
    float or ndarray of shape (n_classes,)
        SCE in [0, 1] (per class with ``average=None``: the class-wise ECE).

    Raises
    ------
    {raises}

    Notes
    -----
    .. math:: \\mathrm{SCE} = \\frac{1}{K} \\sum_k \\sum_b \\frac{n_{bk}}{N}
        \\left| \\overline{1[y = k]}_{bk} - \\bar p_{bk} \\right|.

    References
    ----------
    .. [1] Nixon, Dusenberry, Zhang, Jerfel, Tran. "Measuring calibration in deep learning."
       CVPR Workshops 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import static_calibration_error
    >>> round(static_calibration_error(np.array([0, 1]), np.array([[0.8, 0.2], [0.8, 0.2]])), 6)
    0.3
    """
    check_average(average)
    state = accumulate(y_true, y_prob, class_axis=class_axis, n_bins=n_bins, classwise=True)
    check_classes(state, include_background)
    return _averaged(state.classwise_ece(), state, include_background, average)


def check_classes(state, include_background):
    """Check ``include_background`` is a bool, and True when there is a single class."""
    if not check_bool("include_background", include_background) and state.n_classes < 2:
        raise ValueError(
            "`include_background` must be True when there is a single class; got False."
        )


@_doc
def adaptive_calibration_error(
    y_true, y_prob, *, n_bins=15, include_background=True, average="macro", class_axis=-1
):
    """Adaptive calibration error (class-wise, equal-mass bins over each class's values).

    Parameters
    ----------
    {shapes}
    n_bins : int, default=15
        Number of equal-mass bins per class.
    include_background : bool, default=True
        Average over all classes, or over classes 1..K-1 only.
    {average}
    {class_axis}

    Returns
    -------
    float or ndarray of shape (n_classes,)
        ACE in [0, 1] (per class with ``average=None``).

    Raises
    ------
    {raises}

    Notes
    -----
    Exact (in memory). Edges are the sorted values at ranks
    ``round(linspace(0, N, M, endpoint=False))``; ties move up (Nixon et al.).

    .. math:: \\mathrm{ACE} = \\frac{1}{K} \\sum_k \\sum_b \\frac{n_{bk}}{N}
        \\left| \\overline{1[y = k]}_{bk} - \\bar p_{bk} \\right|.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import adaptive_calibration_error
    >>> round(adaptive_calibration_error(np.array([0, 1]), np.array([[0.8, 0.2], [0.8, 0.2]])), 6)
    0.3
    """
    check_average(average)
    state = accumulate(y_true, y_prob, class_axis=class_axis, n_bins=n_bins, adaptive=(KEEP_ALL,))
    check_classes(state, include_background)
    return _averaged(state.adaptive_errors(KEEP_ALL)[0], state, include_background, average)


@_doc
def thresholded_adaptive_calibration_error(
    y_true,
    y_prob,
    *,
    n_bins=15,
    threshold=1e-3,
    include_background=True,
    average="macro",
    class_axis=-1,
):
    """Thresholded adaptive calibration error (Nixon et al. 2019).

    Parameters
    ----------
    {shapes}
    n_bins : int, default=15
        Number of equal-mass bins per class.
    threshold : float, default=1e-3
        Per class, only samples with ``p_k > threshold`` are binned; must lie in [0, 1).
    include_background : bool, default=True
        Average over all classes, or over classes 1..K-1 only.
    {average}
    {class_axis}

    Returns
    -------
    float or ndarray of shape (n_classes,)
        TACE in [0, 1] (per class with ``average=None``; a class with no value above the
        threshold has 0).

    Raises
    ------
    {raises}

    Notes
    -----
    Exact (in memory). With :math:`N_k` the number of samples kept for class k (a class with
    none kept contributes 0 and still counts in 1/K),

    .. math:: \\mathrm{TACE} = \\frac{1}{K} \\sum_k \\sum_b \\frac{n_{bk}}{N_k}
        \\left| \\overline{1[y = k]}_{bk} - \\bar p_{bk} \\right|.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import thresholded_adaptive_calibration_error
    >>> y_prob = np.array([[0.8, 0.2], [0.8, 0.2]])
    >>> round(thresholded_adaptive_calibration_error(np.array([0, 1]), y_prob), 6)
    0.3
    """
    threshold = kernel.check_threshold(threshold)
    check_average(average)
    state = accumulate(y_true, y_prob, class_axis=class_axis, n_bins=n_bins, adaptive=(threshold,))
    check_classes(state, include_background)
    return _averaged(state.adaptive_errors(threshold)[0], state, include_background, average)


@_doc
def brier_score(y_true, y_prob, *, class_axis=-1):
    """Multi-class Brier score: squared error to the one-hot label, summed over classes.

    Parameters
    ----------
    {shapes}
    {class_axis}

    Returns
    -------
    float
        Brier score in [0, 2].

    Raises
    ------
    {raises}

    Notes
    -----
    .. math:: \\mathrm{BS} = \\frac{1}{N} \\sum_i \\sum_k (p_{ik} - 1[y_i = k])^2.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import brier_score
    >>> round(brier_score(np.array([0]), np.array([[0.5, 0.5]])), 6)
    0.5
    """
    return accumulate(y_true, y_prob, class_axis=class_axis, scores=True).brier()


@_doc
def negative_log_likelihood(y_true, y_prob, *, eps=1e-12, class_axis=-1):
    """Mean negative log-likelihood of the true labels.

    Parameters
    ----------
    {shapes}
    eps : float, default=1e-12
        Probabilities of the true class are clipped below at ``eps`` (so a 0 gives
        ``-log(eps)``, not infinity).
    {class_axis}

    Returns
    -------
    float

    Raises
    ------
    {raises}

    Notes
    -----
    .. math:: \\mathrm{NLL} = -\\frac{1}{N} \\sum_i \\log \\max(p_{i y_i}, \\epsilon).

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import negative_log_likelihood
    >>> round(negative_log_likelihood(np.array([0]), np.array([[0.5, 0.5]])), 6)
    0.693147
    """
    if isinstance(eps, bool) or not isinstance(eps, Real) or not 0 < eps < 1:
        raise ValueError(f"`eps` must be a number in (0, 1); got {eps!r}.")
    return accumulate(y_true, y_prob, class_axis=class_axis, scores=True, eps=float(eps)).nll()
