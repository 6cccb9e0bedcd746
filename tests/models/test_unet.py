import numpy as np
import pytest

keras = pytest.importorskip("keras")

from speccal.models import (  # noqa: E402
    MODEL_NAMES,
    attention_unet3d,
    get_model,
    unet2d,
    unet3d,
    unet_pp3d,
)

BUILDERS_3D = [unet3d, attention_unet3d, unet_pp3d]


@pytest.mark.parametrize("builder", BUILDERS_3D)
def test_3d_models_build_for_non_cubic_sizes_the_depth_allows(builder):
    model = builder(2, 3, base_filters=4, depth=3, patch_size=(12, 20, 28))
    assert model.input_shape == (None, 12, 20, 28, 2)
    assert model.output_shape == (None, 12, 20, 28, 3)
    out = model.predict(np.zeros((1, 12, 20, 28, 2), np.float32), verbose=0)
    assert out.shape == (1, 12, 20, 28, 3)
    assert out.dtype == np.float32


@pytest.mark.parametrize("builder", BUILDERS_3D)
def test_depth_one_accepts_odd_sizes(builder):
    model = builder(1, 2, base_filters=2, depth=1, patch_size=(7, 9, 5))
    assert model.output_shape == (None, 7, 9, 5, 2)


@pytest.mark.parametrize("builder", BUILDERS_3D)
def test_sizes_the_depth_cannot_pool_are_rejected(builder):
    with pytest.raises(
        ValueError, match=r"`patch_size` must be a multiple of 2\*\*\(depth-1\) = 4"
    ):
        builder(1, 2, depth=3, patch_size=(16, 18, 16))


def test_fully_convolutional_model_accepts_any_allowed_size():
    model = unet3d(1, 2, base_filters=2, depth=2)
    assert model.output_shape == (None, None, None, None, 2)
    out = model.predict(np.zeros((1, 6, 10, 4, 1), np.float32), verbose=0)
    assert out.shape == (1, 6, 10, 4, 2)


def test_unet2d_shapes_and_wrong_rank():
    assert unet2d(1, 4, depth=2, patch_size=(10, 6)).output_shape == (None, 10, 6, 4)
    with pytest.raises(ValueError, match="`patch_size` must have 2 entries for a 2D network"):
        unet2d(1, 4, patch_size=(8, 8, 8))


def test_paper_size_is_an_option():
    model = unet3d(4, 4, base_filters=32, depth=5, patch_size=(96, 96, 96))
    assert model.get_layer("enc4_conv1").filters == 512
    assert model.output_shape == (None, 96, 96, 96, 4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"in_channels": 0}, r"`in_channels` must be an int >= 1; got 0\."),
        ({"n_classes": 1}, r"`n_classes` must be an int >= 2; got 1\."),
        ({"depth": 0}, r"`depth` must be an int >= 1; got 0\."),
        ({"base_filters": 2.5}, r"`base_filters` must be an int >= 1; got 2\.5\."),
        ({"normalization": "layer"}, r"`normalization` must be one of .*; got 'layer'\."),
        ({"seed": 1.0}, r"`seed` must be None or an int >= 0; got 1\.0\."),
    ],
)
def test_bad_hyperparameters(kwargs, match):
    params = {"in_channels": 1, "n_classes": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        unet3d(**params)


@pytest.mark.parametrize("builder", [*BUILDERS_3D, unet2d])
def test_a_seed_fixes_every_initial_weight_whatever_python_random_holds(builder):
    import random

    def weights(seed, state):
        random.seed(state)  # what other threads' draws would do to Keras' unseeded draws
        model = builder(1, 3, base_filters=2, depth=2, seed=seed)
        return [np.asarray(w) for w in model.get_weights()]

    first, again, other = weights(7, 0), weights(7, 1), weights(8, 0)
    random_kernels = [i for i, w in enumerate(first) if w.std() > 0]  # not biases or norms
    assert len(random_kernels) >= 5
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(not np.array_equal(first[i], other[i]) for i in random_kernels)
    # without a seed, Keras draws the seeds from Python's random: its state decides
    unseeded = weights(None, 0), weights(None, 1)
    assert not np.array_equal(unseeded[0][random_kernels[0]], unseeded[1][random_kernels[0]])


def test_registry_builds_every_model_and_rejects_unknown_names():
    assert set(MODEL_NAMES) == {"unet3d", "attention_unet3d", "unet_pp3d", "unet2d"}
    assert get_model("unet_pp3d", 1, 2, depth=2, patch_size=(8, 8, 8)).name == "unet_pp3d"
    with pytest.raises(ValueError, match="`model` must be one of unet3d, .*; got 'vnet'"):
        get_model("vnet", 1, 2)


def test_model_trains_and_round_trips_through_save(tmp_path):
    model = attention_unet3d(1, 2, base_filters=2, depth=2, patch_size=(8, 8, 8))
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(True))
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 8, 1)).astype(np.float32)
    y = (x[..., 0] > 0).astype(np.int32)
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )


