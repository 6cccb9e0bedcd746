"""The spectral entropy regularizer and ``CESpectral`` against an independent numpy
implementation of the paper's Algorithm 1 (``tests/spectral_reference.py``: full complex FFT,
float radii, a Python list as the history buffer)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from spectral_reference import (  # noqa: E402
    NumpyAlgorithm1,
    batches,
    np_band_powers,
    np_entropy,
)

from speccal import spectral  # noqa: E402
from speccal.losses import CESpectral, SpectralEntropyRegularizer  # noqa: E402

# -- regularizer = Algorithm 1 --------------------------------------------------------------

CASES = [
    (k, warmup, shape)
    for k in range(1, 8)
    for warmup, shape in [("replicate", (2, 7, 8, 9, 3)), ("partial", (3, 9, 6, 5, 2))]
]
CASES += [(k, w, (2, 9, 11, 3)) for k in (2, 5) for w in ("replicate", "partial")]
CASES = [(*case, None) for case in CASES]
CASES += [(k, "replicate", (2, 7, 8, 9, 3), "hamming") for k in (3, 5)]
CASES += [(5, "partial", (2, 9, 11, 3), "hamming")]


@pytest.mark.parametrize("bands, warmup, shape, taper", CASES)
def test_regularizer_equals_numpy_algorithm_1(rng, bands, warmup, shape, taper):
    window = 3
    reg = SpectralEntropyRegularizer(window=window, bands=bands, warmup=warmup, taper=taper)
    reference = NumpyAlgorithm1(window, bands, warmup, taper)
    got, want = [], []
    for logits in batches(rng, shape, 3 * window + 2):
        got.append(float(reg(logits)))
        want.append(reference(logits))
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-7)
    if bands > 2:
        assert max(want) > 1e-4  # the hinge is active: the comparison is not all zeros
    np.testing.assert_allclose(
        reg.buffer.numpy().mean(0), np.mean(reference.history, 0), rtol=1e-5
    )
    assert int(reg.step) == 3 * window + 2


def test_smaller_last_batch_enters_as_its_own_mean(rng):
    reg = SpectralEntropyRegularizer(window=2, bands=4, warmup="partial")
    reference = NumpyAlgorithm1(2, 4, "partial")
    for size in (3, 3, 1, 3, 2):
        (logits,) = batches(rng, (size, 6, 5, 7, 2), 1)
        np.testing.assert_allclose(float(reg(logits)), reference(logits), rtol=2e-4, atol=1e-7)


def test_window_one_targets_the_current_batch(rng):
    reg = SpectralEntropyRegularizer(window=1, bands=4)
    for logits in batches(rng, (3, 6, 7, 5, 2), 3):
        powers = np_band_powers(logits, 4)
        want = np.mean(np.maximum(0, np_entropy(powers.mean(0)) - np_entropy(powers)) ** 2)
        np.testing.assert_allclose(float(reg(logits)), want, rtol=2e-4, atol=1e-7)


def test_gradient_matches_finite_differences_with_fixed_target(rng):
    (logits,) = batches(rng, (3, 5, 6, 4, 3), 1)
    reg = SpectralEntropyRegularizer(window=1, bands=4)
    z = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(z)
        value = reg(z)
    grad = tape.gradient(value, z).numpy()
    assert np.abs(grad).max() > 0  # gradients reach the logits

    target = np_entropy(np_band_powers(logits, 4).mean(0))  # held fixed: no gradient

    def loss(z64):
        return np.mean(np.maximum(0, target - np_entropy(np_band_powers(z64, 4))) ** 2)

    z64 = logits.astype(np.float64)
    top2 = np.sort(z64, -1)[..., -2:]
    candidates = np.argwhere(
        np.broadcast_to((top2[..., 1] - top2[..., 0] > 1e-2)[..., None], z64.shape)
    )
    step = 1e-4
    for index in candidates[rng.choice(len(candidates), 40, replace=False)]:
        index = tuple(index)
        plus, minus = z64.copy(), z64.copy()
        plus[index] += step
        minus[index] -= step
        numeric = (loss(plus) - loss(minus)) / (2 * step)
        assert grad[index] == pytest.approx(
            numeric, rel=2e-3, abs=1e-5 * float(np.abs(grad).max())
        )


def test_constant_logits_give_finite_loss_and_gradient():
    reg = SpectralEntropyRegularizer(window=3, bands=5)
    z = tf.constant(np.full((2, 6, 7, 5, 3), 4.0, np.float32))
    with tf.GradientTape() as tape:
        tape.watch(z)
        value = reg(z)
    assert float(value) == 0.0
    assert np.isfinite(tape.gradient(value, z).numpy()).all()
    assert np.isfinite(reg.buffer.numpy()).all()


def test_target_carries_no_gradient(rng):
    # All samples identical: H(P_b) = H(P~) for every b, so loss and gradient are exactly 0;
    # a gradient leaking through the target would not be.
    (one,) = batches(rng, (1, 6, 5, 7, 3), 1)
    z = tf.constant(np.repeat(one, 2, axis=0))
    reg = SpectralEntropyRegularizer(window=1, bands=4)
    with tf.GradientTape() as tape:
        tape.watch(z)
        value = reg(z)
    assert float(value) == 0.0
    np.testing.assert_array_equal(tape.gradient(value, z).numpy(), 0.0)


def test_training_false_leaves_buffer_and_returns_the_prospective_loss(rng):
    reg = SpectralEntropyRegularizer(window=2, bands=4, warmup="partial")
    first, second = batches(rng, (2, 6, 5, 7, 3), 2)
    reg(first)
    before = reg.buffer.numpy().copy()
    evaluated = float(reg(second, training=False))
    np.testing.assert_array_equal(reg.buffer.numpy(), before)
    assert int(reg.step) == 1
    assert float(reg(second)) == pytest.approx(evaluated, rel=1e-6)
    assert int(reg.step) == 2


def test_ce_spectral_training_false_leaves_the_buffer(rng):
    labels = rng.integers(0, 3, size=(2, 6, 5, 7))
    first, second = batches(rng, (2, 6, 5, 7, 3), 2)
    loss = CESpectral(lam=0.5, window=2, bands=4, warmup="partial")
    loss(labels, first)
    before = loss.regularizer.buffer.numpy().copy()
    evaluated = float(loss(labels, second, training=False))
    np.testing.assert_array_equal(loss.regularizer.buffer.numpy(), before)
    assert int(loss.regularizer.step) == 1
    assert float(loss(labels, second)) == pytest.approx(evaluated, rel=1e-6)
    assert int(loss.regularizer.step) == 2


def test_reset_state_warms_up_again(rng):
    reg = SpectralEntropyRegularizer(window=3, bands=4)
    first, second = batches(rng, (2, 6, 5, 7, 3), 2)
    reg(first)
    reg.reset_state()
    reg(second)
    np.testing.assert_allclose(
        reg.buffer.numpy(), np.tile(np_band_powers(second, 4).mean(0), (3, 1)), rtol=1e-5
    )


# -- CESpectral -----------------------------------------------------------------------------


def test_lam_zero_is_sparse_categorical_crossentropy(rng):
    import keras

    logits = rng.normal(size=(2, 5, 6, 7, 4)).astype(np.float32)
    labels = rng.integers(0, 4, size=(2, 5, 6, 7))
    weights = rng.uniform(size=(2, 5, 6, 7)).astype(np.float32)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=3)
    loss = CESpectral(lam=0.0, ignore_class=3)
    np.testing.assert_allclose(float(loss(labels, logits)), float(ce(labels, logits)), rtol=1e-6)
    np.testing.assert_allclose(
        float(loss(labels, logits, sample_weight=weights)),
        float(ce(labels, logits, sample_weight=weights)),
        rtol=1e-6,
    )


def test_ce_spectral_is_ce_plus_lam_times_regularizer(rng):
    import keras

    loss = CESpectral(lam=0.5, window=3, bands=4)
    reg = SpectralEntropyRegularizer(window=3, bands=4)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for logits in batches(rng, (2, 6, 5, 7, 3), 4):
        labels = logits.argmax(-1)
        weights = np.linspace(0.0, 2.0, logits.shape[0], dtype=np.float32)
        voxel_weights = np.broadcast_to(weights[:, None, None, None], labels.shape)
        want = float(ce(labels, logits, sample_weight=voxel_weights)) + 0.5 * float(reg(logits))
        got = float(loss(labels[..., None], logits, sample_weight=weights))
        np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(loss.regularizer.buffer.numpy(), reg.buffer.numpy(), rtol=1e-6)
    per_voxel = CESpectral(lam=0.5, window=3, bands=4, reduction=None)(labels, logits)
    assert per_voxel.shape == labels.shape
    fresh = SpectralEntropyRegularizer(window=3, bands=4)
    np.testing.assert_allclose(
        CESpectral(lam=0.5, window=3, bands=4).call(labels, logits).numpy(),
        keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True).numpy()
        + 0.5 * float(fresh(logits)),
        rtol=1e-5,
    )


def test_from_logits_false_takes_probabilities(rng):
    import keras

    probs = tf.nn.softmax(rng.normal(size=(2, 5, 6, 7, 3)).astype(np.float32)).numpy()
    labels = rng.integers(0, 3, size=(2, 5, 6, 7))
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=False)
    reg = SpectralEntropyRegularizer(window=2, bands=3)
    loss = CESpectral(lam=2.0, window=2, bands=3, from_logits=False)
    want = float(ce(labels, probs)) + 2.0 * float(reg(probs))
    np.testing.assert_allclose(float(loss(labels, probs)), want, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"window": 0}, "`window` must be an int >= 1; got 0"),
        ({"bands": 0}, "`bands` must be an int >= 1; got 0"),
        ({"lam": -0.1}, "`lam` must be a finite number >= 0; got -0.1"),
        ({"warmup": "zeros"}, r"`warmup` must be one of \('replicate', 'partial'\); got 'zeros'"),
        ({"eps": -1.0}, "`eps` must be a finite number > 0; got -1.0"),
        ({"eps": float("inf")}, "`eps` must be a finite number > 0; got inf"),
        ({"lam": float("inf")}, "`lam` must be a finite number >= 0; got inf"),
        ({"taper": "Hamming"}, r"`taper` must be one of \(None, 'hamming'\); got 'Hamming'"),
    ],
)
def test_bad_hyperparameters_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CESpectral(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"window": 2.5}, "`window` must be an int >= 1; got 2.5"),
        ({"lam": "0.1"}, "`lam` must be a finite number >= 0; got '0.1'"),
        ({"ignore_class": "void"}, "`ignore_class` must be None or an int; got 'void'"),
    ],
)
def test_hyperparameters_of_another_type_are_type_errors(kwargs, match):
    with pytest.raises(TypeError, match=match):
        CESpectral(**kwargs)


def test_bad_call_input_names_the_argument(rng):
    loss = CESpectral()
    logits = rng.normal(size=(2, 6, 5, 7, 3)).astype(np.float32)
    with pytest.raises(
        ValueError,
        match=r"`y_pred` must have shape \(batch, \*spatial, "
        r"n_classes\).*got shape \(2, 6, 5\)",
    ):
        loss(np.zeros((2, 6), np.int64), logits[..., 0, 0])
    with pytest.raises(
        ValueError,
        match=r"`y_true` must have shape \(batch, \*spatial\) = "
        r"\(2, 6, 5, 7\).*got shape \(2, 6, 5, 6\)",
    ):
        loss(np.zeros((2, 6, 5, 6), np.int64), logits)
    with pytest.raises(ValueError, match=r"`logits` must have shape.*got shape \(2, 6\)"):
        SpectralEntropyRegularizer()(logits[:, :, 0, 0, 0])
    assert int(loss.regularizer.step) == 0


@pytest.mark.parametrize(
    "n_classes, value, where",
    [
        (3, np.inf, "max"),
        (3, np.nan, "other"),  # a NaN below the maximum: the max alone would hide it
        (3, -np.inf, "other"),
        (3, np.nan, "every"),
        (20, np.nan, "other"),  # above 16 classes: no bit mask
        (20, -np.inf, "other"),
    ],
)
def test_non_finite_logits_raise_wherever_they_are(rng, n_classes, value, where):
    logits = rng.normal(size=(2, 6, 5, 7, n_classes)).astype(np.float32)
    voxel = (1, 2, 3, 4)
    top = int(np.argmax(logits[voxel]))
    if where == "every":
        logits[voxel] = value
    else:
        logits[voxel + ((top if where == "max" else (top + 1) % n_classes),)] = value
    loss = CESpectral(lam=0.1, window=3, bands=3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="`logits` must be finite"):
        loss(np.zeros((2, 6, 5, 7), np.int64), logits)
    assert int(loss.regularizer.step) == 0


def test_logits_whose_spectrum_overflows_raise_instead_of_a_nan_loss(rng):
    logits = (rng.normal(size=(2, 6, 5, 7, 3)) * 1e30).astype(np.float32)
    assert np.isfinite(logits).all()
    with pytest.raises(tf.errors.InvalidArgumentError, match="overflows float32"):
        SpectralEntropyRegularizer(window=3, bands=3)(logits)


def test_non_finite_logits_are_caught_when_no_frequency_is_in_a_band(rng):
    """Spatial size 1 on one axis leaves only the (excluded) DC term in the bands: the
    check still sees the NaN through the sum of the frequencies of no band."""
    logits = rng.normal(size=(2, 1, 6, 5, 3)).astype(np.float32)
    reg = SpectralEntropyRegularizer(window=3, bands=3)
    spectral._band_constants.cache_clear()  # the warning comes once per shape
    with pytest.warns(UserWarning, match=r"\(1, 6, 5\) leave 3 of the 3 bands empty"):
        assert float(reg(logits)) == 0.0
    logits[0, 0, 2, 2, 1] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="`logits` must be finite"):
        reg(logits)


def test_non_finite_logits_under_xla_report_nan_and_keep_the_buffer(rng):
    reg = SpectralEntropyRegularizer(window=2, bands=3)
    step = tf.function(lambda z: reg(z), jit_compile=True)
    (good,) = batches(rng, (2, 6, 5, 7, 3), 1)
    step(good)
    before = reg.buffer.numpy().copy()
    bad = good.copy()
    bad[0, 1, 1, 1, 0] = np.nan
    assert np.isnan(float(step(bad)))
    np.testing.assert_array_equal(reg.buffer.numpy(), before)
    assert int(reg.step) == 1


def test_maps_too_small_for_the_bands_warn_once():
    """2^3 maps leave 4 of 5 bands empty: the spectral term is 0; say so, once per shape."""
    import warnings

    logits = np.random.default_rng(0).normal(size=(1, 2, 2, 2, 3)).astype(np.float32)
    loss = CESpectral(lam=1.0)
    spectral._band_constants.cache_clear()  # the warning comes once per shape
    with pytest.warns(UserWarning, match=r"size \(2, 2, 2\) leave 4 of the 5 bands empty") as seen:
        for _ in range(3):
            assert float(loss.regularizer(logits)) == 0.0
    assert len([w for w in seen if "bands empty" in str(w.message)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 4^3 with 2 bands: both bands hold frequencies
        spectral.band_powers(np.zeros((1, 4, 4, 4, 2), np.float32), bands=2)
