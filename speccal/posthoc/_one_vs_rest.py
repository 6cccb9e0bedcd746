"""One-vs-rest calibrators: Platt scaling, histogram binning and isotonic regression.

Each fits one binary map per class on that class's score, then renormalises the mapped
values over the classes.
"""

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logsumexp
from sklearn.isotonic import IsotonicRegression

from speccal._utils import check_scalar, fill_doc
from speccal.metrics._binning import bin_index
from speccal.posthoc._base import (
    CALIBRATOR_PARAMETERS,
    BaseCalibrator,
    _chunks,
    renormalise,
    to_probabilities,
    warn_if_not_converged,
)

_PROBABILITY_CLIP = 1e-12


def one_vs_rest_logits(scores, input):
    """Binary logit of each class against the rest, :math:`\\log p_k - \\log(1 - p_k)`.

    From logits it is computed stably as :math:`z_k - \\operatorname{logsumexp}_{j \\ne k} z_j`.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if input == "probabilities":
        prob = np.clip(scores, _PROBABILITY_CLIP, 1.0 - _PROBABILITY_CLIP)
        return np.log(prob) - np.log1p(-prob)
    out = np.empty_like(scores)
    columns = np.arange(scores.shape[1])
    for k in columns:
        out[:, k] = scores[:, k] - logsumexp(scores[:, columns != k], axis=1)
    return out


def _fit_sigmoid(score, positive):
    """Platt's sigmoid fit with his smoothed targets; returns ``(slope, intercept)``."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    target = np.where(positive, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

    def objective(theta):
        f = theta[0] * score + theta[1]
        residual = (expit(f) - target) / len(score)
        loss = np.mean(np.logaddexp(0.0, f) - target * f)
        return loss, np.array([residual @ score, residual.sum()])

    result = minimize(objective, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    warn_if_not_converged(result, "PlattScaling's sigmoid fit")
    return result.x


@fill_doc(**CALIBRATOR_PARAMETERS)
class PlattScaling(BaseCalibrator):
    """Platt scaling, one-vs-rest: a sigmoid per class on its binary logit, renormalised.

    Parameters
    ----------
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` holds.
    {max_samples}
    {random_state}
    {class_axis}

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes,)
        Per-class sigmoid slopes :math:`a_k`.
    intercept_ : ndarray of shape (n_classes,)
        Per-class sigmoid intercepts :math:`b_k`.
    {fitted_attributes}

    Raises
    ------
    ValueError
        In ``fit`` for invalid scores or labels, or a class absent from ``y``.

    See Also
    --------
    HistogramBinning, IsotonicCalibration, TemperatureScaling

    Notes
    -----
    For class :math:`k` the binary logit :math:`s_{ik} = \\log p_{ik} - \\log(1 - p_{ik})`
    (from logits, :math:`z_{ik} - \\operatorname{logsumexp}_{j\\ne k} z_{ij}`) is mapped by

    .. math:: \\hat q_{ik} = \\sigma(a_k s_{ik} + b_k), \\qquad
              \\hat p_{ik} = \\hat q_{ik} / \\textstyle\\sum_j \\hat q_{ij},

    with :math:`(a_k, b_k)` minimising the cross-entropy to Platt's smoothed targets
    :math:`t_+ = (N_+ + 1)/(N_+ + 2)`, :math:`t_- = 1/(N_- + 2)` (L-BFGS, analytic gradient).

    References
    ----------
    .. [1] J. Platt, "Probabilistic outputs for support vector machines and comparisons to
       regularized likelihood methods", Advances in Large Margin Classifiers, 1999.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.posthoc import PlattScaling
    >>> rng = np.random.default_rng(0)
    >>> logits = 3.0 * rng.normal(size=(500, 3))
    >>> platt = PlattScaling().fit(logits, logits.argmax(axis=1))
    >>> platt.predict_proba(logits).sum(axis=1).round(6).min()
    np.float64(1.0)
    """

    def __init__(self, *, input="logits", max_samples=1_000_000, random_state=None, class_axis=-1):
        self.input = input
        self.max_samples = max_samples
        self.random_state = random_state
        self.class_axis = class_axis

    def _fit(self, scores, y):
        binary_logits = one_vs_rest_logits(scores, self.input)
        params = np.array(
            [_fit_sigmoid(binary_logits[:, k], y == k) for k in range(self.n_classes_)]
        )
        self.coef_, self.intercept_ = params[:, 0], params[:, 1]

    def _calibrate(self, scores):
        binary_logits = one_vs_rest_logits(scores, self.input)
        return renormalise(expit(binary_logits * self.coef_ + self.intercept_))


@fill_doc(**CALIBRATOR_PARAMETERS)
class HistogramBinning(BaseCalibrator):
    """Histogram binning, one-vs-rest: each class's probability replaced by its bin's frequency.

    Parameters
    ----------
    n_bins : int, default=15
        Number of equal-width bins on [0, 1].
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` holds; logits go through a softmax first.
    max_samples : int or None, default=None
        Fit on a class-stratified random subsample of at most this many voxels. The default
        ``None`` uses every voxel: the fit only accumulates per-(class, bin) counts, chunk by
        chunk, in constant memory.
    {random_state}
    {class_axis}

    Attributes
    ----------
    bin_edges_ : ndarray of shape (n_bins + 1,)
        Bin edges ``linspace(0, 1, n_bins + 1)``.
    bin_count_ : ndarray of shape (n_classes, n_bins)
        Number of fitted samples whose class-k probability fell in each bin.
    bin_values_ : ndarray of shape (n_classes, n_bins)
        Calibrated value of each bin: the fraction of its samples labelled k; the bin centre
        for an empty bin.
    {fitted_attributes}

    Raises
    ------
    ValueError
        In ``fit`` for ``n_bins < 1``, invalid scores or labels, or a class absent from ``y``.

    See Also
    --------
    IsotonicCalibration, PlattScaling

    Notes
    -----
    Bins are :math:`B_m = [m/M, (m+1)/M)`, with 1.0 in the last bin (the convention of
    :mod:`speccal.metrics`). For class :math:`k` and bin :math:`m`,

    .. math:: \\theta_{km} = \\frac{\\sum_i 1[p_{ik} \\in B_m]\\, 1[y_i = k]}
              {\\sum_i 1[p_{ik} \\in B_m]}, \\qquad
              \\hat p_{ik} = \\theta_{k, m(p_{ik})} / \\textstyle\\sum_j \\theta_{j, m(p_{ij})}.

    A sample whose mapped values are all 0 gets the uniform distribution.

    References
    ----------
    .. [1] B. Zadrozny, C. Elkan, "Obtaining calibrated probability estimates from decision
       trees and naive Bayesian classifiers", ICML 2001.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.posthoc import HistogramBinning
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(1000, 2))
    >>> hb = HistogramBinning(n_bins=10).fit(logits, logits.argmax(axis=1))
    >>> hb.bin_values_.shape
    (2, 10)
    """

    def __init__(
        self, *, n_bins=15, input="logits", max_samples=None, random_state=None, class_axis=-1
    ):
        self.n_bins = n_bins
        self.input = input
        self.max_samples = max_samples
        self.random_state = random_state
        self.class_axis = class_axis

    def _check_params(self):
        super()._check_params()
        check_scalar("n_bins", self.n_bins, integer=True, minimum=1)

    def _fit(self, scores, y):
        n_classes, n_bins = self.n_classes_, self.n_bins
        count = np.zeros((n_classes, n_bins), dtype=np.int64)
        positive = np.zeros((n_classes, n_bins), dtype=np.int64)
        offsets = np.arange(n_classes) * n_bins
        for s in _chunks(len(scores)):
            flat = bin_index(to_probabilities(scores[s], self.input), n_bins) + offsets
            count += np.bincount(flat.ravel(), minlength=n_classes * n_bins).reshape(count.shape)
            hits = flat[np.arange(len(flat)), y[s]]
            positive += np.bincount(hits, minlength=n_classes * n_bins).reshape(count.shape)
        self.bin_edges_ = np.linspace(0.0, 1.0, n_bins + 1)
        centres = np.broadcast_to((self.bin_edges_[:-1] + self.bin_edges_[1:]) / 2, count.shape)
        self.bin_count_ = count
        self.bin_values_ = np.where(count > 0, positive / np.maximum(count, 1), centres)

    def _calibrate(self, scores):
        bins = bin_index(to_probabilities(scores, self.input), self.n_bins)
        return renormalise(np.take_along_axis(self.bin_values_.T, bins, axis=0))


@fill_doc(**CALIBRATOR_PARAMETERS)
class IsotonicCalibration(BaseCalibrator):
    """Isotonic regression, one-vs-rest, renormalised.

    Parameters
    ----------
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` holds; logits go through a softmax first.
    {max_samples}
    {random_state}
    {class_axis}

    Attributes
    ----------
    calibrators_ : list of sklearn.isotonic.IsotonicRegression
        One fitted, non-decreasing map per class.
    {fitted_attributes}

    Raises
    ------
    ValueError
        In ``fit`` for invalid scores or labels, or a class absent from ``y``.

    See Also
    --------
    HistogramBinning, PlattScaling

    Notes
    -----
    For class :math:`k`, :math:`g_k` is the non-decreasing step function minimising
    :math:`\\sum_i (1[y_i = k] - g_k(p_{ik}))^2` (pool-adjacent-violators, via
    :class:`sklearn.isotonic.IsotonicRegression` with ``out_of_bounds="clip"``), and

    .. math:: \\hat p_{ik} = g_k(p_{ik}) / \\textstyle\\sum_j g_j(p_{ij}).

    A sample whose mapped values are all 0 gets the uniform distribution.

    References
    ----------
    .. [1] B. Zadrozny, C. Elkan, "Transforming classifier scores into accurate multiclass
       probability estimates", KDD 2002.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.posthoc import IsotonicCalibration
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(500, 3))
    >>> iso = IsotonicCalibration().fit(logits, logits.argmax(axis=1))
    >>> len(iso.calibrators_)
    3
    """

    def __init__(self, *, input="logits", max_samples=1_000_000, random_state=None, class_axis=-1):
        self.input = input
        self.max_samples = max_samples
        self.random_state = random_state
        self.class_axis = class_axis

    def _fit(self, scores, y):
        prob = to_probabilities(scores, self.input)
        self.calibrators_ = [
            IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
                prob[:, k], (y == k).astype(np.float64)
            )
            for k in range(self.n_classes_)
        ]

    def _calibrate(self, scores):
        prob = to_probabilities(scores, self.input)
        mapped = np.column_stack(
            [iso.predict(prob[:, k]) for k, iso in enumerate(self.calibrators_)]
        )
        return renormalise(mapped)
