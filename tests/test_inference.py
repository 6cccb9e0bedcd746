import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import special

keras = pytest.importorskip("keras")

from speccal.inference import (  # noqa: E402
    importance_map,
    sliding_window_predict,
    window_corners,
    window_starts,
)
from speccal.models import unet2d, unet3d  # noqa: E402


def reference_predict(model, volume, patch_size, overlap=0.5, mode="gaussian", batch_size=2):
    """speccal 0.1's host-side sliding window (numpy blending), the reference (logits)."""
    volume = np.asarray(volume, np.float32)
    spatial = volume.shape[:-1]
    pad = [
        (max(0, p - s) // 2, max(0, p - s) - max(0, p - s) // 2)
        for s, p in zip(spatial, patch_size, strict=True)
    ]
    padded = np.pad(volume, [*pad, (0, 0)])
    starts = [
        window_starts(s, p, overlap) for s, p in zip(padded.shape[:-1], patch_size, strict=True)
    ]
    corners = list(np.stack(np.meshgrid(*starts, indexing="ij"), -1).reshape(-1, len(spatial)))
    weights = importance_map(patch_size, mode)[..., None]
    logits = None
    norm = np.zeros((*padded.shape[:-1], 1), dtype=np.float32)
    for first in range(0, len(corners), batch_size):
        chunk = corners[first : first + batch_size]
        slices = [
            tuple(slice(c, c + p) for c, p in zip(corner, patch_size, strict=True))
            for corner in chunk
        ]
        batch = np.stack([padded[s] for s in slices])
        if len(batch) < batch_size:
            fill = np.zeros((batch_size - len(batch), *batch.shape[1:]), dtype=np.float32)
            batch = np.concatenate([batch, fill])
        out = np.asarray(model(batch)).astype(np.float32)
        if logits is None:
            logits = np.zeros((*padded.shape[:-1], out.shape[-1]), dtype=np.float32)
        for s, patch_logits in zip(slices, out, strict=False):
            logits[s] += weights * patch_logits
            norm[s] += weights
    logits /= norm
    crop = tuple(slice(lo, lo + s) for (lo, _), s in zip(pad, spatial, strict=True))
    return logits[crop]


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class ConstantModel:
    """Returns the same logits everywhere, whatever the input."""

    def __init__(self, logits):
        self.logits = np.asarray(logits, np.float32)

    def __call__(self, batch):
        zero = keras.ops.zeros_like(batch[..., :1])
        return zero + keras.ops.convert_to_tensor(self.logits)


class LinearModel:
    """Voxel-wise logits [x, -x] of the first channel: translation equivariant."""

    def __call__(self, batch):
        x = batch[..., :1]
        return keras.ops.concatenate([x, -x], axis=-1)


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


@pytest.mark.parametrize(
    ("shape", "patch", "overlap", "batch_size"),
    [
        ((19, 11, 14, 2), (8, 6, 8), 0.5, 2),  # odd shapes, 3-D
        ((13, 17, 9, 2), (8, 8, 8), 0.25, 3),  # last batch padded
        ((5, 9, 3, 2), (8, 12, 4), 0.5, 2),  # smaller than a window on every axis
    ],
)
def test_device_blending_equals_the_numpy_reference_3d(
    tiny_unet, rng, shape, patch, overlap, batch_size
):
    volume = rng.normal(size=shape).astype(np.float32)
    expected = reference_predict(tiny_unet, volume, patch, overlap, "gaussian", batch_size)
    logits = sliding_window_predict(
        tiny_unet, volume, patch, overlap, "gaussian", batch_size, return_logits=True
    )
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    probs = sliding_window_predict(tiny_unet, volume, patch, overlap, "gaussian", batch_size)
    np.testing.assert_allclose(probs, special.softmax(expected, -1), atol=1e-5)


def test_device_blending_equals_the_numpy_reference_2d(rng):
    keras.utils.set_random_seed(1)
    model = unet2d(1, 4, base_filters=2, depth=2)
    for shape in ((23, 17, 1), (6, 30, 1)):
        volume = rng.normal(size=shape).astype(np.float32)
        expected = reference_predict(model, volume, (8, 12), 0.5, "gaussian", 2)
        logits = sliding_window_predict(model, volume, (8, 12), return_logits=True)
        np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)


def test_constant_model_equals_the_reference_exactly():
    """Every window adds the same value with weight 1: any window order gives the same sum."""
    model = ConstantModel([0.3, -1.7, 2.1])
    volume = np.zeros((21, 13, 10, 1), np.float32)
    expected = reference_predict(model, volume, (8, 6, 8), 0.5, "constant", 2)
    logits = sliding_window_predict(model, volume, (8, 6, 8), mode="constant", return_logits=True)
    np.testing.assert_array_equal(logits, expected)
    gaussian = sliding_window_predict(model, volume, (8, 6, 8), return_logits=True)
    np.testing.assert_allclose(gaussian, np.broadcast_to(model.logits, gaussian.shape), atol=1e-6)


