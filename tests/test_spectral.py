"""``speccal.spectral``'s ops against an independent numpy implementation
(``tests/spectral_reference.py``: full complex FFT, float radii)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from spectral_reference import (  # noqa: E402
    np_band_masks,
    np_band_powers,
    np_entropy,
    np_hamming,
    np_power_spectrum,
)

from speccal import spectral  # noqa: E402


@pytest.mark.parametrize("shape", [(2, 7, 8, 9, 3), (3, 5, 4, 2), (1, 6, 6, 6, 2), (2, 9, 7, 4)])
@pytest.mark.parametrize("bands", [1, 3, 7])
@pytest.mark.parametrize("include_dc,include_corners", [(False, False), (True, True)])
@pytest.mark.parametrize("taper", [None, "hamming"])
def test_band_powers_equal_full_spectrum_sums(
    rng, shape, bands, include_dc, include_corners, taper
):
    logits = rng.normal(size=shape).astype(np.float32)
    options = {"include_dc": include_dc, "include_corners": include_corners}
    got = spectral.band_powers(logits, bands, taper=taper, **options)
    want = np_band_powers(logits, bands, taper=taper, **options)
    assert got.dtype == tf.float32 and got.shape == (shape[0], bands)
    np.testing.assert_allclose(got.numpy(), want, rtol=2e-5, atol=1e-3)


@pytest.mark.parametrize("shape", [(2, 7, 8, 9, 3), (3, 6, 5, 2)])
def test_tapered_band_powers_equal_the_numpy_analysis_twin(rng, shape):
    from speccal import analysis

    logits = rng.normal(size=shape).astype(np.float32)
    got = spectral.band_powers(logits, 4, include_dc=True, taper="hamming").numpy()
    want = analysis.confidence_band_powers(
        analysis.confidence_map(logits), 4, include_dc=True, window="hamming"
    )
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-3)
    untapered = spectral.band_powers(logits, 4, include_dc=True).numpy()
    assert not np.allclose(got, untapered, rtol=1e-2)  # the window changes the powers


def test_only_the_taper_lets_the_entropy_see_boundary_confidence():
    """The issue's motivation, on the loss's own ops: a confident ball whose boundary shell has
    confidence alpha. Without a window (DC excluded) the band powers only scale with
    (1 - alpha)^2, so the entropy is the same for every alpha; with the Hamming taper it rises
    as the boundary gets less confident (paper Fig. 1)."""
    from speccal.analysis import boundary_confidence_experiment

    alphas = (0.9, 0.7, 0.5)
    maps = boundary_confidence_experiment(alphas, size=24, ndim=3, window=None).maps
    logits = tf.constant(maps[..., None].astype(np.float32))  # one class: the map is its max
    plain = spectral.spectral_entropy(spectral.band_powers(logits)).numpy()
    tapered = spectral.spectral_entropy(spectral.band_powers(logits, taper="hamming")).numpy()
    np.testing.assert_allclose(plain, plain[0], rtol=1e-4)
    assert np.all(np.diff(tapered) > 0.01)
    want = boundary_confidence_experiment(alphas, size=24, ndim=3, window="hamming")
    np.testing.assert_allclose(tapered, want.spectral_entropy, rtol=1e-4)


def test_power_spectrum_is_centred_full_spectrum(rng):
    conf = rng.normal(size=(2, 5, 6, 7)).astype(np.float32)
    got = spectral.power_spectrum(conf).numpy()
    np.testing.assert_allclose(got, np_power_spectrum(conf), rtol=1e-5, atol=1e-3)
    assert np.unravel_index(
        np.argmax(spectral.power_spectrum(np.ones((1, 5, 6))).numpy()), (1, 5, 6)
    ) == (0, 2, 3)


def test_confidence_map_is_float32_max_logit_also_from_float16(rng):
    logits = rng.normal(size=(2, 4, 5, 3)).astype(np.float16)
    conf = spectral.confidence_map(logits)
    assert conf.dtype == tf.float32
    np.testing.assert_array_equal(conf.numpy(), logits.max(-1).astype(np.float32))
    np.testing.assert_allclose(
        spectral.band_powers(logits, 3).numpy(),
        spectral.band_powers(logits.astype(np.float32), 3).numpy(),
        rtol=1e-6,
    )


@pytest.mark.parametrize("n_classes", [3, 17])
def test_confidence_map_gradient_splits_ties_like_reduce_max(rng, n_classes):
    logits = tf.constant(rng.integers(0, 3, size=(2, 4, 5, n_classes)).astype(np.float32))
    upstream = tf.constant(rng.normal(size=(2, 4, 5)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        ours = spectral.confidence_map(logits)
        theirs = tf.reduce_max(logits, axis=-1)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_allclose(
        tape.gradient(ours, logits, output_gradients=upstream).numpy(),
        tape.gradient(theirs, logits, output_gradients=upstream).numpy(),
        rtol=1e-6,
    )


def test_spectral_entropy_matches_eq_7_8(rng):
    powers = rng.uniform(0, 10, size=(4, 6)).astype(np.float32)
    powers[1] = 0.0
    np.testing.assert_allclose(
        spectral.spectral_entropy(powers).numpy(), np_entropy(powers), rtol=1e-5, atol=1e-7
    )
    assert spectral.spectral_entropy(np.zeros((1, 5), np.float32)).numpy()[0] == 0.0
    uniform = spectral.spectral_entropy(np.ones((5,), np.float32)).numpy()
    np.testing.assert_allclose(uniform, np.log(5), rtol=1e-5)


@pytest.mark.parametrize(
    "shape, options, ties",
    [
        ((2, 5, 6, 7, 3), {}, False),
        ((2, 7, 6, 3), {}, False),
        ((2, 6, 8, 4, 2), {}, False),  # even sizes: Nyquist entries stand for themselves
        ((1, 8, 8, 1), {}, False),  # one class
        ((2, 4, 5, 6, 18), {}, False),  # above 16 classes: no bit mask
        ((2, 6, 5, 7, 4), {"include_dc": True, "include_corners": True}, False),
        ((2, 6, 7, 4), {}, True),  # tied maxima share the gradient
        ((2, 5, 6, 7, 3), {"taper": "hamming"}, False),
        ((2, 6, 8, 4, 2), {"taper": "hamming", "include_dc": True}, False),
        ((2, 7, 6, 3), {"taper": "hamming"}, True),
        ((2, 4, 5, 6, 18), {"taper": "hamming"}, False),  # no bit mask
    ],
)
def test_band_power_gradient_equals_full_fft_autodiff(rng, shape, options, ties):
    """The hand-written gradient (Hartley domain, bit mask) against TensorFlow's own
    gradients of a complex full-spectrum FFT of ``tf.reduce_max``."""
    values = rng.integers(0, 3, size=shape) if ties else rng.normal(size=shape)
    logits = tf.constant(values.astype(np.float32))
    upstream = tf.constant(rng.normal(size=(shape[0], 4)).astype(np.float32))
    band_options = {k: v for k, v in options.items() if k != "taper"}
    masks = np_band_masks(shape[1:-1], 4, **band_options)
    onehot = tf.constant(np.stack([m.reshape(-1) for m in masks], -1).astype(np.float32))
    taper = 1.0
    if options.get("taper") == "hamming":
        taper = tf.constant(np_hamming(shape[1:-1]).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        fast = tf.reduce_sum(spectral.band_powers(logits, 4, **options) * upstream)
        full = spectral.power_spectrum(tf.reduce_max(logits, axis=-1) * taper)
        slow = tf.reduce_sum(tf.reshape(full, (shape[0], -1)) @ onehot * upstream)
    want = tape.gradient(slow, logits).numpy()
    np.testing.assert_allclose(
        tape.gradient(fast, logits).numpy(), want, atol=1e-5 * np.abs(want).max()
    )


def test_band_power_gradient_keeps_the_float16_dtype(rng):
    logits = tf.constant(rng.normal(size=(2, 6, 5, 7, 3)).astype(np.float16))
    with tf.GradientTape() as tape:
        tape.watch(logits)
        value = tf.reduce_sum(spectral.band_powers(logits, 3))
    gradient = tape.gradient(value, logits)
    assert gradient.dtype == tf.float16
    assert np.isfinite(gradient.numpy()).all()
    assert np.count_nonzero(gradient.numpy()) == 2 * 6 * 5 * 7  # one class per voxel


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: spectral.band_powers(np.zeros((2, 8, 8), np.float32)),
            ValueError,
            r"`logits` must have shape \(batch, \*spatial, n_classes\) with 2 or 3 spatial axes; "
            r"got shape \(2, 8, 8\)",
        ),
        (
            lambda: spectral.band_powers(np.zeros((2, 4, 4, 4, 4, 2), np.float32)),
            ValueError,
            "`logits` must have shape",
        ),
        (
            lambda: spectral.band_powers(np.zeros((2, 4, 4, 2), np.int32)),
            TypeError,
            "`logits` must be a floating-point tensor; got dtype int32",
        ),
        (
            lambda: spectral.band_powers(np.zeros((2, 4, 4, 2), np.float32), bands=0),
            ValueError,
            "`bands` must be an int >= 1; got 0",
        ),
        (
            lambda: spectral.band_powers(np.zeros((2, 4, 4, 2), np.float32), taper="hann"),
            ValueError,
            r"`taper` must be one of \(None, 'hamming'\); got 'hann'",
        ),
        (
            lambda: spectral.power_spectrum(np.zeros((4, 4), np.float32)),
            ValueError,
            r"`conf` must have shape \(batch, \*spatial\)",
        ),
        (
            lambda: spectral.spectral_entropy(np.ones((1, 3), np.float32), eps=0.0),
            ValueError,
            "`eps` must be a finite number > 0; got 0.0",
        ),
    ],
)
def test_ops_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_band_powers_need_static_spatial_sizes():
    spec = tf.TensorSpec((2, None, 8, 8, 3), tf.float32)
    with pytest.raises(ValueError, match="`logits` must have static spatial sizes"):
        tf.function(spectral.band_powers).get_concrete_function(spec)
