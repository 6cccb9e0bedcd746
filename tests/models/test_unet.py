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
    ],
)
def test_bad_hyperparameters(kwargs, match):
    params = {"in_channels": 1, "n_classes": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        unet3d(**params)


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
