"""Channel-first input of the calibration metrics: the channels-last values, bit for bit,
read chunk by chunk without a transposed copy of the whole array."""

import tracemalloc

import numpy as np
import pytest

from speccal import metrics
from speccal.metrics import _binning as kernel
from speccal.metrics._rows import ClassAxisRows, as_rows

FUNCTIONS = [
    metrics.expected_calibration_error,
    metrics.maximum_calibration_error,
    metrics.rms_calibration_error,
    metrics.classwise_calibration_error,
    metrics.static_calibration_error,
    metrics.adaptive_calibration_error,
    metrics.thresholded_adaptive_calibration_error,
    metrics.brier_score,
    metrics.negative_log_likelihood,
]


def _volumes(rng, shape=(2, 7, 8, 9), n_classes=4):
    logits = (3 * rng.normal(size=(*shape, n_classes))).astype(np.float32)
    prob = np.exp(logits - logits.max(-1, keepdims=True))
    prob /= prob.sum(-1, keepdims=True)
    return rng.integers(0, n_classes, shape), prob


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch):
    # 997 rows: chunks straddle the batch boundary of (2, C, 7, 8, 9) (504 voxels per item)
    monkeypatch.setattr(kernel, "CHUNK_ROWS", 997)


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_channel_first_equals_channels_last_bit_for_bit(rng, function):
    y_true, prob = _volumes(rng)
    expected = function(y_true, prob)
    batch_first = np.ascontiguousarray(np.moveaxis(prob, -1, 1))  # (B, C, D, H, W)
    np.testing.assert_array_equal(function(y_true, batch_first, class_axis=1), expected)
    one = np.ascontiguousarray(np.moveaxis(prob[0], -1, 0))  # (C, D, H, W)
    np.testing.assert_array_equal(
        function(y_true[0], one, class_axis=0), function(y_true[0], prob[0])
    )
    # a strided view (no reshape without a copy): gathered by index, same values
    view = np.moveaxis(prob, -1, 1)
    np.testing.assert_array_equal(function(y_true, view, class_axis=-4), expected)


def _peak(function, *args, **kwargs):
    tracemalloc.start()
    try:
        function(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_channel_first_reads_without_a_transposed_copy(rng, monkeypatch):
    monkeypatch.setattr(kernel, "CHUNK_ROWS", 1 << 15)
    y_true, prob = _volumes(rng, shape=(96, 96, 96))
    channel_first = np.ascontiguousarray(np.moveaxis(prob, -1, 0))
    one_chunk = kernel.CHUNK_ROWS * prob.shape[-1] * prob.itemsize
    for function in (
        metrics.expected_calibration_error,
        metrics.static_calibration_error,
        metrics.thresholded_adaptive_calibration_error,  # exact: chunks are read twice
    ):
        channels_last = _peak(function, y_true, prob)
        peak = _peak(function, y_true, channel_first, class_axis=0)
        # the channels-last working memory plus the transposed chunks (the one read and the
        # one before it, still referenced), far below a whole copy; with the compiled kernel
        # the channels-last working memory is below a chunk, so the margin is 3 chunks
        assert peak <= channels_last + 3 * one_chunk, (function.__name__, peak, channels_last)
        assert peak < prob.nbytes / 2


def test_class_axis_errors(rng):
    y_true, prob = _volumes(rng)
    with pytest.raises(TypeError, match=r"`class_axis` must be an int; got '1'"):
        metrics.expected_calibration_error(y_true, prob, class_axis="1")
    with pytest.raises(
        ValueError, match=r"`class_axis` must be in \[-5, 5\) for `y_prob` .*got 5"
    ):
        metrics.expected_calibration_error(y_true, prob, class_axis=5)
    with pytest.raises(ValueError, match=r"`y_true` must have shape y_prob.shape without axis 1 "):
        metrics.expected_calibration_error(y_true, prob, class_axis=1)


def test_class_axis_rows_slices_gathers_and_writes(rng):
    array = rng.normal(size=(3, 4, 5, 6))
    reference = np.moveaxis(array, 1, -1).reshape(-1, 4)
    rows = as_rows(array, 1)
    assert isinstance(rows, ClassAxisRows) and rows.shape == (90, 4) and len(rows) == 90
    for key in (slice(0, 90), slice(27, 61), slice(3, 88, 7), slice(85, 200), [5, 0, 89]):
        np.testing.assert_array_equal(rows[key], reference[key])
    keep = rng.random((3, 5, 6)) < 0.4
    np.testing.assert_array_equal(
        as_rows(array, 1, keep)[2:20], np.moveaxis(array, 1, -1)[keep][2:20]
    )
    np.testing.assert_array_equal(np.asarray(rows, dtype=np.float32), reference.astype(np.float32))
    out = np.zeros_like(array)
    written = as_rows(out, 1)
    written[0:40] = reference[0:40]
    written[40:90] = reference[40:90]
    np.testing.assert_array_equal(out, array)
    with pytest.raises(ValueError, match="cannot be an array without a copy"):
        np.asarray(rows, copy=False)
    with pytest.raises(TypeError, match="assignment to contiguous row slices only"):
        written[[1, 2]] = reference[:2]


def test_boundary_metrics_take_class_axis(rng):
    y_true, prob = _volumes(rng, shape=(7, 8, 9))
    first = np.ascontiguousarray(np.moveaxis(prob, -1, 0))
    spacing = (1.0, 1.5, 2.0)
    expected = metrics.boundary_calibration_error(y_true, prob, spacing=spacing, width=1.5)
    got = metrics.boundary_calibration_error(
        y_true, first, spacing=spacing, width=1.5, class_axis=0
    )
    assert got == expected
    shells = metrics.calibration_by_distance(y_true, first, spacing=spacing, class_axis=0)
    np.testing.assert_array_equal(
        shells.ece, metrics.calibration_by_distance(y_true, prob, spacing=spacing).ece
    )


@pytest.mark.parametrize("mode", ["top-label", "marginal"])
def test_smooth_and_debiased_errors_take_class_axis(rng, mode):
    y_true, prob = _volumes(rng)
    first = np.ascontiguousarray(np.moveaxis(prob, -1, 1))
    assert metrics.debiased_calibration_error(
        y_true, first, mode=mode, class_axis=1
    ) == metrics.debiased_calibration_error(y_true, prob, mode=mode)
    assert metrics.smooth_calibration_error(
        y_true, first, class_axis=1
    ) == metrics.smooth_calibration_error(y_true, prob)


def test_class_axis_rows_columns(rng):
    array = rng.normal(size=(3, 4, 5, 6))
    keep = rng.random((3, 5, 6)) < 0.5
    for mask in (None, keep):
        rows = as_rows(array, 1, mask)
        reference = np.moveaxis(array, 1, -1)
        reference = reference.reshape(-1, 4) if mask is None else reference[mask]
        for k in range(4):
            np.testing.assert_array_equal(rows[:, k], reference[:, k])
    with pytest.raises(TypeError, match=r"rows\[:, k\] only"):
        rows[1:3, 0]
