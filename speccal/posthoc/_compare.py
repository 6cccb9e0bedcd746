"""Before/after comparison of post-hoc calibrators on held-out data."""

from collections.abc import Mapping

import numpy as np
from sklearn.base import clone

from speccal.posthoc._base import check_scores, to_probabilities


def _default_metrics():
    from speccal.metrics import (
        expected_calibration_error,
        negative_log_likelihood,
        static_calibration_error,
        thresholded_adaptive_calibration_error,
    )

    return {
        "ece": expected_calibration_error,
        "sce": static_calibration_error,
        "tace": thresholded_adaptive_calibration_error,
        "nll": negative_log_likelihood,
    }


def _score(y, prob, evaluator, metrics):
    if evaluator is None:
        return {name: float(func(y, prob)) for name, func in metrics.items()}
    evaluator = clone(evaluator)
    if "from_logits" in evaluator.get_params():
        evaluator.set_params(from_logits=False)
    fitted = evaluator.fit(y, prob)
    scores = fitted.scores_ if hasattr(fitted, "scores_") else fitted.score_
    if isinstance(scores, Mapping):
        return {name: float(value) for name, value in scores.items()}
    return {type(evaluator).__name__: float(scores)}


def _named(calibrators):
    if isinstance(calibrators, Mapping):
        return dict(calibrators)
    named = {}
    for calibrator in calibrators:
        name = type(calibrator).__name__
        if name in named:
            raise ValueError(
                f"`calibrators` must have distinct names; got two {name}: pass a dict "
                "{name: calibrator} instead."
            )
        named[name] = calibrator
    return named


def compare_calibrators(
    calibrators, X, y, *, X_test=None, y_test=None, evaluator=None, input="logits"
):
    """Fit calibrators on one split and score them, and the uncalibrated model, on another.

    Parameters
    ----------
    calibrators : dict of {str: estimator} or list of estimators
        Unfitted post-hoc calibrators (cloned before fitting); a list is named by class name.
    X : array-like of shape (n_samples, n_classes) or (..., n_classes)
        Calibration-split scores (logits or probabilities, see ``input``).
    y : array-like of shape (n_samples,) or (...)
        Calibration-split labels.
    X_test, y_test : array-like, default=None
        Held-out scores and labels to score on. When omitted, the calibration split is
        scored too, which flatters the calibrators.
    evaluator : estimator or None, default=None
        An evaluator with ``fit(y_true, y_prob)`` setting ``scores_`` (dict of metric name
        to value) or ``score_`` (float or dict), e.g.
        :class:`speccal.evaluation.CalibrationEvaluator`; cloned per row and given
        probabilities in the shape of ``X_test`` (``from_logits`` is set to False), so
        per-volume protocols see the volumes. ``None`` reports ECE, SCE, TACE and NLL from
        :mod:`speccal.metrics`.
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` and ``X_test`` hold; every calibrator must have the same ``input``.

    Returns
    -------
    table : list of dict
        One row per method, the uncalibrated model first: ``{"method": name, metric: value}``.

    Raises
    ------
    ValueError
        If a calibrator's ``input`` differs from ``input``, names collide, only one of
        ``X_test``/``y_test`` is given, or scores/labels are invalid.

    See Also
    --------
    speccal.evaluation.CalibrationEvaluator

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.posthoc import TemperatureScaling, compare_calibrators
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(4000, 3))
    >>> y = np.array([rng.choice(3, p=np.exp(z) / np.exp(z).sum()) for z in logits])
    >>> table = compare_calibrators([TemperatureScaling()], 4 * logits[:2000], y[:2000],
    ...                             X_test=4 * logits[2000:], y_test=y[2000:])
    >>> [row["method"] for row in table]
    ['uncalibrated', 'TemperatureScaling']
    >>> bool(table[1]["ece"] < table[0]["ece"])
    True
    """
    if (X_test is None) != (y_test is None):
        raise ValueError(
            "`X_test` and `y_test` must be given together; got "
            f"X_test={'None' if X_test is None else 'an array'} and "
            f"y_test={'None' if y_test is None else 'an array'}."
        )
    if X_test is None:
        X_test, y_test = X, y
    named = _named(calibrators)
    for name, calibrator in named.items():
        if getattr(calibrator, "input", input) != input:
            raise ValueError(
                f"`input` of calibrator {name!r} must be {input!r} like the comparison's; got "
                f"{calibrator.input!r}."
            )
    metrics = _default_metrics() if evaluator is None else None
    scores_2d, shape = check_scores(X_test, name="X_test", input=input)
    y_test = np.asarray(y_test)
    baseline = to_probabilities(scores_2d, input).reshape(shape)
    table = [{"method": "uncalibrated", **_score(y_test, baseline, evaluator, metrics)}]
    for name, calibrator in named.items():
        prob = clone(calibrator).fit(X, y).predict_proba(X_test)
        table.append({"method": name, **_score(y_test, prob, evaluator, metrics)})
    return table
