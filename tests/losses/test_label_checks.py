"""Every loss refuses labels outside [0, n_classes) naming `y_true` and the value (issue 14)."""

import numpy as np
import pytest
import tensorflow as tf

from speccal.losses import LOSS_NAMES, CESpectral, NACLLoss, get_loss

# "ce" is Keras' own SparseCategoricalCrossentropy: its CPU kernel names the value itself
# ("Received a label value of 3 which is outside the valid range of [0, 3)").
SPECCAL_LOSSES = [name for name in LOSS_NAMES if name != "ce"]


def _batch(bad_value, dtype="int32"):
    logits = np.random.default_rng(0).normal(size=(1, 6, 6, 6, 3)).astype("float32")
    labels = np.zeros((1, 6, 6, 6), dtype)
    labels[0, 1, 2, 3] = bad_value
    return labels, logits


@pytest.mark.parametrize("name", SPECCAL_LOSSES)
@pytest.mark.parametrize("bad", [3, -1, 7])
def test_label_out_of_range_names_y_true_and_the_value(name, bad):
    labels, logits = _batch(bad)
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=rf"`y_true` must hold integer labels in \[0, 3\); got {bad}(\.0)?\.",
    ):
        get_loss(name)(labels, logits)


def test_keras_cross_entropy_names_the_value_itself():
    labels, logits = _batch(3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label value of 3 .* \[0, 3\)"):
        get_loss("ce")(labels, logits)


@pytest.mark.parametrize("loss", [CESpectral, NACLLoss])
def test_label_check_in_a_graph_names_the_value(loss):
    labels, logits = _batch(5)
    instance = loss()
    step = tf.function(lambda y, z: instance(y, z))
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"assertion failed: \[`y_true` must hold integer labels in \[0, 3\); got\] \[5\]",
    ):
        step(labels, logits)
    good = np.zeros_like(labels)
    assert np.isfinite(float(step(good, logits)))


@pytest.mark.parametrize("name", ["cespectral", "nacl"])
def test_ignore_class_outside_the_range_passes(name):
    labels, logits = _batch(255)
    value = float(get_loss(name, ignore_class=255)(labels, logits))
    assert np.isfinite(value)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"or ignore_class=255; got 4"):
        get_loss(name, ignore_class=255)(np.where(labels == 255, 4, labels), logits)


def test_non_integer_float_label_is_named():
    labels, logits = _batch(0.5, dtype="float32")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"got 0\.5\."):
        CESpectral()(labels, logits)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"got 0\.5\."):
        NACLLoss()(labels, logits)


def test_failed_label_check_leaves_the_spectral_buffer_untouched():
    labels, logits = _batch(9)
    loss = CESpectral(window=2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="got 9"):
        loss(labels, logits)
    assert int(loss.regularizer.step) == 0