# -- issue 14: one value check per architecture --
def _outputs(model, names, x):
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    return [np.asarray(v) for v in probe(x)]


def _input(shape, channels=1):
    return np.random.default_rng(0).normal(size=(1, *shape, channels)).astype(np.float32)


@pytest.mark.parametrize(
    ("builder", "shape", "concat", "skip", "up"),
    [
        (unet3d, (4, 4, 4), "dec0_concat", "enc0_act2", "dec0_up"),
        (unet2d, (4, 4), "dec0_concat", "enc0_act2", "dec0_up"),
        (unet_pp3d, (4, 4, 4), "x01_concat", "enc0_act2", "x01_up"),
        (attention_unet3d, (4, 4, 4), "dec0_concat", "dec0_att_gate", "dec0_up"),
    ],
    ids=["unet3d", "unet2d", "unet_pp3d", "attention_unet3d"],
)
def test_skip_connection_carries_the_encoder_features(builder, shape, concat, skip, up):
    """The decoder sees [skip, upsampled]: the concatenation equals the two tensors, and
    silencing the skip's half of the next convolution changes the logits."""
    keras.utils.set_random_seed(0)
    model = builder(1, 3, base_filters=2, depth=2, patch_size=shape)
    x = _input(shape)
    joined, skipped, upsampled, logits = _outputs(model, [concat, skip, up, "logits"], x)
    np.testing.assert_array_equal(joined, np.concatenate([skipped, upsampled], axis=-1))
    conv = model.get_layer(concat.replace("concat", "conv1"))
    kernel, *rest = conv.get_weights()
    silenced = kernel.copy()
    silenced[..., : skipped.shape[-1], :] = 0.0
    conv.set_weights([silenced, *rest])
    assert np.abs(np.asarray(model(x)) - logits).max() > 1e-4


def test_attention_gate_scales_the_skip_and_a_closed_gate_changes_the_output():
    keras.utils.set_random_seed(0)
    model = attention_unet3d(1, 3, base_filters=2, depth=2, patch_size=(4, 4, 4))
    x = _input((4, 4, 4))
    skip, psi, gated, logits = _outputs(
        model, ["enc0_act2", "dec0_att_psi", "dec0_att_gate", "logits"], x
    )
    np.testing.assert_allclose(gated, skip * psi, rtol=1e-6)
    assert 0.0 < psi.min() and psi.max() < 1.0
    layer = model.get_layer("dec0_att_psi")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.full_like(bias, -50.0)])  # gate closed
    closed = np.asarray(model(x))
    assert np.abs(closed - logits).max() > 1e-4
    assert np.abs(_outputs(model, ["dec0_att_gate"], x)[0]).max() < 1e-12


def test_unet_pp_nested_node_sees_every_earlier_node_of_its_level():
    keras.utils.set_random_seed(0)
    model = unet_pp3d(1, 2, base_filters=2, depth=3, patch_size=(4, 4, 4))
    x = _input((4, 4, 4))
    x00, x01, up, joined = _outputs(model, ["enc0_act2", "x01_act2", "x02_up", "x02_concat"], x)
    np.testing.assert_array_equal(joined, np.concatenate([x00, x01, up], axis=-1))
