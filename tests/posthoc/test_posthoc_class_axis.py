"""Channel-first volumes in the post-hoc calibrators: equal to channels last, bit for bit."""

import warnings

import numpy as np
import pytest
from calibrators import each_calibrator

from speccal.posthoc import TemperatureScaling, _base


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch):
    monkeypatch.setattr(_base, "CHUNK_ROWS", 997)


def _volumes(rng, shape=(2, 7, 8, 9), n_classes=3):
    logits = (2 * rng.normal(size=(*shape, n_classes))).astype(np.float32)
    return logits, rng.integers(0, n_classes, shape)


@each_calibrator
@pytest.mark.parametrize("max_samples", [None, 600])
def test_channel_first_fit_and_predict_equal_channels_last(rng, cls, max_samples):
    logits, y = _volumes(rng)
    batch_first = np.ascontiguousarray(np.moveaxis(logits, -1, 1))  # (B, C, D, H, W)
    params = {"max_samples": max_samples, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on random data
        last = cls(**params).fit(logits, y)
        first = cls(class_axis=1, **params).fit(batch_first, y)
    proba = first.predict_proba(batch_first)
    assert proba.shape == batch_first.shape and proba.dtype == np.float32
    np.testing.assert_array_equal(np.moveaxis(proba, 1, -1), last.predict_proba(logits))
    np.testing.assert_array_equal(first.predict(batch_first), last.predict(logits))
    # one channel-first volume (C, D, H, W) with the fitted calibrator of the same layout
    first.set_params(class_axis=0)
    np.testing.assert_array_equal(
        np.moveaxis(first.predict_proba(batch_first[0]), 0, -1), last.predict_proba(logits[0])
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # random labels
def test_channel_first_probabilities_and_errors(rng):
    logits, y = _volumes(rng)
    prob = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    first = np.ascontiguousarray(np.moveaxis(prob, -1, 1))
    scaled = TemperatureScaling(input="probabilities", class_axis=1).fit(first, y)
    assert (
        scaled.temperature_ == TemperatureScaling(input="probabilities").fit(prob, y).temperature_
    )
    bad = first.copy()
    bad[1, :, 3, 4, 5] *= 2  # row 504 + 3 * 72 + 4 * 9 + 5 of the channels-last order
    with pytest.raises(ValueError, match=r"`X` must sum to 1 over the class axis .*at sample 761"):
        TemperatureScaling(input="probabilities", class_axis=1).fit(bad, y)
    with pytest.raises(ValueError, match=r"`y` must have the shape of the scores without their"):
        TemperatureScaling(class_axis=0).fit(first, y)
    with pytest.raises(ValueError, match=r"must have 3 classes on its axis 1 \(`class_axis`\)"):
        scaled.predict_proba(first[:, :2])
    with pytest.raises(TypeError, match=r"`class_axis` must be an int; got None"):
        TemperatureScaling(class_axis=None).fit(first, y)
