"""The "boundary_ece" metric of CalibrationEvaluator: per volume, pooled, merged, protocols."""

import numpy as np
import pytest

from speccal.evaluation import CalibrationEvaluator, EvaluationProtocol
from speccal.metrics import boundary_calibration_error, expected_calibration_error
from speccal.metrics._boundary import boundary_band


def volume(rng, shape, n_classes=3):
    labels = np.zeros(shape, dtype=np.int64)
    for k in range(1, n_classes):
        start = [int(rng.integers(0, n - 3)) for n in shape]
        labels[tuple(slice(a, a + 3) for a in start)] = k
    logits = rng.normal(size=(*shape, n_classes)) + 2.0 * np.eye(n_classes)[labels]
    probs = np.exp(logits)
    return labels, probs / probs.sum(-1, keepdims=True)


@pytest.fixture
def volumes(rng):
    return [volume(rng, shape) for shape in [(7, 8, 9), (6, 9, 8), (8, 7, 6)]]


SPACINGS = [(1.0, 1.0, 2.0), (0.7, 0.7, 1.5), (2.0, 1.0, 1.0)]


def test_per_volume_and_pooled_boundary_ece(volumes):
    labels, probs = zip(*volumes, strict=True)
    evaluator = CalibrationEvaluator(
        metrics=("boundary_ece", "ece"), boundary_width=1.5, per_volume=True
    ).fit(list(labels), list(probs), spacing=SPACINGS)
    expected = [
        boundary_calibration_error(y, p, spacing=s, width=1.5)
        for y, p, s in zip(labels, probs, SPACINGS, strict=True)
    ]
    np.testing.assert_allclose(evaluator.volume_scores_["boundary_ece"], expected, atol=1e-12)
    # pooled: the ECE of all band voxels of all volumes together
    bands = [boundary_band(y, np.array(s), 1.5) for y, s in zip(labels, SPACINGS, strict=True)]
    pooled = expected_calibration_error(
        np.concatenate([y[b] for y, b in zip(labels, bands, strict=True)]),
        np.concatenate([p[b] for p, b in zip(probs, bands, strict=True)]),
    )
    assert evaluator.scores_["boundary_ece"] == pytest.approx(pooled, abs=1e-12)
    assert evaluator.score_ == evaluator.scores_["boundary_ece"]


def test_streamed_and_merged_equal_one_fit(volumes):
    params = {"metrics": ("ece", "boundary_ece"), "boundary_width": 2.0}
    labels, probs = zip(*volumes, strict=True)
    whole = CalibrationEvaluator(**params).fit(list(labels), list(probs), spacing=SPACINGS)
    streamed = CalibrationEvaluator(**params)
    for y, p, s in zip(labels, probs, SPACINGS, strict=True):
        streamed.partial_fit(y, p, spacing=s)
    first = CalibrationEvaluator(**params).fit(
        list(labels[:2]), list(probs[:2]), spacing=SPACINGS[:2]
    )
    last = CalibrationEvaluator(**params).fit(labels[2], probs[2], spacing=SPACINGS[2])
    merged = first + last
    for other in (streamed, merged):
        assert other.scores_["boundary_ece"] == pytest.approx(
            whole.scores_["boundary_ece"], abs=1e-12
        )


def test_one_spacing_for_all_volumes_and_default_unit_spacing(volumes):
    labels, probs = zip(*volumes, strict=True)
    params = {"metrics": ("boundary_ece",), "per_volume": True}
    unit = CalibrationEvaluator(**params).fit(list(labels), list(probs))
    shared = CalibrationEvaluator(**params).fit(list(labels), list(probs), spacing=(1, 1, 1))
    np.testing.assert_array_equal(
        unit.volume_scores_["boundary_ece"], shared.volume_scores_["boundary_ece"]
    )
    assert unit.volume_scores_["boundary_ece"][0] == pytest.approx(
        boundary_calibration_error(labels[0], probs[0]), abs=1e-12
    )


def test_foreground_protocol_keeps_the_band_inside_the_foreground(volumes):
    y, p = volumes[0]
    protocol = EvaluationProtocol(voxels="foreground")
    evaluator = CalibrationEvaluator(metrics=("boundary_ece",), protocol=protocol).fit(
        y, p, spacing=SPACINGS[0]
    )
    keep = boundary_band(y, np.array(SPACINGS[0]), 2.0) & (y != 0)
    assert evaluator.score_ == pytest.approx(
        expected_calibration_error(y[keep], p[keep]), abs=1e-12
    )


def test_volume_without_boundary_warns_and_is_left_out_of_the_mean(volumes):
    y, p = volumes[0]
    flat = np.zeros_like(y)
    evaluator = CalibrationEvaluator(
        metrics=("boundary_ece", "ece"), protocol="mbls", per_volume=True
    )
    evaluator.partial_fit(y, p)
    with pytest.warns(UserWarning, match=r"within `boundary_width` of a boundary"):
        evaluator.partial_fit(np.ones_like(y), p)  # a single label: no boundary
    scores = evaluator.volume_scores_["boundary_ece"]
    assert np.isnan(scores[1]) and not np.isnan(scores[0])
    assert evaluator.scores_["boundary_ece"] == scores[0]
    only_flat = CalibrationEvaluator(metrics=("boundary_ece", "ece"))
    with pytest.warns(UserWarning, match=r"its boundary_ece is NaN"):
        only_flat.fit(flat, p)
    assert np.isnan(only_flat.scores_["boundary_ece"])


def test_rejects_bad_boundary_width_and_spacing(volumes):
    y, p = volumes[0]
    with pytest.raises(ValueError, match=r"`boundary_width` must be a finite number >= 0; got -2"):
        CalibrationEvaluator(metrics=("boundary_ece",), boundary_width=-2).fit(y, p)
    with pytest.raises(ValueError, match=r"`spacing` must be one spacing for all volumes or one"):
        CalibrationEvaluator(metrics=("boundary_ece",)).fit([y, y], [p, p], spacing=[(1, 1, 1)])
    with pytest.raises(ValueError, match=r"`spacing` must be a positive finite number"):
        CalibrationEvaluator(metrics=("boundary_ece",)).fit(y, p, spacing=(1.0, -1.0, 1.0))


def test_score_passes_the_spacing(volumes):
    y, p = volumes[1]
    evaluator = CalibrationEvaluator(metrics=("boundary_ece",)).fit(y, p)
    expected = boundary_calibration_error(y, p, spacing=(3.0, 1.0, 1.0))
    assert evaluator.score(y, p, spacing=(3.0, 1.0, 1.0)) == pytest.approx(expected, abs=1e-12)


def test_batch_with_classes_on_axis_1_gets_one_band_per_image(volumes):
    y = np.stack([v[0][:6, :6, :6] for v in volumes])
    p = np.stack([v[1][:6, :6, :6] for v in volumes])
    evaluator = CalibrationEvaluator(metrics=("boundary_ece",), class_axis=1).fit(
        y, np.moveaxis(p, -1, 1), spacing=(1.0, 2.0, 1.0)
    )
    expected = CalibrationEvaluator(metrics=("boundary_ece",)).fit(
        list(y), list(p), spacing=(1.0, 2.0, 1.0)
    )
    assert evaluator.score_ == pytest.approx(expected.score_, abs=1e-12)
