"""Behaviour of the post-hoc calibrators on data with a known miscalibration."""

import warnings

import hypothesis.strategies as st
import numpy as np
import pytest
from calibrators import each_calibrator
from hypothesis import example, given, settings
from hypothesis.extra.numpy import arrays
from scipy.optimize import approx_fprime
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression

from speccal.posthoc import (
    HistogramBinning,
    IsotonicCalibration,
    MatrixScaling,
    TemperatureScaling,
    VectorScaling,
)
from speccal.posthoc._one_vs_rest import one_vs_rest_logits
from speccal.posthoc._scaling import _multinomial_nll

T0 = 2.5


def sample_labels(rng, logits):
    """Labels drawn from softmax(logits): the logits are calibrated by construction."""
    cumulative = np.cumsum(softmax(logits, axis=-1), axis=-1)
    u = rng.random(logits.shape[:-1] + (1,))
    return np.minimum((cumulative < u).sum(axis=-1), logits.shape[-1] - 1)


def top_label_ece(y, prob, n_bins=15):
    """Reference ECE: equal-width bins of the top probability, a plain loop."""
    conf, hit = prob.max(axis=1), prob.argmax(axis=1) == y
    total = 0.0
    for b in range(n_bins):
        upper = conf <= (b + 1) / n_bins if b == n_bins - 1 else conf < (b + 1) / n_bins
        in_bin = (conf >= b / n_bins) & upper
        if in_bin.any():
            total += in_bin.mean() * abs(hit[in_bin].mean() - conf[in_bin].mean())
    return total


def nll(y, prob):
    return -np.mean(np.log(np.maximum(prob[np.arange(len(y)), y], 1e-12)))


@pytest.fixture(scope="module")
def overconfident():
    """Calibrated logits multiplied by T0 = 2.5: a validation and a test split."""
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=1.5, size=(40_000, 4)) + np.array([0.5, 0.0, -0.3, 0.2])
    y = sample_labels(rng, logits)
    half = len(y) // 2
    scaled = T0 * logits
    return scaled[:half], y[:half], scaled[half:], y[half:]


def test_temperature_recovers_known_temperature_and_keeps_argmax(overconfident):
    X, y, X_test, _ = overconfident
    ts = TemperatureScaling().fit(X, y)
    assert ts.temperature_ == pytest.approx(T0, rel=0.05)
    np.testing.assert_array_equal(ts.predict(X_test), X_test.argmax(axis=1))


def test_temperature_halves_ece_on_held_out_data(overconfident):
    X, y, X_test, y_test = overconfident
    before = top_label_ece(y_test, softmax(X_test, axis=1))
    after = top_label_ece(y_test, TemperatureScaling().fit(X, y).predict_proba(X_test))
    assert after < 0.5 * before


@each_calibrator
def test_every_calibrator_lowers_nll_and_ece_on_held_out_data(cls, overconfident):
    X, y, X_test, y_test = overconfident
    prob = cls().fit(X, y).predict_proba(X_test)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, rtol=1e-10)
    baseline = softmax(X_test, axis=1)
    assert nll(y_test, prob) < nll(y_test, baseline)
    assert top_label_ece(y_test, prob) < top_label_ece(y_test, baseline)


