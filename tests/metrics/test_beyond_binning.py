"""Debiased L2 calibration error and SmoothECE against independent computations and peers."""

import math

import numpy as np
import pytest

from speccal.metrics import debiased_calibration_error, smooth_calibration_error


def miscalibrated(rng, n, n_classes=3, *, dtype=np.float64, ones=0.0):
    """Softmax rows whose labels are drawn from a distorted copy (over- and under-confident)."""
    logits = rng.normal(scale=2.0, size=(n, n_classes))
    probs = np.exp(logits)
    probs /= probs.sum(1, keepdims=True)
    probs[: int(ones * n)] = np.eye(n_classes)[rng.integers(0, n_classes, int(ones * n))]
    top = probs.max(1)
    accuracy = np.clip(top + 0.15 * np.sin(12 * top), 0, 1)
    hit = rng.random(n) < accuracy
    other = (probs.argmax(1) + rng.integers(1, n_classes, n)) % n_classes
    labels = np.where(hit, probs.argmax(1), other)
    return labels, probs.astype(dtype)


# -- debiased L2 error: a plain loop written from Kumar et al. (2019), section 5 --
def loop_debiased(values, targets, n_bins):
    ordered = sorted(values)
    n = len(ordered)
    n_bins = min(n_bins, n)
    parts, start = [], 0
    for b in range(n_bins):
        size = n // n_bins + (1 if b < n % n_bins else 0)
        parts.append(ordered[start : start + size])
        start += size
    edges = sorted({(parts[b][-1] + parts[b + 1][0]) / 2 for b in range(n_bins - 1)} | {1.0})
    bins = [[] for _ in edges]
    for value, target in zip(values, targets, strict=True):
        b = next(i for i, edge in enumerate(edges) if value <= edge)
        bins[b].append((value, target))
    total = 0.0
    for members in bins:
        if len(members) < 2:
            continue
        mean_p = sum(v for v, _ in members) / len(members)
        mean_y = sum(t for _, t in members) / len(members)
        variance = mean_y * (1 - mean_y) / (len(members) - 1)
        total += len(members) / n * ((mean_p - mean_y) ** 2 - variance)
    return total


@pytest.mark.parametrize("n", [7, 40, 1001])
@pytest.mark.parametrize("n_bins", [1, 4, 15])
def test_debiased_error_equals_loop(rng, n, n_bins):
    labels, probs = miscalibrated(rng, n)
    top = probs.max(1).tolist()
    hits = (probs.argmax(1) == labels).astype(float).tolist()
    expected = math.sqrt(max(loop_debiased(top, hits, n_bins), 0.0))
    value = debiased_calibration_error(labels, probs, n_bins=n_bins)
    assert value == pytest.approx(expected, abs=1e-12)
    squares = [
        max(loop_debiased(probs[:, k].tolist(), (labels == k).astype(float).tolist(), n_bins), 0)
        for k in range(3)
    ]
    marginal = debiased_calibration_error(labels, probs, n_bins=n_bins, mode="marginal")
    assert marginal == pytest.approx(math.sqrt(np.mean(squares)), abs=1e-12)


def test_debiased_error_is_zero_for_a_single_bin_at_the_mean():
    # one bin: (mean p - mean y)^2 = 0 and the variance term makes the square negative -> 0
    y_prob = np.array([[0.75, 0.25]] * 8)
    y_true = np.array([0, 0, 0, 1, 0, 0, 0, 1])
    assert debiased_calibration_error(y_true, y_prob, n_bins=1) == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["top-label", "marginal"])
def test_debiased_error_equals_uncertainty_calibration(rng, dtype, mode):
    calibration = pytest.importorskip("calibration")
    if not hasattr(calibration, "lower_bound_scaling_ce"):
        pytest.skip("`calibration` is not the uncertainty-calibration package")
    labels, probs = miscalibrated(rng, 3001, 4, dtype=dtype)
    tolerance = 1e-12 if dtype == np.float64 else 1e-6  # the package averages in float32
    value = debiased_calibration_error(labels, probs, mode=mode)
    assert value > 0.01
    expected = calibration.get_calibration_error(probs, labels, p=2, debias=True, mode=mode)
    assert value == pytest.approx(expected, abs=tolerance)
    coarse = (np.round(probs.astype(np.float64) * 8) + 0.1) / 1.0
    coarse = (coarse / coarse.sum(1, keepdims=True)).astype(dtype)
    value = debiased_calibration_error(labels, coarse, mode=mode, binning="unique")
    expected = calibration.get_binning_ce(coarse, labels, p=2, debias=True, mode=mode)
    assert value == pytest.approx(expected, abs=tolerance)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "classwise"}, r"`mode` must be one of \('top-label', 'marginal'\); got"),
        ({"binning": "equal-width"}, r"`binning` must be one of \('equal-mass', 'unique'\)"),
        ({"n_bins": 0}, r"`n_bins` must be an int >= 1; got 0"),
    ],
)
def test_debiased_error_rejects_bad_parameters(rng, kwargs, message):
    with pytest.raises(ValueError, match=message):
        debiased_calibration_error(*miscalibrated(rng, 20), **kwargs)


