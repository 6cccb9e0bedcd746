"""speccal.spectral ops and the spectral entropy regularizer against an independent numpy
implementation of the paper's Algorithm 1 (full complex FFT, float radii, a Python list
as the history buffer)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from speccal import spectral  # noqa: E402
from speccal.losses import CESpectral, SpectralEntropyRegularizer  # noqa: E402

EPS = 1e-6


# -- independent numpy reference ------------------------------------------------------------


def np_power_spectrum(conf):
    axes = tuple(range(1, conf.ndim))
    spectrum = np.fft.fftshift(np.fft.fftn(conf.astype(np.float64), axes=axes), axes=axes)
    return np.abs(spectrum) ** 2


def np_band_masks(spatial, bands, include_dc=False, include_corners=False):
    grids = np.meshgrid(*[np.arange(n) - n // 2 for n in spatial], indexing="ij")
    radius = np.sqrt(sum(g.astype(np.float64) ** 2 for g in grids))
    big_r = min(spatial) / 2
    masks = []
    for k in range(1, bands + 1):
        mask = (radius > (k - 1) * big_r / bands) & (radius <= k * big_r / bands)
        if k == 1 and include_dc:
            mask |= radius == 0
        if k == bands and include_corners:
            mask |= radius > big_r
        masks.append(mask)
    return masks


def np_hamming(spatial):
    """Periodic Hamming window, the outer product over the axes, written out."""
    window = np.ones(())
    for n in spatial:
        window = np.multiply.outer(window, 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(n) / n))
    return window


def np_band_powers(logits, bands, taper=None, **options):
    conf = logits.max(-1)
    if taper == "hamming":
        conf = conf * np_hamming(conf.shape[1:])
    power = np_power_spectrum(conf)
    masks = np_band_masks(logits.shape[1:-1], bands, **options)
    return np.stack([power[:, m].sum(-1) for m in masks], axis=-1)


def np_entropy(powers):
    prob = powers / (powers.sum(-1, keepdims=True) + EPS)
    return -(prob * np.log(prob + EPS)).sum(-1)


class NumpyAlgorithm1:
    """Algorithm 1, lines 7-37, literally; ``replicate`` pre-fills the history (§3.2)."""

    def __init__(self, window, bands, warmup, taper=None):
        self.window, self.bands, self.warmup, self.taper = window, bands, warmup, taper
        self.history = []

    def __call__(self, logits):
        powers = np_band_powers(logits, self.bands, taper=self.taper)
        batch_mean = powers.mean(0)
        if not self.history and self.warmup == "replicate":
            self.history = [batch_mean] * (self.window - 1)
        self.history.append(batch_mean)
        if len(self.history) > self.window:
            self.history.pop(0)
        target = np_entropy(np.mean(self.history, axis=0))
        return np.mean(np.maximum(0.0, target - np_entropy(powers)) ** 2)


def batches(rng, shape, n):
    """Logit batches whose spectra differ: smooth ramps plus noise of varying strength."""
    spatial = shape[1:-1]
    ramp = np.meshgrid(*[np.linspace(-1, 1, s) for s in spatial], indexing="ij")
    smooth = sum(ramp)[None, ..., None] * np.arange(1, shape[-1] + 1)
    for _ in range(n):
        noise = rng.normal(size=shape) * rng.uniform(
            0.05, 2.0, size=(shape[0],) + (1,) * len(shape[1:])
        )
        yield (smooth * rng.uniform(0.5, 3.0) + noise).astype(np.float32)


# -- spectral ops ---------------------------------------------------------------------------


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
