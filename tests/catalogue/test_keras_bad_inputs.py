"""Bad-input catalogue, TensorFlow side (issue 14): losses, spectral ops, models."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from speccal import spectral  # noqa: E402
from speccal.losses import LOSS_NAMES, CESpectral, SpectralEntropyRegularizer, get_loss  # noqa: E402
from speccal.models import get_model, unet3d  # noqa: E402

Z = np.zeros((1, 8, 8, 8, 3), "float32")
Y = np.zeros((1, 8, 8, 8), "int32")


def _labels(value):
    labels = Y.copy()
    labels[0, 1, 2, 3] = value
    return labels


CASES = {
    "get_loss-unknown-name": (
        lambda: get_loss("dice"),
        ValueError,
        r"`name` must be one of \('ce', 'cespectral', .*\); got 'dice'\.",
    ),
    "get_loss-unknown-param": (
        lambda: get_loss("focal", alpha=1),
        ValueError,
        r"`params` must be arguments of the 'focal' loss, .*; got unknown \['alpha'\]\.",
    ),
    "cespectral-negative-lam": (
        lambda: CESpectral(lam=-1),
        ValueError,
        r"`lam` must be a finite number >= 0; got -1\.",
    ),
    "cespectral-warmup": (
        lambda: CESpectral(warmup="linear"),
        ValueError,
        r"`warmup` must be one of \('replicate', 'partial'\); got 'linear'\.",
    ),
    "cespectral-eps-zero": (
        lambda: CESpectral(eps=0),
        ValueError,
        r"`eps` must be a finite number > 0; got 0\.",
    ),
    "cespectral-ignore_class-float": (
        lambda: CESpectral(ignore_class=1.5),
        TypeError,
        r"`ignore_class` must be None or an int; got 1.5\.",
    ),
    "regularizer-window-zero": (
        lambda: SpectralEntropyRegularizer(window=0),
        ValueError,
        r"`window` must be an int >= 1; got 0\.",
    ),
    "cespectral-label-shape": (
        lambda: CESpectral()(Y[:, :4], Z),
        ValueError,
        r"`y_true` must have shape \(batch, \*spatial\) = \(1, 8, 8, 8\) to match `y_pred` "
        r"of shape \(1, 8, 8, 8, 3\); got shape \(1, 4, 8, 8\)\.",
    ),
    "cespectral-nan-logits": (
        lambda: CESpectral()(Y, Z * np.nan),
        tf.errors.InvalidArgumentError,
        r"`logits` must be finite; got NaN or Inf values",
    ),
    "focal-negative-gamma": (
        lambda: get_loss("focal", gamma=-1),
        ValueError,
        r"`gamma` must be a finite number >= 0.0; got -1\.",
    ),
    "mbls-negative-margin": (
        lambda: get_loss("mbls", margin=-1),
        ValueError,
        r"`margin` must be a finite number >= 0.0; got -1\.",
    ),
    "svls-even-kernel": (
        lambda: get_loss("svls", kernel_size=4),
        ValueError,
        r"`kernel_size` must be an odd int >= 3; got 4\.",
    ),
    "nacl-distance": (
        lambda: get_loss("nacl", distance_type="l3"),
        ValueError,
        r"`distance_type` must be one of \('l1', 'l2'\); got 'l3'\.",
    ),
    "meep-negative-lam": (
        lambda: get_loss("meep", lam=-1),
        ValueError,
        r"`lam` must be a finite number >= 0.0; got -1\.",
    ),
    "nacl-nan-logits": (
        lambda: get_loss("nacl")(Y, Z * np.nan),
        tf.errors.InvalidArgumentError,
        r"`y_pred` must be finite logits; got NaN or inf\.",
    ),
    "band_powers-integer-logits": (
        lambda: spectral.band_powers(np.zeros((1, 8, 8, 8, 2), "int32")),
        TypeError,
        r"`logits` must be a floating-point tensor; got dtype int32\.",
    ),
    "band_powers-no-batch-axis": (
        lambda: spectral.band_powers(np.zeros((8, 8, 2), "float32")),
        ValueError,
        r"`logits` must have shape \(batch, \*spatial, n_classes\) with 2 or 3 spatial axes; "
        r"got shape \(8, 8, 2\)\.",
    ),
    "band_powers-zero-bands": (
        lambda: spectral.band_powers(Z, bands=0),
        ValueError,
        r"`bands` must be an int >= 1; got 0\.",
    ),
    "model-unknown": (
        lambda: get_model("vnet", in_channels=1, n_classes=2),
        ValueError,
        r"`model` must be one of unet3d, attention_unet3d, unet_pp3d, unet2d; got 'vnet'\.",
    ),
    "model-base-filters-zero": (
        lambda: unet3d(1, 2, base_filters=0),
        ValueError,
        r"`base_filters` must be an int >= 1; got 0\.",
    ),
    "model-one-class": (
        lambda: unet3d(1, 1),
        ValueError,
        r"`n_classes` must be an int >= 2; got 1\.",
    ),
    "model-normalization": (
        lambda: unet3d(1, 2, normalization="layer"),
        ValueError,
        r"`normalization` must be one of \('instance', 'batch', None\); got 'layer'\.",
    ),
    "model-patch-not-poolable": (
        lambda: unet3d(1, 2, patch_size=(15, 16, 16)),
        ValueError,
        r"`patch_size` must be a multiple of 2\*\*\(depth-1\) = 4 along every axis for "
        r"depth=3; got \(15, 16, 16\)\.",
    ),
}
# every speccal loss names `y_true` and the offending label ("ce" is Keras' own)
for name in LOSS_NAMES:
    if name != "ce":
        CASES[f"{name}-label-out-of-range"] = (
            lambda name=name: get_loss(name)(_labels(3), Z),
            tf.errors.InvalidArgumentError,
            r"`y_true` must hold integer labels in \[0, 3\); got 3(\.0)?\.",
        )


@pytest.mark.parametrize(("thunk", "error", "match"), CASES.values(), ids=list(CASES))
def test_bad_input_gets_a_clear_error(thunk, error, match):
    with pytest.raises(error, match=match):
        thunk()


def test_rank_four_logits_are_a_batch_of_2d_maps():
    """Documented outcome: ``(8, 8, 8, 3)`` logits are eight 8x8 maps, not one 3-D map."""
    labels = np.random.default_rng(0).integers(0, 3, size=(8, 8, 8))
    logits = np.random.default_rng(1).normal(size=(8, 8, 8, 3)).astype("float32")
    flat = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    got = CESpectral(lam=0.0)(labels, logits)
    np.testing.assert_allclose(float(got), float(flat), rtol=1e-6)