# -- SmoothECE: a direct sum of the reflected kernel, no binning --
def direct_smooth_error(confidence, hit, bandwidth, n_points=16385):
    """(1/n) * integral over [0, 1] of |sum_i K(t, c_i) r_i|, the kernel summed exactly."""
    t = np.linspace(0.0, 1.0, n_points)[:, None]
    total = np.zeros((n_points, 1))
    residual = (confidence - hit)[:, None]
    for k in (-1, 0, 1):  # images of the reflection at 0 and 1 (further ones are < e^-50)
        for centre in (confidence + 2 * k, -confidence + 2 * k):
            gauss = np.exp(-0.5 * ((t - centre[None]) / bandwidth) ** 2)
            total += gauss @ residual / (math.sqrt(2 * math.pi) * bandwidth)
    return np.trapezoid(np.abs(total[:, 0]), t[:, 0]) / confidence.shape[0]


@pytest.mark.parametrize("bandwidth", [0.01, 0.05, 0.3])
@pytest.mark.parametrize("ones", [0.0, 0.2])
def test_smooth_error_at_a_bandwidth_equals_direct_sum(rng, bandwidth, ones):
    labels, probs = miscalibrated(rng, 100, ones=ones)
    confidence, hit = probs.max(1), (probs.argmax(1) == labels).astype(float)
    expected = direct_smooth_error(confidence, hit, bandwidth)
    value = smooth_calibration_error(labels, probs, bandwidth=bandwidth)
    assert value == pytest.approx(expected, abs=1e-6)


def test_smooth_error_is_the_fixed_point_of_its_bandwidth(rng):
    labels, probs = miscalibrated(rng, 200)
    value = smooth_calibration_error(labels, probs)
    assert 0.01 < value < 0.5
    assert smooth_calibration_error(labels, probs, bandwidth=value) == pytest.approx(
        value, abs=1e-8
    )
    confidence, hit = probs.max(1), (probs.argmax(1) == labels).astype(float)
    assert direct_smooth_error(confidence, hit, value) == pytest.approx(value, abs=1e-6)


def test_smooth_error_of_calibrated_data_stops_at_the_smallest_bandwidth():
    y_prob = np.array([[0.75, 0.25]] * 400)
    y_true = np.array([0, 0, 0, 1] * 100)  # exactly 75 % right at confidence 0.75
    assert smooth_calibration_error(y_true, y_prob) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n", [500, 20000])
def test_smooth_error_agrees_with_relplot(seed, n):
    relplot = pytest.importorskip("relplot")
    labels, probs = miscalibrated(np.random.default_rng(seed), n)
    confidence, hit = relplot.multiclass_logits_to_confidences(probs, labels, probs=True)
    # measured: |difference| <= 2.7e-4 (sigma*), 2.4e-4 (sigma = 0.05); see the docstring
    value = smooth_calibration_error(labels, probs)
    assert value == pytest.approx(relplot.smECE(confidence, hit), abs=1e-3)
    value = smooth_calibration_error(labels, probs, bandwidth=0.05)
    assert value == pytest.approx(relplot.smECE_sigma(confidence, hit, 0.05), abs=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bandwidth": 0.0}, r"`bandwidth` must be None or a number in \(0, 1\]; got 0\.0"),
        ({"bandwidth": 1.5}, r"`bandwidth` must be None or a number in \(0, 1\]; got 1\.5"),
        ({"bandwidth": "auto"}, r"`bandwidth` must be None or a number in \(0, 1\]; got 'auto'"),
        ({"n_grid": 0}, r"`n_grid` must be an int >= 1; got 0"),
    ],
)
def test_smooth_error_rejects_bad_parameters(rng, kwargs, message):
    with pytest.raises(ValueError, match=message):
        smooth_calibration_error(*miscalibrated(rng, 20), **kwargs)


@pytest.mark.parametrize("mode", ["top-label", "marginal"])
def test_channel_first_input_gives_the_channels_last_values(rng, mode):
    labels, probs = miscalibrated(rng, 240)
    labels, probs = labels.reshape(4, 6, 10), probs.reshape(4, 6, 10, 3)
    first = np.moveaxis(probs, -1, 0)
    assert debiased_calibration_error(labels, first, mode=mode, class_axis=0) == (
        debiased_calibration_error(labels, probs, mode=mode)
    )
    assert smooth_calibration_error(labels, first, class_axis=0) == smooth_calibration_error(
        labels, probs
    )
