"""Logit-scaling calibrators: temperature, vector and matrix scaling (Guo et al., 2017)."""

import warnings
from numbers import Real

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import log_softmax, logsumexp, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from speccal._utils import check_scalar, fill_doc
from speccal.posthoc._base import (
    CALIBRATOR_PARAMETERS,
    BaseCalibrator,
    to_log_probabilities,
    warn_if_not_converged,
)


def _multinomial_nll(logits, y):
    """Mean negative log-likelihood and the gradient with respect to ``logits``."""
    log_prob = log_softmax(logits, axis=1)
    n = len(y)
    loss = -log_prob[np.arange(n), y].mean()
    grad = np.exp(log_prob)
    grad[np.arange(n), y] -= 1.0
    return loss, grad / n


@fill_doc(**CALIBRATOR_PARAMETERS)
class TemperatureScaling(BaseCalibrator):
    """Temperature scaling: divide every logit by one fitted temperature.

    Parameters
    ----------
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` holds. Probabilities are turned into log-probabilities (floored at
        1e-12), which differ from the logits only by a per-sample constant.
    bounds : tuple of float, default=(0.05, 20.0)
        Search interval ``(T_min, T_max)`` of the temperature, ``0 < T_min < T_max``.
    max_samples : int or None, default=1_000_000
        Fit on a class-stratified random subsample of at most this many voxels (the class
        proportions kept, every present class at least once); ``None`` uses every voxel.
    {random_state}
    {class_axis}

    Attributes
    ----------
    temperature_ : float
        Fitted temperature :math:`T`.
    n_classes_ : int
        Number of classes seen in ``fit``.
    classes_ : ndarray of shape (n_classes,)
        ``arange(n_classes_)``.
    n_samples_fit_ : int
        Number of samples the temperature was fitted on.

    Raises
    ------
    ValueError
        In ``fit`` for invalid ``bounds``, scores or labels. A class absent from ``y`` is
        allowed: the single temperature is shared by every class.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        In ``fit`` when the fitted temperature lies at the edge of ``bounds``.

    See Also
    --------
    VectorScaling, MatrixScaling

    Notes
    -----
    The temperature minimises the negative log-likelihood

    .. math:: T^\\star = \\arg\\min_{T} -\\frac{1}{n}\\sum_i \\log
              \\operatorname{softmax}(z_i / T)_{y_i},

    found by a bounded 1-D search over :math:`\\log T` with
    :func:`scipy.optimize.minimize_scalar`. The argmax of every sample is unchanged.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On calibration of modern neural
       networks", ICML 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.posthoc import TemperatureScaling
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(2000, 3))
    >>> y = np.array([rng.choice(3, p=np.exp(z) / np.exp(z).sum()) for z in logits])
    >>> ts = TemperatureScaling().fit(3.0 * logits, y)
    >>> bool(2.5 < ts.temperature_ < 3.5)
    True
    """

    _requires_all_classes = False

    def __init__(
        self,
        *,
        input="logits",
        bounds=(0.05, 20.0),
        max_samples=1_000_000,
        random_state=None,
        class_axis=-1,
    ):
        self.input = input
        self.bounds = bounds
        self.max_samples = max_samples
        self.random_state = random_state
        self.class_axis = class_axis

    def _check_params(self):
        super()._check_params()
        bounds = self.bounds
        valid = (
            isinstance(bounds, (tuple, list))
            and len(bounds) == 2
            and all(isinstance(b, Real) and np.isfinite(b) for b in bounds)
            and 0 < bounds[0] < bounds[1]
        )
        if not valid:
            raise ValueError(
                f"`bounds` must be a pair (T_min, T_max) with 0 < T_min < T_max; got {bounds!r}."
            )

    def _fit(self, scores, y):
        logits = to_log_probabilities(scores, self.input)
        true_logit = logits[np.arange(len(y)), y]

        def nll(log_t):
            inv_t = np.exp(-log_t)
            # logits near the float64 limit overflow once scaled: such a T scores +inf
            value = np.mean(logsumexp(logits * inv_t, axis=1) - true_logit * inv_t)
            return value if np.isfinite(value) else np.inf

        low, high = np.log(self.bounds)
        with np.errstate(over="ignore", invalid="ignore"):  # the search tolerates +inf
            result = minimize_scalar(
                nll, bounds=(low, high), method="bounded", options={"xatol": 1e-8}
            )
        self.temperature_ = float(np.exp(result.x))
        for edge, value, distance in (
            ("lower", low, result.x - low),
            ("upper", high, high - result.x),
        ):
            if distance < 1e-3:
                warnings.warn(
                    f"The fitted temperature {self.temperature_:.4g} lies at the edge of "
                    f"`bounds` {tuple(self.bounds)!r} (the {edge} bound "
                    f"{float(np.exp(value)):.4g}): the optimum may lie beyond it; widen `bounds`.",
                    ConvergenceWarning,
                    stacklevel=3,
                )

    def _calibrate(self, scores):
        return softmax(to_log_probabilities(scores, self.input) / self.temperature_, axis=1)

    def as_keras_layer(self, *, output_mode="logits"):
        """Keras layer dividing logits (class axis last) by the fitted temperature.

        Parameters
        ----------
        output_mode : {"logits", "probabilities"}, default="logits"
            Whether the layer returns calibrated logits or applies a softmax.

        Returns
        -------
        layer : speccal.posthoc.keras.LogitScaling
            A serializable layer; ``keras.Sequential([model, layer])`` saves and reloads
            with its calibration (``import speccal.posthoc.keras`` before
            ``keras.models.load_model``).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        ValueError
            If the calibrator was fitted with ``input="probabilities"`` or ``output_mode``
            is invalid.

        Examples
        --------
        >>> import numpy as np
        >>> from speccal.posthoc import TemperatureScaling
        >>> ts = TemperatureScaling().fit(np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]),
        ...                               np.array([0, 1, 1]))
        >>> layer = ts.as_keras_layer()
        >>> layer.get_config()["scale"] == 1.0 / ts.temperature_
        True
        """
        check_is_fitted(self)
        return _keras_layer(
            self, scale=1.0 / self.temperature_, bias=None, output_mode=output_mode
        )


