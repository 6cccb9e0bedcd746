"""Boundary ECE and calibration by distance against brute-force loops over voxels."""

import itertools
import math

import numpy as np
import pytest

from speccal.metrics import (
    _boundary,
    boundary_calibration_error,
    calibration_by_distance,
    expected_calibration_error,
)


# -- brute force: plain Python loops over voxels, written from METRICS.md --
def loop_boundary(labels):
    """Voxels with a face neighbour (one step along one axis) of another label."""
    found = []
    for index in itertools.product(*(range(n) for n in labels.shape)):
        for axis, step in itertools.product(range(labels.ndim), (-1, 1)):
            other = list(index)
            other[axis] += step
            if 0 <= other[axis] < labels.shape[axis] and labels[tuple(other)] != labels[index]:
                found.append(index)
                break
    return found


def loop_distance(labels, spacing):
    """Per voxel, the Euclidean distance (with the spacing) to the nearest boundary voxel."""
    boundary = loop_boundary(labels)
    distance = {}
    for index in itertools.product(*(range(n) for n in labels.shape)):
        distance[index] = min(
            math.sqrt(sum(((i - j) * s) ** 2 for i, j, s in zip(index, b, spacing, strict=True)))
            for b in boundary
        )
    return distance


def loop_ece(rows, n_bins):
    """Top-label ECE of (label, probability row) pairs; bin b = [b/M, (b+1)/M), 1.0 last."""
    count, conf_sum, hit_sum = [0] * n_bins, [0.0] * n_bins, [0.0] * n_bins
    for label, row in rows:
        best = max(range(len(row)), key=lambda k: (row[k], -k))
        conf = float(row[best])
        b = min(int(conf * n_bins), n_bins - 1)
        count[b] += 1
        conf_sum[b] += conf
        hit_sum[b] += best == label
    return sum(abs(h - c) for c, h in zip(conf_sum, hit_sum, strict=True)) / sum(count)


def loop_boundary_ece(labels, probs, spacing, width, n_bins=15):
    distance = loop_distance(labels, spacing)
    rows = [(labels[i], probs[i]) for i, d in distance.items() if d <= width]
    return loop_ece(rows, n_bins)


def blobs(rng, shape, n_classes=3):
    """Labels of a few boxes of random classes, one touching the border; soft predictions."""
    labels = np.zeros(shape, dtype=np.int64)
    for k in range(1, n_classes):
        start = [int(rng.integers(0, n - 2)) for n in shape]
        labels[tuple(slice(a, a + int(rng.integers(2, 4))) for a in start)] = k
    labels[(slice(0, 2),) * len(shape)] = n_classes - 1  # touches the border
    logits = rng.normal(size=(*shape, n_classes)) + 2.0 * np.eye(n_classes)[labels]
    probs = np.exp(logits)
    return labels, probs / probs.sum(-1, keepdims=True)


CASES = [
    ((5, 6, 7), (1.0, 0.7, 2.5)),
    ((6, 5, 4), (2.0, 1.0, 1.0)),
    ((9, 11), (0.6, 1.3)),
    ((10, 7), (1.0, 1.0)),
]


@pytest.mark.parametrize(("shape", "spacing"), CASES)
@pytest.mark.parametrize("width", [0.0, 0.5, 1.0, 1.3, 2.4])
def test_boundary_ece_equals_loop_over_voxels(shape, spacing, width):
    labels, probs = blobs(np.random.default_rng(len(shape) + int(10 * width)), shape)
    expected = loop_boundary_ece(labels, probs, spacing, width)
    value = boundary_calibration_error(labels, probs, spacing=spacing, width=width)
    assert value == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("shape", "spacing"), [*CASES[::2], ((6, 20), (1.0, 0.3))])
@pytest.mark.parametrize("width", [0.7, 2.4, 4.0])
def test_band_by_distance_transform_equals_band_by_shifts(monkeypatch, shape, spacing, width):
    labels, _ = blobs(np.random.default_rng(3), shape)
    by_shifts = _boundary.boundary_band(labels, np.array(spacing), width)
    monkeypatch.setattr(_boundary, "MAX_SHIFTS", 0)
    by_transform = _boundary.boundary_band(labels, np.array(spacing), width)
    distance = loop_distance(labels, spacing)
    expected = np.zeros(shape, dtype=bool)
    for index, d in distance.items():
        expected[index] = d <= width
    np.testing.assert_array_equal(by_shifts, expected)
    np.testing.assert_array_equal(by_transform, expected)


