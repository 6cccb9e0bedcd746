"""Per-class values of CalibrationEvaluator: class_scores_ and volume_class_scores_."""

import numpy as np
import pytest
from metric_functions import PER_CLASS_FUNCTIONS

from speccal.evaluation import CalibrationEvaluator, EvaluationProtocol
from speccal.metrics import static_calibration_error

FUNCTIONS = PER_CLASS_FUNCTIONS


@pytest.fixture
def volumes(rng):
    out = []
    for shape in [(5, 6, 7), (6, 5, 4), (4, 7, 5)]:
        labels = rng.integers(0, 3, size=shape)
        logits = rng.normal(size=(*shape, 3)) + 1.5 * np.eye(3)[labels]
        probs = np.exp(logits)
        out.append((labels, probs / probs.sum(-1, keepdims=True)))
    return out


def test_pooled_and_per_volume_class_scores_equal_the_functions(volumes):
    labels, probs = (list(v) for v in zip(*volumes, strict=True))
    evaluator = CalibrationEvaluator(
        metrics=("ece", "sce", "ace", "tace"), adaptive_binning="exact", per_volume=True
    ).fit(labels, probs)
    pooled_labels = np.concatenate([y.reshape(-1) for y in labels])
    pooled_probs = np.concatenate([p.reshape(-1, 3) for p in probs])
    assert sorted(evaluator.class_scores_) == ["ace", "sce", "tace"]
    for name, function in FUNCTIONS.items():
        expected = function(pooled_labels, pooled_probs, average=None)
        np.testing.assert_allclose(evaluator.class_scores_[name], expected, atol=1e-12)
        per_volume = [function(y, p, average=None) for y, p in zip(labels, probs, strict=True)]
        np.testing.assert_allclose(evaluator.volume_class_scores_[name], per_volume, atol=1e-12)
        assert evaluator.scores_[name] == pytest.approx(expected.mean(), abs=1e-12)


def test_per_volume_protocol_averages_the_class_scores_of_the_volumes(volumes):
    labels, probs = (list(v) for v in zip(*volumes, strict=True))
    evaluator = CalibrationEvaluator(metrics=("sce", "tace"), protocol="mbls").fit(labels, probs)
    counts = [(y != 0).sum() for y in labels]
    for name in ("sce", "tace"):
        per_volume = evaluator.volume_class_scores_[name]
        assert per_volume.shape == (3, 3)
        expected = np.average(per_volume, axis=0, weights=counts)
        np.testing.assert_allclose(evaluator.class_scores_[name], expected, atol=1e-12)
        assert evaluator.scores_[name] == pytest.approx(expected.mean(), abs=1e-12)


def test_class_scores_keep_the_background_when_the_average_leaves_it_out(volumes):
    protocol = EvaluationProtocol(include_background=False)
    evaluator = CalibrationEvaluator(metrics=("sce",), protocol=protocol).fit(*volumes[0])
    expected = static_calibration_error(*volumes[0], average=None)
    np.testing.assert_allclose(evaluator.class_scores_["sce"], expected, atol=1e-12)
    assert evaluator.score_ == pytest.approx(expected[1:].mean(), abs=1e-12)


def test_merged_class_scores_equal_one_fit(volumes):
    labels, probs = (list(v) for v in zip(*volumes, strict=True))
    params = {"metrics": ("sce", "tace"), "per_volume": True, "adaptive_binning": "exact"}
    whole = CalibrationEvaluator(**params).fit(labels, probs)
    merged = CalibrationEvaluator(**params).fit(labels[:1], probs[:1]) + CalibrationEvaluator(
        **params
    ).fit(labels[1:], probs[1:])
    for name in ("sce", "tace"):
        np.testing.assert_allclose(merged.class_scores_[name], whole.class_scores_[name])
        np.testing.assert_array_equal(
            merged.volume_class_scores_[name], whole.volume_class_scores_[name]
        )


def test_no_class_scores_without_class_metrics(volumes):
    evaluator = CalibrationEvaluator(metrics=("ece",), per_volume=True).fit(*volumes[0])
    assert evaluator.class_scores_ == {}
    assert evaluator.volume_class_scores_ == {}