@pytest.mark.parametrize("slab_depth", [8, 11, 16])
def test_slabs_equal_the_whole_volume_bit_for_bit(tiny_unet, rng, slab_depth):
    volume = rng.normal(size=(10, 9, 29, 2)).astype(np.float32)
    whole = sliding_window_predict(tiny_unet, volume, (8, 8, 8), return_logits=True)
    slabbed = sliding_window_predict(
        tiny_unet, volume, (8, 8, 8), return_logits=True, slab_depth=slab_depth
    )
    np.testing.assert_array_equal(slabbed, whole)
    # the softmax is TensorFlow's, vectorised by tensor shape: its last bit may differ
    np.testing.assert_allclose(
        sliding_window_predict(tiny_unet, volume, (8, 8, 8), slab_depth=slab_depth),
        sliding_window_predict(tiny_unet, volume, (8, 8, 8)),
        rtol=0,
        atol=2e-7,
    )


def test_slab_depth_below_the_patch_is_refused():
    with pytest.raises(ValueError, match=r"`slab_depth` must be None or an int >= the patch's "):
        sliding_window_predict(LinearModel(), np.zeros((8, 8, 8, 1)), (8, 8, 8), slab_depth=7)


def test_window_corners_put_the_last_axis_outermost():
    corners = window_corners((10, 6), (4, 4), 0.5)
    assert corners[:, 1].tolist() == [0] * 4 + [2] * 4
    assert corners[:4, 0].tolist() == window_starts(10, 4, 0.5)


MIRRORED = """
import sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
sys.path.insert(0, sys.argv[1])
from test_inference import reference_predict
from speccal.inference import sliding_window_predict
from speccal.models import unet3d
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
keras.utils.set_random_seed(0)
with strategy.scope():
    model = unet3d(2, 3, base_filters=2, depth=2)
volume = np.random.default_rng(0).normal(size=(17, 11, 13, 2)).astype(np.float32)
logits = sliding_window_predict(model, volume, (8, 8, 8), batch_size=1, return_logits=True)
expected = reference_predict(model, volume, (8, 8, 8), batch_size=1)
print(model.distribute_strategy.num_replicas_in_sync, float(np.abs(logits - expected).max()))
"""


def test_two_logical_cpu_replicas_equal_the_reference(tmp_path):
    """Windows split over two replicas of a MirroredStrategy (own interpreter: the logical
    devices must be set before TensorFlow starts)."""
    done = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    replicas, error = done.stdout.split()[-2:]
    assert replicas == "2"
    assert float(error) < 1e-5


def test_windows_reach_the_model_with_a_static_shape(tiny_unet):
    # the compiled step takes slabs of any size; the windows cut from them must still have a
    # fully known shape, or TensorFlow's CPU graph of the model runs ~1.4x slower (issue 20)
    import tensorflow as tf

    from speccal.inference import _blender

    blender = _blender(
        tiny_unet, (8, 8, 8), importance_map((8, 8, 8)), 2, None, 2, ("gaussian", 0.125)
    )
    shapes = []

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, None, None, None), tf.float32),
            tf.TensorSpec((2, 3), tf.int32),
        ]
    )
    def cut(image, corners):
        windows = blender._cut(image, corners, 2)
        shapes.append(windows.shape.as_list())
        return windows

    cut(tf.zeros((12, 10, 9, 2)), tf.constant([[0, 0, 0], [4, 2, 1]]))
    assert shapes == [[2, 8, 8, 8, 2]]


def test_host_weight_sums_equal_a_device_scatter_add_bit_for_bit():
    # the weights are summed on the host (one scatter-add per window less on the device);
    # in window order, float32, they must be the sums the device's scatter-add gave
    import tensorflow as tf

    from speccal.inference import _weight_sums

    shape, patch = (13, 11, 10), (6, 5, 4)
    weights = importance_map(patch)
    corners = window_corners(shape, patch, 0.6)
    sums = tf.Variable(tf.zeros((*shape, 1)))
    offsets = np.indices(patch).reshape(3, -1).T.astype(np.int32)
    for corner in corners:
        sums.scatter_nd_add(offsets + corner, weights.reshape(-1, 1))
    host = _weight_sums(shape, corners, weights)
    assert host.dtype == np.float32
    np.testing.assert_array_equal(host, sums.numpy())
    assert len(np.unique(host)) > 10  # overlaps of different depth, not a constant