def test_band_at_exact_distances_is_closed():
    # boundary voxels at column 3 and 4; column 1 is at exactly 2 x 1.0 = 2.0 from column 3
    labels = np.zeros((3, 8), dtype=int)
    labels[:, 4:] = 1
    band = _boundary.boundary_band(labels, np.array([1.0, 1.0]), 2.0)
    np.testing.assert_array_equal(band[0], [False, True, True, True, True, True, True, False])


def test_wide_band_holds_every_voxel_and_gives_plain_ece(rng):
    labels, probs = blobs(rng, (6, 7, 5))
    wide = boundary_calibration_error(labels, probs, spacing=(1, 1, 1), width=100.0)
    assert wide == pytest.approx(expected_calibration_error(labels, probs), abs=1e-12)


def test_boundary_ece_from_float32_input_and_spacing_scalar(rng):
    labels, probs = blobs(rng, (6, 7, 5))
    value = boundary_calibration_error(labels, probs.astype(np.float32), spacing=1.5, width=2.0)
    expected = loop_boundary_ece(labels, probs.astype(np.float32), (1.5, 1.5, 1.5), 2.0)
    assert value == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": -1.0}, r"`width` must be a finite number >= 0; got -1\.0"),
        ({"width": math.inf}, r"`width` must be a finite number >= 0; got inf"),
        ({"spacing": (1.0, 2.0)}, r"`spacing` must be a positive finite number or a sequence"),
        ({"n_bins": 0}, r"`n_bins` must be an int >= 1; got 0"),
    ],
)
def test_boundary_ece_rejects_bad_parameters(rng, kwargs, message):
    labels, probs = blobs(rng, (4, 5, 6))
    with pytest.raises(ValueError, match=message):
        boundary_calibration_error(labels, probs, **kwargs)


def test_boundary_width_of_another_type_is_a_type_error(rng):
    labels, probs = blobs(rng, (4, 5, 6))
    with pytest.raises(TypeError, match=r"`width` must be a finite number >= 0; got '2'"):
        boundary_calibration_error(labels, probs, width="2")


