import numpy as np
import pytest

keras = pytest.importorskip("keras")

from speccal.inference import (  # noqa: E402
    importance_map,
    sliding_window_predict,
    window_starts,
)
from speccal.models import unet3d  # noqa: E402


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class ConstantModel:
    """Returns the same logits everywhere, whatever the input."""

    def __init__(self, logits):
        self.logits = np.asarray(logits, np.float32)

    def __call__(self, batch):
        return np.broadcast_to(self.logits, (*batch.shape[:-1], len(self.logits))).copy()


class LinearModel:
    """Voxel-wise logits [x, -x] of the first channel: translation equivariant."""

    def __call__(self, batch):
        x = batch[..., :1]
        return np.concatenate([x, -x], axis=-1)


@pytest.fixture(scope="module")
def tiny_unet():
    keras.utils.set_random_seed(0)
    return unet3d(2, 3, base_filters=2, depth=2)


def test_one_patch_volume_equals_direct_prediction(tiny_unet, rng):
    volume = rng.normal(size=(8, 12, 6, 2)).astype(np.float32)
    direct = tiny_unet.predict(volume[None], verbose=0)[0]
    for mode in ("gaussian", "constant"):
        logits = sliding_window_predict(
            tiny_unet, volume, (8, 12, 6), mode=mode, return_logits=True
        )
        np.testing.assert_allclose(logits, direct, rtol=1e-5, atol=1e-5)
        probs = sliding_window_predict(tiny_unet, volume, (8, 12, 6), mode=mode)
        np.testing.assert_allclose(probs, _softmax(direct), atol=1e-6)


@pytest.mark.parametrize("mode", ["gaussian", "constant"])
def test_seams_of_a_constant_model_are_exact(mode):
    logits = np.array([0.5, -1.0, 2.0], np.float32)
    probs = sliding_window_predict(
        ConstantModel(logits), np.zeros((21, 13, 10, 1)), (8, 8, 8), overlap=0.5, mode=mode
    )
    assert probs.shape == (21, 13, 10, 3)
    np.testing.assert_allclose(probs, np.broadcast_to(_softmax(logits), probs.shape), atol=1e-6)


@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5, 0.75])
def test_voxelwise_model_is_reproduced_across_windows(rng, overlap):
    volume = rng.normal(size=(19, 11, 14, 1)).astype(np.float32)
    logits = sliding_window_predict(
        LinearModel(), volume, (8, 6, 8), overlap=overlap, batch_size=3, return_logits=True
    )
    expected = np.concatenate([volume, -volume], axis=-1)
    np.testing.assert_allclose(logits, expected, atol=1e-5)


def test_volume_smaller_than_patch_is_padded_and_cropped(tiny_unet, rng):
    volume = rng.normal(size=(5, 9, 3, 2)).astype(np.float32)
    probs = sliding_window_predict(tiny_unet, volume, (8, 12, 4), progress=True)
    assert probs.shape == (5, 9, 3, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    padded = np.zeros((8, 12, 4, 2), np.float32)
    padded[1:6, 1:10, 0:3] = volume
    direct = tiny_unet.predict(padded[None], verbose=0)[0, 1:6, 1:10, 0:3]
    np.testing.assert_allclose(probs, _softmax(direct), atol=1e-5)


def test_window_starts_cover_the_axis():
    assert window_starts(10, 4, 0.5) == [0, 2, 4, 6]
    assert window_starts(16, 16, 0.5) == [0]
    assert window_starts(17, 16, 0.5) == [0, 1]
    assert window_starts(20, 8, 0.0) == [0, 6, 12]


def test_gaussian_importance_map_peaks_at_the_centre():
    w = importance_map((9, 5, 7))
    assert w.shape == (9, 5, 7)
    assert w[4, 2, 3] == pytest.approx(1.0)
    assert w.min() > 0
    u = (np.arange(9) - 4) / (0.125 * 9)
    np.testing.assert_allclose(w[:, 2, 3], np.exp(-(u**2) / 2) / 1.0, rtol=1e-5, atol=w.min())
    np.testing.assert_array_equal(importance_map((3, 4), "constant"), np.ones((3, 4)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"overlap": 1.0}, r"`overlap` must be in \[0, 1\); got 1\.0\."),
        ({"mode": "mean"}, r"`mode` must be one of \('gaussian', 'constant'\); got 'mean'\."),
        ({"batch_size": 0}, r"`batch_size` must be an int >= 1; got 0\."),
        ({"patch_size": (8, 8)}, r"`patch_size` must hold 3 positive ints"),
    ],
)
def test_bad_arguments(kwargs, match):
    params = {"patch_size": (8, 8, 8), **kwargs}
    with pytest.raises(ValueError, match=match):
        sliding_window_predict(LinearModel(), np.zeros((8, 8, 8, 1)), **params)


def test_non_finite_volume_is_rejected():
    volume = np.zeros((8, 8, 8, 1))
    volume[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="`volume` must hold finite values"):
        sliding_window_predict(LinearModel(), volume, (8, 8, 8))
