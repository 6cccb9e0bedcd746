"""Input handling shared by every post-hoc calibrator.

Calibrators take scores of shape ``(n_samples, n_classes)`` or volumes ``(..., n_classes)``
with integer labels of shape ``(...)``, or channel-first volumes (``class_axis``). Everything
here works on a flattened *view* of the scores (rows read chunk by chunk for channel-first
input, :mod:`speccal.metrics._rows`) and touches the full array only through reductions and
fixed-size chunks, so fitting on 10⁸ voxels never allocates a 10⁸-sized float64 copy.
"""

import warnings

import numpy as np
from scipy import sparse
from scipy.special import softmax
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, gen_batches
from sklearn.utils.validation import check_is_fitted, check_random_state

from speccal._utils import check_option, check_scalar
from speccal.metrics._binning import ROW_SUM_ATOL
from speccal.metrics._rows import as_rows, check_class_axis, without_axis

#: Rows processed at once when a computation has to visit every voxel.
CHUNK_ROWS = 1 << 18

#: Labels processed at once by the counting and subsampling passes.
LABEL_CHUNK_ROWS = 1 << 20

#: Smallest probability used when probabilities are turned into log-probabilities.
PROBABILITY_FLOOR = 1e-12

_INPUTS = ("logits", "probabilities")

#: Parameter and attribute descriptions shared by the calibrators' docstrings.
CALIBRATOR_PARAMETERS = {
    "fitted_attributes": """n_classes_ : int
        Number of classes seen in ``fit``.
    classes_ : ndarray of shape (n_classes,)
        ``arange(n_classes_)``.
    n_samples_fit_ : int
        Number of samples used in ``fit``.""",
    "max_samples": """max_samples : int or None, default=1_000_000
        Fit on a class-stratified random subsample of at most this many voxels; ``None``
        uses every voxel.""",
    "random_state": """random_state : int, RandomState instance or None, default=None
        Seed of the subsample.""",
    "class_axis": """class_axis : int, default=-1
        Axis of ``X`` holding the classes: -1 for ``(..., n_classes)``, 0 for channel-first
        volumes ``(n_classes, D, H, W)``, 1 for ``(B, n_classes, D, H, W)``; ``y`` has the
        shape of ``X`` without it and ``predict_proba`` returns the layout of ``X``. Rows are
        read one transposed chunk at a time; results equal those of the channels-last array.""",
}


def _chunks(n_rows, chunk_rows=CHUNK_ROWS):
    """``slice`` objects covering ``range(n_rows)`` in blocks of ``chunk_rows``."""
    return gen_batches(n_rows, chunk_rows)


def _count_nonfinite(scores_2d):
    return sum(int(np.count_nonzero(~np.isfinite(scores_2d[s]))) for s in _chunks(len(scores_2d)))