def test_boundary_ece_needs_a_boundary():
    labels = np.full((4, 5), 2)
    probs = np.full((4, 5, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"`y_true` must hold a boundary .*got a single label, 2"):
        boundary_calibration_error(labels, probs)
    with pytest.raises(ValueError, match=r"`y_true` must hold a boundary"):
        calibration_by_distance(labels, probs)


def test_boundary_ece_checks_probabilities_outside_the_band():
    labels = np.zeros((4, 12), dtype=int)
    labels[:, :2] = 1
    probs = np.full((4, 12, 2), 0.5)
    probs[0, 11] = [0.9, 0.9]  # far from the boundary
    with pytest.raises(ValueError, match=r"`y_prob` rows must sum to 1"):
        boundary_calibration_error(labels, probs, width=1.0)


# -- calibration by distance --
def loop_by_distance(labels, probs, spacing, edges, n_bins=15):
    distance = loop_distance(labels, spacing)
    shells = []
    for j in range(len(edges) - 1):
        last = j == len(edges) - 2
        rows = [
            (labels[i], probs[i])
            for i, d in distance.items()
            if edges[j] <= d < edges[j + 1] or (last and d == edges[j + 1])
        ]
        if not rows:
            shells.append((0, math.nan, math.nan, math.nan))
            continue
        confs = [max(row) for _, row in rows]
        hits = [int(np.argmax(row)) == label for label, row in rows]
        shells.append((len(rows), loop_ece(rows, n_bins), np.mean(hits), np.mean(confs)))
    return np.array(shells, dtype=float).T


@pytest.mark.parametrize(("shape", "spacing"), CASES)
@pytest.mark.parametrize("edges", [(0, 1, 2, 4, 8, math.inf), (0.5, 1.3, 2.0), (0, 0.6, 40)])
def test_calibration_by_distance_equals_loop_over_voxels(shape, spacing, edges):
    labels, probs = blobs(np.random.default_rng(7), shape)
    expected = loop_by_distance(labels, probs, spacing, edges)
    result = calibration_by_distance(labels, probs, spacing=spacing, edges=edges)
    np.testing.assert_array_equal(result.edges, np.asarray(edges, dtype=float))
    np.testing.assert_array_equal(result.count, expected[0])
    values = (result.ece, result.accuracy, result.confidence)
    for got, want in zip(values, expected[1:], strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_calibration_by_distance_first_shell_is_boundary_ece(rng):
    labels, probs = blobs(rng, (7, 6, 5))
    result = calibration_by_distance(labels, probs, spacing=(1.0, 0.8, 2.0), edges=(0, 1.5, 3))
    band = boundary_calibration_error(labels, probs, spacing=(1.0, 0.8, 2.0), width=3.0)
    total = (result.count * result.ece).sum() / result.count.sum()
    assert result.n_shells == 2
    assert total >= band - 1e-12  # ECE of a union is at most the weighted ECE of its parts
    assert result.labels() == ["[0, 1.5) mm", "[1.5, 3] mm"]


def test_calibration_by_distance_labels_open_last_shell(rng):
    labels, probs = blobs(rng, (5, 6))
    result = calibration_by_distance(labels, probs)
    assert result.labels(unit="") == ["[0, 1)", "[1, 2)", "[2, 4)", "[4, 8)", ">= 8"]


@pytest.mark.parametrize(
    "edges", [(1.0,), (0, 2, 1), (-1, 2), (0, math.inf, 9), (0, math.nan), "abc", (0, True)]
)
def test_calibration_by_distance_rejects_bad_edges(rng, edges):
    labels, probs = blobs(rng, (5, 6))
    with pytest.raises(ValueError, match=r"`edges` must be >= 2 strictly increasing numbers"):
        calibration_by_distance(labels, probs, edges=edges)


@pytest.mark.parametrize("width", [0.0, 1.0, 6.0])  # a band of few, some or most voxels
def test_boundary_ece_of_a_small_structure_in_a_large_image(rng, width):
    labels = np.zeros((30, 26), dtype=np.int64)
    labels[12:16, 9:14] = 1
    logits = rng.normal(size=(30, 26, 2)) + 2.0 * np.eye(2)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected = loop_boundary_ece(labels, probs, (1.0, 0.8), width)
    value = boundary_calibration_error(labels, probs, spacing=(1.0, 0.8), width=width)
    assert value == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("function", [boundary_calibration_error, calibration_by_distance])
def test_channel_first_image_and_batch_equal_channels_last(rng, function):
    images = [blobs(rng, (6, 7, 5)) for _ in range(3)]
    labels = np.stack([y for y, _ in images])
    probs = np.stack([p for _, p in images])  # (B, D, H, W, C)
    spacing = (1.0, 0.7, 2.0)
    one = function(labels[0], probs[0], spacing=spacing)
    first = function(labels[0], np.moveaxis(probs[0], -1, 0), spacing=spacing, class_axis=0)
    batch = function(labels, np.moveaxis(probs, -1, 1), spacing=spacing, class_axis=1)
    if function is boundary_calibration_error:
        assert first == one
        bands = [_boundary.boundary_band(y, np.array(spacing), 2.0) for y, _ in images]
        pooled = expected_calibration_error(
            np.concatenate([y[b] for (y, _), b in zip(images, bands, strict=True)]),
            np.concatenate([p[b] for (_, p), b in zip(images, bands, strict=True)]),
        )
        assert batch == pytest.approx(pooled, abs=1e-12)
    else:
        np.testing.assert_array_equal(first.ece, one.ece)
        counts = sum(function(y, p, spacing=spacing).count for y, p in images)
        np.testing.assert_array_equal(batch.count, counts)
    with pytest.raises(ValueError, match=r"`spacing` must be a positive finite number or a"):
        function(labels, np.moveaxis(probs, -1, 1), spacing=(1.0,) * 4, class_axis=1)