class _LogitsAsDecisionFunction(ClassifierMixin, BaseEstimator):
    """A fitted 'classifier' whose decision function returns its input (the logits)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def decision_function(self, X):
        return np.asarray(X)

    def predict(self, X):
        return self.classes_[np.argmax(X, axis=1)]


def test_temperature_agrees_with_scikit_learn_temperature_method(overconfident):
    X, y, *_ = overconfident
    reference = CalibratedClassifierCV(
        FrozenEstimator(_LogitsAsDecisionFunction().fit(X, y)), method="temperature"
    ).fit(X, y)
    beta = reference.calibrated_classifiers_[0].calibrators[0].beta_
    ts = TemperatureScaling().fit(X, y)
    assert ts.temperature_ == pytest.approx(1.0 / beta, rel=1e-4)
    np.testing.assert_allclose(
        ts.predict_proba(X[:500]), reference.predict_proba(X[:500]), atol=1e-5
    )


def test_temperature_on_probabilities_equals_temperature_on_logits(overconfident):
    X, y, *_ = overconfident
    from_logits = TemperatureScaling().fit(X, y)
    from_prob = TemperatureScaling(input="probabilities").fit(softmax(X, axis=1), y)
    assert from_prob.temperature_ == pytest.approx(from_logits.temperature_, rel=1e-4)


def test_vector_scaling_recovers_per_class_scales(rng):
    logits = rng.normal(scale=2.0, size=(30_000, 3))
    y = sample_labels(rng, logits)
    scales = np.array([0.5, 2.0, 4.0])
    vs = VectorScaling().fit(logits * scales, y)
    np.testing.assert_allclose(vs.coef_, 1.0 / scales, rtol=0.06)
    np.testing.assert_allclose(vs.intercept_ - vs.intercept_.mean(), 0.0, atol=0.05)


def test_matrix_scaling_recovers_a_linear_map_and_l2_shrinks_to_identity(rng):
    logits = rng.normal(scale=2.0, size=(30_000, 3))
    y = sample_labels(rng, logits)
    mixing = np.array([[1.0, 0.5, 0.0], [0.0, 2.0, 0.0], [0.3, 0.0, 1.5]])
    distorted = logits @ mixing.T
    ms = MatrixScaling().fit(distorted, y)
    # softmax is shift invariant: compare maps up to a common row added to W.
    recovered = ms.coef_ @ mixing
    np.testing.assert_allclose(recovered - recovered.mean(axis=0), np.eye(3) - 1 / 3, atol=0.08)
    shrunk = MatrixScaling(l2=1e3).fit(distorted, y)
    np.testing.assert_allclose(shrunk.coef_, np.eye(3), atol=1e-2)


def test_multinomial_nll_gradient_matches_finite_differences(rng):
    logits = rng.normal(size=(7, 4))
    y = rng.integers(0, 4, size=7)
    _, grad = _multinomial_nll(logits, y)

    def loss(flat):
        return _multinomial_nll(flat.reshape(7, 4), y)[0]

    numeric = approx_fprime(logits.ravel(), loss, 1e-7).reshape(7, 4)
    np.testing.assert_allclose(grad, numeric, atol=1e-6)


def test_one_vs_rest_logits_are_binary_logits_of_the_softmax(rng):
    logits = rng.normal(size=(50, 4))
    prob = softmax(logits, axis=1)
    expected = np.log(prob) - np.log1p(-prob)
    np.testing.assert_allclose(one_vs_rest_logits(logits, "logits"), expected, atol=1e-9)
    np.testing.assert_allclose(one_vs_rest_logits(prob, "probabilities"), expected, atol=1e-6)


def test_histogram_binning_matches_a_brute_force_loop(rng):
    logits = rng.normal(size=(300, 3))
    y = sample_labels(rng, logits)
    hb = HistogramBinning(n_bins=5).fit(logits, y)
    prob = softmax(logits, axis=1)
    for k in range(3):
        for b in range(5):
            upper = prob[:, k] <= 1.0 if b == 4 else prob[:, k] < (b + 1) / 5
            in_bin = (prob[:, k] >= b / 5) & upper
            assert hb.bin_count_[k, b] == in_bin.sum()
            expected = (y[in_bin] == k).mean() if in_bin.any() else (b + 0.5) / 5
            assert hb.bin_values_[k, b] == pytest.approx(expected)
    bins = np.minimum((prob * 5).astype(int), 4)
    mapped = hb.bin_values_[np.arange(3), bins]
    np.testing.assert_allclose(hb.predict_proba(logits), mapped / mapped.sum(1, keepdims=True))


def test_isotonic_matches_per_class_isotonic_regression_renormalised(rng):
    logits = rng.normal(size=(400, 3))
    y = sample_labels(rng, logits)
    prob = softmax(logits, axis=1)
    mapped = np.column_stack(
        [
            IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip")
            .fit(prob[:, k], y == k)
            .predict(prob[:, k])
            for k in range(3)
        ]
    )
    total = mapped.sum(axis=1, keepdims=True)
    expected = np.where(total > 0, mapped / np.where(total > 0, total, 1), 1 / 3)
    iso = IsotonicCalibration(input="probabilities").fit(prob, y)
    np.testing.assert_allclose(iso.predict_proba(prob), expected)


@each_calibrator
def test_volumes_keep_their_shape_and_match_the_flat_result(cls, rng):
    logits = rng.normal(size=(2, 5, 6, 7, 3)).astype(np.float32)
    y = sample_labels(rng, logits)
    y[0, 0, 0, :3] = [0, 1, 2]
    volume = cls().fit(logits, y)
    flat = cls().fit(logits.reshape(-1, 3), y.reshape(-1))
    prob = volume.predict_proba(logits)
    assert prob.shape == logits.shape
    assert prob.dtype == np.float32
    np.testing.assert_allclose(prob.reshape(-1, 3), flat.predict_proba(logits.reshape(-1, 3)))
    assert volume.predict(logits).shape == (2, 5, 6, 7)


@each_calibrator
def test_clone_and_not_fitted(cls):
    calibrator = cls(input="probabilities", random_state=3)
    assert clone(calibrator).get_params() == calibrator.get_params()
    with pytest.raises(NotFittedError):
        calibrator.predict_proba(np.full((2, 3), 1 / 3))
    with pytest.raises(NotFittedError):
        calibrator.predict(np.full((2, 3), 1 / 3))


def test_temperature_at_the_edge_of_its_bounds_warns(rng):
    from sklearn.exceptions import ConvergenceWarning

    logits = 10 * rng.normal(size=(500, 3))
    y = rng.integers(0, 3, size=500)  # labels unrelated to the logits: T wants to be huge
    with pytest.warns(ConvergenceWarning, match=r"lies at the edge of `bounds` \(0.05, 2.0\)"):
        ts = TemperatureScaling(bounds=(0.05, 2.0)).fit(logits, y)
    assert ts.temperature_ == pytest.approx(2.0, rel=1e-3)


def test_temperature_of_logits_near_the_float64_limit_warns_at_the_upper_bound(rng):
    from sklearn.exceptions import ConvergenceWarning

    logits = 1e307 * rng.normal(size=(200, 3))  # finite, but their sum overflows float64
    y = rng.integers(0, 3, size=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow noise either
        with pytest.warns(
            ConvergenceWarning, match=r"lies at the edge of `bounds` .*\(the upper bound 20\)"
        ):
            ts = TemperatureScaling().fit(logits, y)
    assert ts.temperature_ == pytest.approx(20.0, rel=1e-3)
    assert np.isfinite(ts.predict_proba(logits)).all()


def test_huge_finite_logits_are_not_called_non_finite(rng):
    from sklearn.exceptions import ConvergenceWarning

    y = rng.integers(0, 3, size=10)
    with pytest.warns(ConvergenceWarning, match="upper bound 20"):
        ts = TemperatureScaling().fit(np.full((10, 3), 1e308), y)
    np.testing.assert_allclose(ts.predict_proba(np.full((2, 3), 1e308)), 1 / 3)
    logits = np.full((10, 3), 1e308)
    logits[3, 1] = np.inf
    with pytest.raises(
        ValueError, match=r"`X` must be finite \(no NaN or inf\); got 1 non-finite"
    ):
        TemperatureScaling().fit(logits, y)


@settings(max_examples=25, deadline=None)
@given(
    logits=arrays(
        np.float64,
        st.tuples(st.integers(3, 40), st.integers(2, 5)),
        elements=st.floats(-30, 30),
    ),
    seed=st.integers(0, 2**16),
)
# logits 2.2e-16 apart: once divided by T > 4 their probabilities round to a tie
@example(logits=np.array([[-2.2e-16, 0.0], [0.0, -1.0], [-1.0, 0.0]]), seed=0)
def test_temperature_keeps_argmax_and_ignores_sample_order(logits, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, logits.shape[1], size=len(logits))
    order = rng.permutation(len(logits))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = TemperatureScaling().fit(logits, y)
        shuffled = TemperatureScaling().fit(logits[order], y[order])
    # Where the NLL is flat (e.g. near a bound) T itself may move; the optimum may not.
    prob = ts.predict_proba(logits)
    assert nll(y, shuffled.predict_proba(logits)) == pytest.approx(nll(y, prob), abs=1e-7)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0)
    # The class of the largest logit keeps the largest probability. Its argmax may still
    # change: logits closer than the rounding of exp(z / T) become a tie of probabilities.
    rows = np.arange(len(logits))
    np.testing.assert_array_equal(prob[rows, logits.argmax(axis=1)], prob.max(axis=1))


@pytest.mark.parametrize("cls", [VectorScaling, MatrixScaling], ids=lambda c: c.__name__)
def test_calibrated_logits_are_the_affine_map_before_the_softmax(cls, rng):
    logits = rng.normal(size=(3, 4, 5, 3)).astype(np.float32)
    y = sample_labels(rng, 2 * logits)
    y[0, 0, :3] = [0, 1, 2]
    fitted = cls().fit(logits, y)
    calibrated = fitted.calibrated_logits(logits)
    assert calibrated.shape == logits.shape
    assert calibrated.dtype == np.float32
    coef = np.diag(fitted.coef_) if fitted.coef_.ndim == 1 else fitted.coef_
    expected = logits.astype(np.float64) @ coef.T + fitted.intercept_
    np.testing.assert_allclose(calibrated, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        softmax(calibrated, axis=-1), fitted.predict_proba(logits), rtol=1e-5, atol=1e-6
    )