def check_scores(scores, *, name, input, n_classes=None, owner="the calibrator", class_axis=-1):
    """Validate logits or probabilities and return them as a 2-D view.

    Parameters
    ----------
    scores : array-like of shape (..., n_classes)
        Logits or probabilities, class axis last (or at ``class_axis``).
    name : str
        Argument name used in error messages.
    input : {"logits", "probabilities"}
        What ``scores`` holds.
    n_classes : int or None
        Expected size of the class axis (``None`` at fit time).
    owner : str, default="the calibrator"
        Estimator name used in the class-count error.
    class_axis : int, default=-1
        Axis holding the classes.

    Returns
    -------
    scores_2d : ndarray of shape (n_samples, n_classes) or ClassAxisRows
        A float32 or float64 view (a copy only when the input is not float32/float64 or
        not contiguous); lazy rows read chunk by chunk when the class axis is not last.
    shape : tuple of int
        The original shape, so results can be laid out back.

    Raises
    ------
    TypeError
        For sparse input or an object array that does not convert to float.
    ValueError
        If the array is complex or non-numeric, has fewer than two dimensions, fewer
        than two classes, a class count different from ``n_classes``, no samples,
        non-finite values, or (probabilities) values outside [0, 1] or rows that do not
        sum to 1.
    """
    if sparse.issparse(scores):
        raise TypeError(
            f"`{name}` must be a dense array; sparse input is not supported; got "
            f"{type(scores).__name__}."
        )
    kind = np.asarray(scores).dtype.kind
    try:  # object arrays become float64; complex, text and bytes are refused
        scores = check_array(
            scores,
            dtype="numeric",
            ensure_2d=False,
            allow_nd=True,
            ensure_all_finite=False,
            ensure_min_samples=0,
            ensure_min_features=0,
        )
    except (TypeError, ValueError) as error:
        dtype = np.asarray(scores).dtype
        if kind == "c":  # scikit-learn's message quotes the whole array
            raise ValueError(
                f"`{name}` must be real; Complex data not supported; got {dtype}."
            ) from error
        raise (TypeError if kind == "O" else ValueError)(
            f"`{name}` must be a numeric array; got dtype {dtype} ({error})."
        ) from error
    if scores.ndim < 2:
        raise ValueError(
            f"`{name}` must have shape (n_samples, n_classes) or (..., n_classes) with the "
            f"class axis last; got shape {scores.shape!r}. Reshape your data, e.g. with "
            "np.stack([-x, x], axis=-1) for a binary score."
        )
    axis = check_class_axis(class_axis, scores.ndim, name)
    where = "its last axis" if axis == scores.ndim - 1 else f"its axis {axis} (`class_axis`)"
    found = scores.shape[axis]
    if n_classes is None and found < 2:
        raise ValueError(
            f"`{name}` must have at least 2 classes on {where}; got "
            f"{found} feature(s) (shape={scores.shape!r}) while a minimum of 2 is "
            "required."
        )
    if n_classes is not None and found != n_classes:
        raise ValueError(
            f"`{name}` must have {n_classes} classes on {where}, as seen in fit; got "
            f"shape {scores.shape!r}: X has {found} features, but {owner} is "
            f"expecting {n_classes} features as input."
        )
    if scores.dtype.kind != "f":
        scores = scores.astype(np.float64)
    elif scores.dtype.itemsize < 4:
        scores = scores.astype(np.float32)
    shape = scores.shape
    scores_2d = as_rows(scores, axis)
    if scores_2d.shape[0] == 0:
        raise ValueError(f"`{name}` must contain at least one sample; got shape {shape!r}.")
    # One pairwise float64 reduction (of the array, in any layout) detects NaN/inf without a
    # boolean temporary. Finite values whose sum overflows float64 (e.g. logits near 1e308)
    # are counted and pass.
    with np.errstate(over="ignore", invalid="ignore"):
        total = scores.sum(dtype=np.float64)
    if not np.isfinite(total):
        n_nonfinite = _count_nonfinite(scores_2d)
        if n_nonfinite:
            raise ValueError(
                f"`{name}` must be finite (no NaN or inf); got {n_nonfinite} non-finite values."
            )
    if input == "probabilities":
        _check_probabilities(scores_2d, name, values=scores)
    return scores_2d, shape


def _check_probabilities(prob_2d, name, atol=ROW_SUM_ATOL, values=None):
    values = prob_2d if values is None else values
    low, high = float(values.min()), float(values.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"`{name}` must hold probabilities in [0, 1] with input='probabilities'; got values "
            f"in [{low!r}, {high!r}]."
        )
    for s in _chunks(len(prob_2d)):
        sums = prob_2d[s].sum(axis=1, dtype=np.float64)
        bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
        if bad.size:
            raise ValueError(
                f"`{name}` must sum to 1 over the class axis with input='probabilities'; got "
                f"{float(sums[bad[0]])!r} at sample {int(s.start + bad[0])}."
            )


def check_labels(y, shape, n_classes):
    """Validate integer labels against scores of shape ``shape`` and return them flat.

    Parameters
    ----------
    y : array-like of shape (...)
        Integer class labels; ``shape[:-1]`` or ``(n_samples,)``.
    shape : tuple of int
        Shape of the scores, class axis last.
    n_classes : int
        Size of the class axis.

    Returns
    -------
    y_1d : ndarray of shape (n_samples,)
        A view when ``y`` is already integer.

    Raises
    ------
    ValueError
        If the sizes disagree, the labels are not integers or fall outside
        ``[0, n_classes)``.
    """
    y = np.asarray(y)
    n_samples = int(np.prod(shape[:-1]))
    if y.shape != tuple(shape[:-1]) and y.shape != (n_samples,):
        raise ValueError(
            f"`y` must have the shape of the scores without their class axis, {shape[:-1]!r}; "
            f"got {y.shape!r}."
        )
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError(f"`y` must hold integer class labels; got dtype {y.dtype!r}.")
        y = y.astype(np.intp)
    elif y.dtype.kind not in "biu":
        raise ValueError(
            f"`y` must hold integer class labels; got dtype {y.dtype!r} (Unknown label type)."
        )
    y = y.reshape(-1)
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= n_classes:
        raise ValueError(
            f"`y` must hold labels in [0, {n_classes}) for scores with {n_classes} classes; "
            f"got labels in [{low}, {high}]."
        )
    return y


