"""FocalLoss (FL-3) and AdaptiveFocalLoss (FLSD-53)."""

import keras
import numpy as np
import pytest
from _baseline_numpy import cross_entropy, log_softmax, one_hot, random_case

from speccal.losses import AdaptiveFocalLoss, FocalLoss

SHAPES = [(5, 7), (5, 6, 7)]


@pytest.mark.parametrize("spatial", SHAPES)
def test_focal_equals_keras_categorical_focal_on_one_hot(rng, spatial):
    labels, logits = random_case(rng, spatial, 4)
    keras_loss = keras.losses.CategoricalFocalCrossentropy(alpha=1.0, gamma=3.0, from_logits=True)
    expected = float(keras_loss(one_hot(labels, 4), logits))
    assert float(FocalLoss(gamma=3.0)(labels, logits)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("spatial", SHAPES)
def test_focal_gamma_zero_is_cross_entropy(rng, spatial):
    labels, logits = random_case(rng, spatial, 3, scale=1.0)
    expected = cross_entropy(labels, logits).mean()
    assert float(FocalLoss(gamma=0.0)(labels, logits)) == pytest.approx(expected, rel=1e-5)


def test_focal_default_gamma_is_three():
    assert FocalLoss().gamma == 3.0


def _flsd_numpy(labels, logits, gamma=3.0, gamma_low=5.0, threshold=0.2):
    log_pt = -cross_entropy(labels, logits)
    pt = np.exp(log_pt)
    g = np.where(pt < threshold, gamma_low, gamma)
    return float(np.mean(-((1.0 - pt) ** g) * log_pt))


@pytest.mark.parametrize("spatial", SHAPES)
def test_adaptive_focal_equals_numpy(rng, spatial):
    labels, logits = random_case(rng, spatial, 3)
    pt = np.exp(np.take_along_axis(log_softmax(logits), labels[..., None], -1))
    assert (pt < 0.2).any() and (pt >= 0.2).any()  # both gammas are exercised
    expected = _flsd_numpy(labels, logits)
    assert float(AdaptiveFocalLoss()(labels, logits)) == pytest.approx(expected, rel=1e-5)
    custom = AdaptiveFocalLoss(gamma=1.0, gamma_low=2.0, threshold=0.5)(labels, logits)
    expected = _flsd_numpy(labels, logits, 1.0, 2.0, 0.5)
    assert float(custom) == pytest.approx(expected, rel=1e-5)


def test_adaptive_focal_gamma_choice_has_no_gradient(rng):
    import tensorflow as tf

    labels, logits = random_case(rng, (4, 4), 2, batch=1)
    z = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = AdaptiveFocalLoss(gamma=0.0, gamma_low=0.0)(labels, z)
    grad = tape.gradient(value, z).numpy()
    # gamma = 0 everywhere: the gradient of CE, softmax - onehot over the voxel count.
    probs = np.exp(log_softmax(logits))
    expected = (probs - one_hot(labels, 2)) / labels.size
    np.testing.assert_allclose(grad, expected, atol=1e-6)


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: FocalLoss(gamma=-1.0), "`gamma` must be a finite number >= 0.0; got -1.0"),
        (lambda: AdaptiveFocalLoss(gamma_low=-0.5), "`gamma_low` must be"),
        (
            lambda: AdaptiveFocalLoss(threshold=1.5),
            r"`threshold` must be a finite number in \(0, 1\)",
        ),
        (
            lambda: AdaptiveFocalLoss(threshold=0.0),
            r"`threshold` must be a finite number in \(0, 1\)",
        ),
    ],
)
def test_focal_bad_hyperparameters(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: FocalLoss(gamma="3"), "`gamma` must be a finite number >= 0.0; got '3'"),
        (lambda: FocalLoss(ignore_class=1.5), "`ignore_class` must be None or an int; got 1.5"),
    ],
)
def test_focal_hyperparameters_of_another_type(factory, match):
    with pytest.raises(TypeError, match=match):
        factory()
