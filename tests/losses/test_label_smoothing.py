"""LabelSmoothingLoss."""

import keras
import pytest
from _baseline_numpy import cross_entropy, log_softmax, one_hot, random_case

from speccal.losses import LabelSmoothingLoss

SHAPES = [(5, 7), (5, 6, 7)]


@pytest.mark.parametrize("spatial", SHAPES)
def test_label_smoothing_equals_keras(rng, spatial):
    labels, logits = random_case(rng, spatial, 4)
    keras_loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    expected = float(keras_loss(one_hot(labels, 4), logits))
    assert float(LabelSmoothingLoss()(labels, logits)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("spatial", SHAPES)
def test_label_smoothing_equals_numpy_alpha_over_c(rng, spatial):
    labels, logits = random_case(rng, spatial, 3)
    alpha = 0.3
    targets = (1 - alpha) * one_hot(labels, 3) + alpha / 3
    expected = (-(targets * log_softmax(logits)).sum(-1)).mean()
    value = LabelSmoothingLoss(alpha=alpha)(labels, logits)
    assert float(value) == pytest.approx(expected, rel=1e-5)


def test_label_smoothing_alpha_zero_is_cross_entropy(rng):
    labels, logits = random_case(rng, (5, 6, 7), 3)
    expected = cross_entropy(labels, logits).mean()
    assert float(LabelSmoothingLoss(alpha=0.0)(labels, logits)) == pytest.approx(
        expected, rel=1e-5
    )


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan")])
def test_label_smoothing_bad_alpha(alpha):
    with pytest.raises(ValueError, match="`alpha` must be a finite number"):
        LabelSmoothingLoss(alpha=alpha)