def class_counts(y_1d, n_classes):
    """Per-class label counts, computed chunk by chunk."""
    counts = np.zeros(n_classes, dtype=np.int64)
    for s in _chunks(len(y_1d), LABEL_CHUNK_ROWS):
        counts += np.bincount(y_1d[s], minlength=n_classes)
    return counts


def warn_if_not_converged(result, what):
    """Emit a ``ConvergenceWarning`` when a :mod:`scipy.optimize` result did not succeed."""
    if not result.success:
        warnings.warn(
            f"{what} did not converge: {result.message}", ConvergenceWarning, stacklevel=3
        )


def stratified_subsample(y_1d, n_classes, max_samples, random_state):
    """Indices of a class-stratified random subsample of at most ``max_samples`` rows.

    Parameters
    ----------
    y_1d : ndarray of shape (n_samples,)
        Integer labels.
    n_classes : int
        Number of classes.
    max_samples : int or None
        Target sample size; ``None`` or ``>= n_samples`` keeps every row.
    random_state : int, RandomState instance or None
        Seed of the draw.

    Returns
    -------
    indices : ndarray of shape (n_kept,) or None
        Sorted row indices, or ``None`` when every row is kept.

    Notes
    -----
    Class :math:`c` with :math:`n_c` of the :math:`n` samples receives
    :math:`k_c = \\max(\\lfloor m\\, n_c / n \\rfloor, \\min(n_c, 1))` rows drawn uniformly
    without replacement, so the subsample keeps the class proportions (and every present
    class) and the fitted objective is an unbiased estimate of the full-data one. The labels
    are visited twice in fixed-size chunks; no array of size ``n_samples`` is allocated.
    """
    n_samples = len(y_1d)
    if max_samples is None or n_samples <= max_samples:
        return None
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    rng = np.random.default_rng(seed)
    counts = class_counts(y_1d, n_classes)
    keep = np.maximum(max_samples * counts // n_samples, np.minimum(counts, 1))
    ranks = [
        np.sort(rng.choice(int(n), int(k), replace=False))
        for n, k in zip(counts, keep, strict=True)
    ]
    seen = np.zeros(n_classes, dtype=np.int64)
    picked = []
    for s in _chunks(n_samples, LABEL_CHUNK_ROWS):
        chunk = y_1d[s]
        for c in range(n_classes):
            if keep[c] == 0:
                continue
            positions = np.flatnonzero(chunk == c)
            lo, hi = np.searchsorted(ranks[c], [seen[c], seen[c] + len(positions)])
            picked.append(positions[ranks[c][lo:hi] - seen[c]] + s.start)
            seen[c] += len(positions)
    return np.sort(np.concatenate(picked))


def to_log_probabilities(scores, input):
    """Float64 log-probabilities (logits up to a constant) from logits or probabilities."""
    scores = np.asarray(scores, dtype=np.float64)
    if input == "probabilities":
        return np.log(np.maximum(scores, PROBABILITY_FLOOR))
    return scores


def to_probabilities(scores, input):
    """Float64 probabilities from logits or probabilities."""
    scores = np.asarray(scores, dtype=np.float64)
    if input == "probabilities":
        return scores
    return softmax(scores, axis=1)


def renormalise(prob):
    """Divide each row by its sum; rows that sum to 0 become uniform."""
    total = prob.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 0
    prob[empty] = 1.0
    total[empty] = prob.shape[1]
    return prob / total


class BaseCalibrator(BaseEstimator):
    """Base class of the post-hoc calibrators: validation, subsampling, chunked prediction.

    Subclasses define ``__init__`` with their keyword-only parameters (at least ``input``,
    ``max_samples`` and ``random_state``), ``_fit(scores, y)`` on the (possibly
    subsampled) ``(n, n_classes)`` scores in their own dtype, which must only be converted
    to float64 chunk-wise or after subsampling, and ``_calibrate(scores)`` mapping a
    float64 chunk of scores to calibrated probabilities.
    """

    #: Whether every class must appear in ``y`` (per-class parameters cannot be fitted
    #: for an absent class).
    _requires_all_classes = True

    def _check_params(self):
        check_scalar("class_axis", getattr(self, "class_axis", -1), integer=True)
        check_option("input", self.input, _INPUTS)
        check_scalar("max_samples", self.max_samples, integer=True, minimum=1, allow_none=True)

    def fit(self, X, y):
        """Fit the calibrator on held-out scores and labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (..., n_classes)
            Logits (``input="logits"``) or probabilities (``input="probabilities"``) of a
            validation set; volumes are flattened over every axis but the class axis (the
            last one, or ``class_axis``).
        y : array-like of shape (n_samples,) or (...)
            Integer labels in ``[0, n_classes)``: the shape of ``X`` without its class axis.

        Returns
        -------
        self : object
            The fitted calibrator.

        Raises
        ------
        ValueError
            On invalid parameters, scores or labels (see the class documentation), or,
            for calibrators with per-class parameters, a class absent from ``y``.
        """
        self._check_params()
        class_axis = getattr(self, "class_axis", -1)
        scores_2d, shape = check_scores(X, name="X", input=self.input, class_axis=class_axis)
        n_classes = scores_2d.shape[1]
        spatial = without_axis(shape, class_axis % len(shape))
        y_1d = check_labels(y, (*spatial, n_classes), n_classes)
        if self._requires_all_classes:
            absent = np.flatnonzero(class_counts(y_1d, n_classes) == 0)
            if absent.size:
                raise ValueError(
                    f"`y` must contain every class 0..{n_classes - 1} to fit "
                    f"{type(self).__name__}'s per-class parameters; got no samples of "
                    f"class(es) {absent.tolist()}."
                )
        index = stratified_subsample(y_1d, n_classes, self.max_samples, self.random_state)
        if index is not None:
            scores_2d, y_1d = scores_2d[index], y_1d[index]
        self.n_classes_ = n_classes
        self.n_features_in_ = n_classes
        self.classes_ = np.arange(n_classes)
        self.n_samples_fit_ = len(y_1d)
        self._fit(scores_2d, y_1d)
        return self

    def predict_proba(self, X):
        """Calibrated class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (..., n_classes)
            Scores of the same kind (``input``) and class count as in ``fit``, the classes
            on axis ``class_axis``.

        Returns
        -------
        proba : ndarray of the shape of ``X``
            Calibrated probabilities summing to 1 over the class axis; float32 for float32
            input, float64 otherwise. Computed in chunks of rows (channel-first input is
            read and written one transposed chunk at a time).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        ValueError
            If ``X`` has a different number of classes or non-finite values.
        """
        return self._map_chunks(X, self._calibrate)

    def _map_chunks(self, X, func):
        """Validate ``X`` and apply ``func`` to float64 chunks of rows, keeping shape/dtype."""
        check_is_fitted(self)
        class_axis = getattr(self, "class_axis", -1)
        scores_2d, shape = check_scores(
            X,
            name="X",
            input=self.input,
            n_classes=self.n_classes_,
            owner=type(self).__name__,
            class_axis=class_axis,
        )
        out = np.empty(shape, dtype=scores_2d.dtype)
        out_2d = as_rows(out, class_axis)  # a view of `out`, or lazy rows writing into it
        for s in _chunks(len(scores_2d)):
            out_2d[s] = func(np.asarray(scores_2d[s], dtype=np.float64))
        return out

    def predict(self, X):
        """Most probable class after calibration.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (..., n_classes)
            Scores as in ``predict_proba``.

        Returns
        -------
        labels : ndarray of shape (n_samples,) or (...)
            Integer labels: the shape of ``X`` without its class axis.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        ValueError
            As ``predict_proba``.
        """
        check_is_fitted(self)
        return self.classes_[
            np.argmax(self.predict_proba(X), axis=getattr(self, "class_axis", -1))
        ]
