"""Behaviour shared by every baseline loss: ignore_class, config, save/load, training."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf
from _baseline_numpy import random_case

from speccal.losses import (
    AdaptiveFocalLoss,
    ConfidencePenaltyLoss,
    CRaCLoss,
    FocalLoss,
    LabelSmoothingLoss,
    MarginLabelSmoothingLoss,
    MEEPLoss,
    NACLLoss,
    SpatiallyVaryingLabelSmoothingLoss,
)

# Non-default hyperparameters, so the round trips have something to carry.
LOSSES = [
    lambda **kw: FocalLoss(gamma=2.0, **kw),
    lambda **kw: AdaptiveFocalLoss(gamma=2.0, gamma_low=4.0, threshold=0.3, **kw),
    lambda **kw: LabelSmoothingLoss(alpha=0.2, **kw),
    lambda **kw: MarginLabelSmoothingLoss(lam=0.2, margin=2.0, **kw),
    lambda **kw: SpatiallyVaryingLabelSmoothingLoss(sigma=1.0, **kw),
    lambda **kw: NACLLoss(lam=0.2, kernel_size=5, distance_type="l2", **kw),
    lambda **kw: CRaCLoss(margin=3.0, multipliers=[[0.5, 1, 2], [3, 0.1, 1]], **kw),
    lambda **kw: ConfidencePenaltyLoss(beta=0.3, **kw),
    lambda **kw: MEEPLoss(lam=0.5, **kw),
]
IDS = ["focal", "flsd", "ls", "mbls", "svls", "nacl", "crac", "cpenalty", "meep"]


@pytest.mark.parametrize("make", LOSSES, ids=IDS)
@pytest.mark.parametrize("spatial", [(5, 7), (5, 6, 7)])
def test_ignored_voxels_change_nothing(rng, make, spatial):
    labels, logits = random_case(rng, spatial, 3)
    labels = labels.copy()
    labels[0, :2] = 255
    ignored = labels == 255
    loss = make(ignore_class=255)
    other = np.where(ignored[..., None], rng.normal(size=logits.shape) * 10, logits)
    z = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = loss(labels, z)
    assert np.isfinite(float(value))
    assert float(loss(labels, other.astype(np.float32))) == pytest.approx(float(value), rel=1e-6)
    grad = tape.gradient(value, z).numpy()
    assert np.all(grad[ignored] == 0.0) and np.any(grad[~ignored] != 0.0)
    everything_ignored = np.full_like(labels, 255)
    assert float(loss(everything_ignored, logits)) == 0.0


@pytest.mark.parametrize("make", LOSSES, ids=IDS)
@pytest.mark.parametrize("spatial", [(5, 7), (5, 6, 7)])
def test_per_sample_weights_reach_every_voxel(rng, make, spatial):
    labels, logits = random_case(rng, spatial, 3)
    loss = make()
    weights = np.array([2.0, 0.5], np.float32)
    voxel_weights = np.broadcast_to(weights.reshape(2, *[1] * len(spatial)), labels.shape)
    want = float(loss(labels, logits, sample_weight=voxel_weights))
    assert float(loss(labels, logits, sample_weight=weights)) == pytest.approx(want, rel=1e-6)
    unweighted = make(reduction=None)(labels, logits).numpy()
    assert want == pytest.approx(np.mean(unweighted * voxel_weights), rel=1e-5)


@pytest.mark.parametrize("make", LOSSES, ids=IDS)
def test_mean_with_sample_weight_averages_over_valid_voxels(rng, make):
    labels, logits = random_case(rng, (5, 6, 7), 3)
    labels = labels.copy()
    labels[0, :2] = 255
    valid = labels != 255
    voxel = make(ignore_class=255, reduction=None)(labels, logits).numpy()
    loss = make(ignore_class=255, reduction="mean_with_sample_weight")
    assert float(loss(labels, logits)) == pytest.approx(voxel[valid].mean(), rel=1e-5)
    weights = np.array([2.0, 0.5], np.float32)
    voxel_weights = np.broadcast_to(weights[:, None, None, None], labels.shape)
    want = (voxel * voxel_weights)[valid].sum() / voxel_weights[valid].sum()
    got = float(loss(labels[..., None], logits, sample_weight=weights))
    assert got == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("make", LOSSES, ids=IDS)
def test_config_round_trip(rng, make):
    loss = make(ignore_class=7, name="custom")
    config = loss.get_config()
    assert config["ignore_class"] == 7 and config["name"] == "custom"
    clone = type(loss).from_config(config)
    assert clone.get_config() == config
    labels, logits = random_case(rng, (5, 6, 7), 3)
    assert float(clone(labels, logits)) == pytest.approx(float(loss(labels, logits)), rel=1e-6)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is type(loss) and restored.get_config() == config


def _tiny_unet3d(n_classes=3):
    inputs = keras.Input((6, 5, 7, 1))
    hidden = keras.layers.Conv3D(4, 3, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Conv3D(n_classes, 1)(hidden))


@pytest.mark.parametrize("make", LOSSES, ids=IDS)
def test_trains_tiny_3d_model_and_survives_save_load(rng, tmp_path, make):
    x = rng.normal(size=(4, 6, 5, 7, 1)).astype(np.float32)
    y = np.digitize(x[..., 0], [-0.4, 0.4]).astype(np.int32)
    keras.utils.set_random_seed(0)
    model = _tiny_unet3d()
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=make())
    history = model.fit(x, y, batch_size=2, epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert restored.loss.get_config() == model.loss.get_config()
    np.testing.assert_allclose(restored.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0))


def test_float16_logits_are_computed_in_float32(rng):
    labels, logits = random_case(rng, (5, 6, 7), 3)
    loss = MarginLabelSmoothingLoss()
    value = loss(labels, tf.constant(logits, tf.float16))
    assert value.dtype == tf.float32
    expected = float(loss(labels, logits.astype(np.float16).astype(np.float32)))
    assert float(value) == pytest.approx(expected, rel=1e-6)


def test_labels_with_trailing_channel_axis(rng):
    labels, logits = random_case(rng, (5, 7), 3)
    loss = NACLLoss()
    assert float(loss(labels[..., None], logits)) == pytest.approx(float(loss(labels, logits)))


@pytest.mark.parametrize(
    ("labels_shape", "logits_shape", "match"),
    [
        ((2, 5, 7), (2, 5, 8, 3), r"`y_true` must be .* got y_true \(2, 5, 7\) and y_pred"),
        ((2, 5), (2, 5, 3), r"`y_pred` must be logits .* got shape \(2, 5, 3\)"),
        ((2, 5, 7), (2, 5, 7, 1), "`y_pred` must have a known class axis >= 2; got 1"),
    ],
)
def test_bad_shapes(labels_shape, logits_shape, match):
    with pytest.raises(ValueError, match=match):
        FocalLoss()(np.zeros(labels_shape, np.int32), np.zeros(logits_shape, np.float32))


@pytest.mark.parametrize("bad", [3, -1, 1.5])
def test_labels_out_of_range(rng, bad):
    labels, logits = random_case(rng, (5, 7), 3)
    labels = labels.astype(np.float32)
    labels[0, 0, 0] = bad
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"integer labels in \[0, 3\)"):
        SpatiallyVaryingLabelSmoothingLoss()(labels, logits)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_logits(rng, bad):
    labels, logits = random_case(rng, (5, 7), 3)
    logits[1, 2, 3, 0] = bad
    with pytest.raises(tf.errors.InvalidArgumentError, match="`y_pred` must be finite logits"):
        MEEPLoss()(labels, logits)


@pytest.mark.parametrize("make", LOSSES, ids=IDS)
def test_signature_names_the_shared_options_and_unknown_ones_are_refused(make):
    loss = make()
    cls = type(loss)
    parameters = inspect.signature(cls).parameters
    shared = [p for p in parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert [(p.name, p.default) for p in shared] == [
        ("ignore_class", None),
        ("reduction", "sum_over_batch_size"),
        ("name", loss.name),
        ("dtype", None),
    ]
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    config = loss.get_config()
    own = [name for name in parameters if name not in ("ignore_class", "reduction", "dtype")]
    assert set(own) <= set(config)  # get_config holds every argument
    with pytest.raises(
        TypeError,
        match=rf"^{cls.__name__}\(\) got an unexpected keyword argument 'gama'; its parameters "
        rf"are {', '.join(parameters)}\.$",
    ):
        make(gama=2.0)
