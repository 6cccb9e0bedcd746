"""Channel-first volumes in the calibration evaluators: equal to channels last, bit for bit."""

import numpy as np
import pytest
from one_metric_evaluators import ONE_METRIC_EVALUATORS
from sklearn.base import clone

from speccal.evaluation import CalibrationEvaluator, EvaluationProtocol
from speccal.metrics import _binning as kernel

METRICS = ("ece", "mce", "rmsce", "sce", "ace", "tace", "brier", "nll")
FITTED = (
    "scores_",
    "error_bound_",
    "n_samples_",
    "bin_count_",
    "bin_confidence_",
    "bin_accuracy_",
    "class_bin_count_",
    "class_bin_confidence_",
    "class_bin_accuracy_",
    "volume_scores_",
    "volume_counts_",
)


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch):
    monkeypatch.setattr(kernel, "CHUNK_ROWS", 997)


def _volumes(rng, n_volumes=3, shape=(7, 8, 9), n_classes=4):
    logits = (3 * rng.normal(size=(n_volumes, *shape, n_classes))).astype(np.float32)
    prob = np.exp(logits - logits.max(-1, keepdims=True))
    prob /= prob.sum(-1, keepdims=True)
    return rng.integers(0, n_classes, (n_volumes, *shape)), prob, logits


def _assert_same_fit(a, b):
    for name in FITTED:
        if hasattr(a, name):
            np.testing.assert_equal(getattr(b, name), getattr(a, name), err_msg=name)


def _first(array):
    """Channels-last volumes (n, ..., C) as a list of channel-first (C, ...) volumes."""
    return [np.ascontiguousarray(np.moveaxis(v, -1, 0)) for v in array]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"protocol": "nixon"},
        {"protocol": "mbls"},
        {"protocol": "monai"},
        {"adaptive_binning": "exact"},
        {"per_volume": True, "protocol": EvaluationProtocol(ignore_class=2)},
    ],
    ids=["speccal", "nixon", "mbls", "monai", "exact", "per_volume_ignore"],
)
def test_channel_first_volumes_equal_channels_last(rng, params):
    y_true, prob, _ = _volumes(rng)
    last = CalibrationEvaluator(metrics=METRICS, **params).fit(list(y_true), list(prob))
    first = CalibrationEvaluator(metrics=METRICS, class_axis=0, **params)
    first.fit(list(y_true), _first(prob))
    _assert_same_fit(last, first)


def test_batch_first_logits_mask_and_partial_fit(rng):
    y_true, _, logits = _volumes(rng)
    mask = rng.random(y_true.shape) < 0.7
    params = {
        "metrics": METRICS,
        "from_logits": True,
        "protocol": EvaluationProtocol(voxels="mask"),
    }
    last = CalibrationEvaluator(**params).fit(y_true[:2], logits[:2], mask=mask[:2])
    last.partial_fit(y_true[2], logits[2], mask=mask[2])
    first = CalibrationEvaluator(class_axis=1, **params)
    batch_first = np.ascontiguousarray(np.moveaxis(logits, -1, 1))  # (B, C, D, H, W)
    first.fit(y_true[:2], batch_first[:2], mask=mask[:2])
    first.partial_fit(y_true[2:], batch_first[2:], mask=mask[2:])
    _assert_same_fit(last, first)


@pytest.mark.parametrize("cls", list(ONE_METRIC_EVALUATORS.values()))
def test_one_metric_evaluators_take_class_axis(rng, cls):
    y_true, prob, _ = _volumes(rng, n_volumes=1)
    evaluator = cls(class_axis=0)
    assert evaluator.get_params()["class_axis"] == 0 and clone(evaluator).class_axis == 0
    first = _first(prob)[0]
    evaluator.fit(y_true[0], first)
    assert evaluator.score_ == cls().fit(y_true[0], prob[0]).score_
    assert evaluator.score(y_true[0], first) == evaluator.score_


def test_merge_accepts_evaluators_that_differ_only_in_layout(rng):
    y_true, prob, _ = _volumes(rng, n_volumes=2)
    first = CalibrationEvaluator(class_axis=0).fit(y_true[0], _first(prob)[0])
    last = CalibrationEvaluator().fit(y_true[1], prob[1])
    both = CalibrationEvaluator().fit(list(y_true), list(prob))
    assert (first + last).scores_ == both.scores_
    with pytest.raises(ValueError, match="with the same parameters"):
        first + CalibrationEvaluator(n_bins=10).fit(y_true[1], prob[1])


def test_class_axis_errors(rng):
    y_true, prob, _ = _volumes(rng, n_volumes=1)
    with pytest.raises(TypeError, match=r"`class_axis` must be an int; got 0.0"):
        CalibrationEvaluator(class_axis=0.0).fit(y_true, prob)
    with pytest.raises(ValueError, match=r"`y_true` must have shape y_prob.shape without axis 1"):
        CalibrationEvaluator(class_axis=1).fit(y_true, prob)