def _keras_layer(calibrator, *, scale, bias, output_mode):
    if calibrator.input != "logits":
        raise ValueError(
            "`input` must be 'logits' to export a Keras layer (the layer acts on logits); "
            f"got {calibrator.input!r}."
        )
    from speccal.posthoc.keras import LogitScaling

    return LogitScaling(scale=scale, bias=bias, output_mode=output_mode)


class _AffineLogitScaling(BaseCalibrator):
    """Shared L-BFGS fit of an affine map of the logits, ``q = f(z; W) + b``."""

    def _unpack(self, theta):
        n_classes = self.n_classes_
        return theta[:-n_classes], theta[-n_classes:]

    def _fit(self, scores, y):
        logits = to_log_probabilities(scores, self.input)
        theta0 = np.concatenate([self._identity(), np.zeros(self.n_classes_)])

        def objective(theta):
            weight, bias = self._unpack(theta)
            loss, grad = _multinomial_nll(self._transform(logits, weight) + bias, y)
            grad_weight = self._weight_gradient(logits, grad)
            penalty, grad_penalty = self._penalty(weight)
            return loss + penalty, np.concatenate([grad_weight + grad_penalty, grad.sum(axis=0)])

        result = minimize(objective, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
        warn_if_not_converged(result, f"{type(self).__name__}'s L-BFGS fit")
        weight, bias = self._unpack(result.x)
        self.coef_ = self._coef(weight)
        self.intercept_ = bias
        self.n_iter_ = int(result.nit)

    def _penalty(self, weight):
        return 0.0, np.zeros_like(weight)

    def calibrated_logits(self, X):
        """Calibrated logits ``q`` of the same shape as ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (..., n_classes)
            Scores of the kind given by ``input``.

        Returns
        -------
        logits : ndarray of the shape of ``X``
            Calibrated logits (before the softmax); float32 for float32 input, float64
            otherwise. Computed in chunks of rows.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        ValueError
            As ``predict_proba``.
        """
        return self._map_chunks(X, self._affine)

    def _affine(self, scores):
        return self._apply_coef(to_log_probabilities(scores, self.input)) + self.intercept_

    def _calibrate(self, scores):
        return softmax(self._affine(scores), axis=1)


@fill_doc(**CALIBRATOR_PARAMETERS)
class VectorScaling(_AffineLogitScaling):
    """Vector scaling: one scale and one bias per class on the logits.

    Parameters
    ----------
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` holds; probabilities are turned into log-probabilities.
    {max_samples}
    {random_state}
    {class_axis}

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes,)
        Per-class scales :math:`w`.
    intercept_ : ndarray of shape (n_classes,)
        Per-class biases :math:`b`.
    {fitted_attributes}
    n_iter_ : int
        L-BFGS iterations.

    Raises
    ------
    ValueError
        In ``fit`` for invalid scores or labels, or a class absent from ``y`` (its bias
        would diverge to minus infinity).

    See Also
    --------
    TemperatureScaling, MatrixScaling

    Notes
    -----
    .. math:: q_i = w \\odot z_i + b, \\qquad
              \\hat p_i = \\operatorname{softmax}(q_i),

    and :math:`(w, b)` minimise the mean negative log-likelihood, found with L-BFGS and the
    analytic gradient :math:`\\partial L / \\partial q_i = (\\hat p_i - e_{y_i}) / n`.
    With ``input="probabilities"``, :math:`z_i` is :math:`\\log p_i`.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On calibration of modern neural
       networks", ICML 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.posthoc import VectorScaling
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(500, 3))
    >>> y = logits.argmax(axis=1)
    >>> vs = VectorScaling().fit(logits, y)
    >>> vs.predict_proba(logits).shape
    (500, 3)
    """

    def __init__(self, *, input="logits", max_samples=1_000_000, random_state=None, class_axis=-1):
        self.input = input
        self.max_samples = max_samples
        self.random_state = random_state
        self.class_axis = class_axis

    def _identity(self):
        return np.ones(self.n_classes_)

    def _transform(self, logits, weight):
        return logits * weight

    def _weight_gradient(self, logits, grad):
        return np.einsum("ij,ij->j", grad, logits)

    def _coef(self, weight):
        return weight

    def _apply_coef(self, logits):
        return logits * self.coef_

    def as_keras_layer(self, *, output_mode="logits"):
        """Keras layer applying the fitted per-class scale and bias to logits.

        Parameters
        ----------
        output_mode : {"logits", "probabilities"}, default="logits"
            Whether the layer returns calibrated logits or applies a softmax.

        Returns
        -------
        layer : speccal.posthoc.keras.LogitScaling
            A serializable layer computing ``w * z + b`` on the last axis.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        ValueError
            If the calibrator was fitted with ``input="probabilities"``.

        Examples
        --------
        >>> import numpy as np
        >>> from speccal.posthoc import VectorScaling
        >>> logits = np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [1.0, 0.0]])
        >>> vs = VectorScaling().fit(logits, np.array([0, 1, 1, 0]))
        >>> len(vs.as_keras_layer().get_config()["scale"])
        2
        """
        check_is_fitted(self)
        return _keras_layer(
            self,
            scale=self.coef_.tolist(),
            bias=self.intercept_.tolist(),
            output_mode=output_mode,
        )


@fill_doc(**CALIBRATOR_PARAMETERS)
class MatrixScaling(_AffineLogitScaling):
    """Matrix scaling: a full linear map plus bias on the logits, optionally L2-regularised.

    Parameters
    ----------
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` holds; probabilities are turned into log-probabilities.
    l2 : float, default=0.0
        Strength :math:`\\lambda \\ge 0` of the penalty :math:`\\lambda \\lVert W - I
        \\rVert_F^2`, which shrinks the map towards the identity (no change); useful with
        many classes or few samples.
    {max_samples}
    {random_state}
    {class_axis}

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_classes)
        Matrix :math:`W`.
    intercept_ : ndarray of shape (n_classes,)
        Bias :math:`b`.
    {fitted_attributes}
    n_iter_ : int
        L-BFGS iterations.

    Raises
    ------
    ValueError
        In ``fit`` for a negative ``l2``, invalid scores or labels, or a class absent
        from ``y``.

    See Also
    --------
    TemperatureScaling, VectorScaling

    Notes
    -----
    .. math:: q_i = W z_i + b, \\qquad
              L(W, b) = -\\frac{1}{n}\\sum_i \\log \\operatorname{softmax}(q_i)_{y_i}
              + \\lambda \\lVert W - I \\rVert_F^2,

    minimised with L-BFGS and the analytic gradient
    :math:`\\partial L / \\partial W = G^\\top Z + 2\\lambda (W - I)`,
    :math:`G = (\\hat P - Y) / n`.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On calibration of modern neural
       networks", ICML 2017.
    .. [2] M. Kull et al., "Beyond temperature scaling: obtaining well-calibrated
       multiclass probabilities with Dirichlet calibration", NeurIPS 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.posthoc import MatrixScaling
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(500, 3))
    >>> ms = MatrixScaling(l2=1e-3).fit(logits, logits.argmax(axis=1))
    >>> ms.coef_.shape
    (3, 3)
    """

    def __init__(
        self, *, input="logits", l2=0.0, max_samples=1_000_000, random_state=None, class_axis=-1
    ):
        self.input = input
        self.l2 = l2
        self.max_samples = max_samples
        self.random_state = random_state
        self.class_axis = class_axis

    def _check_params(self):
        super()._check_params()
        check_scalar("l2", self.l2, minimum=0)

    def _identity(self):
        return np.eye(self.n_classes_).ravel()

    def _transform(self, logits, weight):
        return logits @ weight.reshape(self.n_classes_, -1).T

    def _weight_gradient(self, logits, grad):
        return (grad.T @ logits).ravel()

    def _penalty(self, weight):
        delta = weight - self._identity()
        return self.l2 * float(delta @ delta), 2.0 * self.l2 * delta

    def _coef(self, weight):
        return weight.reshape(self.n_classes_, self.n_classes_)

    def _apply_coef(self, logits):
        return logits @ self.coef_.T
