import hypothesis.strategies as st
import numpy as np
import pytest
from fresh_python import modules_loaded_by
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays

from speccal.analysis import (
    boundary_confidence_experiment,
    confidence_band_powers,
    confidence_difference,
    confidence_map,
    high_pass_reconstruction,
    high_pass_spectrum,
    radial_power_spectrum,
    spectral_entropy,
)


def _periodic_hamming(n):
    return 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(n) / n)


def _radius(shape, shifted=True):
    """Float radius of every frequency in index units, full spectrum."""
    if shifted:
        axes = [np.arange(n) - n // 2 for n in shape]
    else:
        axes = [np.fft.fftfreq(n) * n for n in shape]
    grids = np.meshgrid(*axes, indexing="ij")
    return np.sqrt(sum(g.astype(float) ** 2 for g in grids))


def _reference_band_powers(maps, bands, include_dc=False, include_corners=False):
    """Eq. 5 with a full, shifted FFT and floating-point shells (paper Eq. 4, r_k = kR/K)."""
    shape = maps.shape[1:]
    r = _radius(shape)
    big_r = min(shape) / 2
    out = np.zeros((len(maps), bands))
    for b, m in enumerate(maps):
        power = np.abs(np.fft.fftshift(np.fft.fftn(m))) ** 2
        for k in range(1, bands + 1):
            lo, hi = (k - 1) * big_r / bands, k * big_r / bands
            shell = (r > lo + 1e-9) & (r <= hi + 1e-9)
            if k == 1 and include_dc:
                shell |= r == 0
            if k == bands and include_corners:
                shell |= r > big_r + 1e-9
            out[b, k - 1] = power[shell].sum()
    return out


# ------------------------------------------------------------------- Fig. 1 experiment


@pytest.mark.parametrize(("ndim", "size"), [(2, 64), (3, 24)])
def test_boundary_experiment_reproduces_fig1(ndim, size):
    alphas = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
    res = boundary_confidence_experiment(alphas, size=size, ndim=ndim)
    # The maps are what Fig. 1b shows: 1.0 everywhere except the boundary at alpha.
    for alpha, m in zip(alphas, res.maps, strict=True):
        assert set(np.unique(m)) == ({1.0} if alpha == 1.0 else {alpha, 1.0})
    # Falling boundary confidence: high-frequency power and spectral entropy both rise.
    assert np.all(np.diff(res.high_frequency_power) > 0)
    assert np.all(np.diff(res.spectral_entropy) > 0)
    # "richer across all frequency bands": every band above the first gains power.
    assert np.all(np.diff(res.band_powers[:, 1:], axis=0) > 0)
    assert res.spectra.shape == (6, size // 2 + 1)
    np.testing.assert_allclose(res.frequencies, np.linspace(0, 0.5, size // 2 + 1))


def test_boundary_experiment_entropy_without_window_is_scale_invariant():
    # Documented in the Notes: without window (and DC), only the scale of the spectrum moves.
    res = boundary_confidence_experiment((0.9, 0.7, 0.5), size=32, window=None)
    np.testing.assert_allclose(res.spectral_entropy, res.spectral_entropy[0], rtol=1e-9)
    np.testing.assert_allclose(
        res.high_frequency_power / res.high_frequency_power[0], [1.0, 9.0, 25.0], rtol=1e-9
    )


def test_boundary_experiment_errors():
    with pytest.raises(ValueError, match=r"`alphas` must lie in \[0.5, 1\]; got \[0.4\]"):
        boundary_confidence_experiment((0.4,))
    with pytest.raises(ValueError, match="`ndim` must be 2 or 3; got 4"):
        boundary_confidence_experiment(ndim=4)
    with pytest.raises(ValueError, match=r"`radius` must be in \[1, size / 2\); got 40.0"):
        boundary_confidence_experiment(size=64, radius=40)
    with pytest.raises(ValueError, match="`boundary_width` must leave an interior"):
        boundary_confidence_experiment(size=16, boundary_width=5)
    with pytest.raises(ValueError, match=r"`high_band` must be an int in \[0, 4\]; got 5"):
        boundary_confidence_experiment(high_band=5)
    with pytest.raises(ValueError, match="`ndim` must be 2 or 3; got 2.0"):
        boundary_confidence_experiment(ndim=2.0)
    with pytest.raises(TypeError, match="`radius` must be a finite number; got '8'"):
        boundary_confidence_experiment(radius="8")
    with pytest.raises(TypeError, match="`interior` must be a finite number; got None"):
        boundary_confidence_experiment(interior=None)


# ------------------------------------------------------------------- band powers


@pytest.mark.parametrize("shape", [(2, 7, 8, 9), (3, 16, 16), (1, 5, 12, 6), (2, 9, 7)])
@pytest.mark.parametrize(("include_dc", "include_corners"), [(False, False), (True, True)])
def test_band_powers_equal_full_fft_reference(shape, include_dc, include_corners, rng):
    maps = rng.normal(size=shape) + 3.0
    got = confidence_band_powers(maps, 4, include_dc=include_dc, include_corners=include_corners)
    want = _reference_band_powers(maps, 4, include_dc, include_corners)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_band_powers_window_is_separable_hamming(rng):
    maps = rng.uniform(size=(2, 10, 12, 8))
    w = np.einsum("i,j,k->ijk", *[_periodic_hamming(n) for n in (10, 12, 8)])
    np.testing.assert_allclose(
        confidence_band_powers(maps, 3, window="hamming"),
        _reference_band_powers(maps * w, 3),
        rtol=1e-10,
    )


@pytest.mark.parametrize("shape", [(2, 9, 10, 8, 3), (3, 12, 7, 2)])
def test_band_powers_equal_tensorflow_twin(shape, rng):
    from speccal import spectral  # TensorFlow: imported by this test only

    logits = rng.normal(size=shape).astype(np.float32)
    for kwargs in ({}, {"include_dc": True, "include_corners": True}):
        want = np.asarray(spectral.band_powers(logits, bands=5, **kwargs))
        got = confidence_band_powers(confidence_map(logits), 5, **kwargs)
        np.testing.assert_allclose(got, want, rtol=2e-4)
        np.testing.assert_allclose(
            spectral_entropy(got), np.asarray(spectral.spectral_entropy(want)), atol=1e-5
        )


@pytest.mark.parametrize("shape", [(2, 7, 8, 9), (3, 10, 6)])
def test_band_powers_with_dc_and_corners_obey_parseval(shape, rng):
    maps = rng.normal(size=shape) + 1.0
    total = confidence_band_powers(maps, 3, include_dc=True, include_corners=True).sum(axis=1)
    n = np.prod(shape[1:])
    np.testing.assert_allclose(total, n * (maps**2).reshape(len(maps), -1).sum(axis=1))


def test_band_powers_and_radial_spectrum_ignore_circular_shifts(rng):
    x = rng.normal(size=(1, 12, 10, 8))
    shifted = np.roll(x, (3, -2, 5), axis=(1, 2, 3))
    np.testing.assert_allclose(
        confidence_band_powers(shifted), confidence_band_powers(x), rtol=1e-10
    )
    np.testing.assert_allclose(
        radial_power_spectrum(shifted[0])[1], radial_power_spectrum(x[0])[1], rtol=1e-10
    )


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(1, 8), elements=st.floats(0, 1e6, allow_subnormal=False)))
def test_spectral_entropy_lies_between_zero_and_log_k(powers):
    h = float(spectral_entropy(powers, eps=0.0))
    assert -1e-12 <= h <= np.log(powers.size) + 1e-9


def test_confidence_map_is_max_logit(rng):
    logits = rng.normal(size=(2, 4, 5, 3))
    np.testing.assert_array_equal(confidence_map(logits), np.max(logits, axis=-1))
    with pytest.raises(ValueError, match=r"`logits` must have shape \(..., n_classes\)"):
        confidence_map(np.ones(3)[0])


def test_band_powers_errors():
    with pytest.raises(ValueError, match=r"`confidence_maps` must have 3 or 4 dimensions"):
        confidence_band_powers(np.ones((8, 8)))
    with pytest.raises(ValueError, match="`confidence_maps` must be finite; got 8 NaN"):
        confidence_band_powers(np.where(np.eye(8)[None] > 0, np.nan, 1.0))
    with pytest.raises(ValueError, match="`bands` must be an int >= 1; got 0"):
        confidence_band_powers(np.ones((1, 8, 8)), 0)
    with pytest.raises(ValueError, match="`window` must be None or a window name"):
        confidence_band_powers(np.ones((1, 8, 8)), window="nope")
    with pytest.raises(TypeError, match="`confidence_maps` must be an array of numbers"):
        confidence_band_powers([["a"]])


def test_spectral_entropy_formula(rng):
    s = rng.uniform(size=(3, 5))
    p = s / (s.sum(-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(spectral_entropy(s), -(p * np.log(p + 1e-6)).sum(-1))
    np.testing.assert_allclose(spectral_entropy(np.ones(7), eps=0.0), np.log(7))
    assert spectral_entropy(np.array([0.0, 0.0, 4.0]), eps=0.0) == 0.0
    with pytest.raises(ValueError, match="`powers` must be non-negative; got minimum -1.0"):
        spectral_entropy([1.0, -1.0])
    with pytest.raises(ValueError, match="`eps` must be a finite number >= 0; got -1"):
        spectral_entropy([1.0], eps=-1)
    with pytest.raises(TypeError, match="`eps` must be a finite number >= 0; got '1e-6'"):
        spectral_entropy([1.0], eps="1e-6")


# -------------------------------------------------------------- radial power spectrum


def _reference_radial(image, n_bins):
    power = np.abs(np.fft.fftn(image)) ** 2 / image.size
    freqs = np.meshgrid(*[np.fft.fftfreq(n) for n in image.shape], indexing="ij")
    radius = np.sqrt(sum(f**2 for f in freqs))
    step = 0.5 / (n_bins - 1)
    out = []
    for k in range(n_bins):
        ring = (radius >= (k - 0.5) * step) & (radius < (k + 0.5) * step)
        out.append(power[ring].mean())
    return np.array(out)


@pytest.mark.parametrize("shape", [(16, 20), (9, 12, 10), (8, 8, 8)])
def test_radial_power_spectrum_matches_brute_force(shape, rng):
    x = rng.normal(size=shape)
    for n_bins in (None, 3):
        f, p = radial_power_spectrum(x, n_bins=n_bins)
        n = min(shape) // 2 + 1 if n_bins is None else n_bins
        np.testing.assert_allclose(f, np.linspace(0, 0.5, n))
        np.testing.assert_allclose(p, _reference_radial(x, n), rtol=1e-10)


@pytest.mark.parametrize("window", [None, "hamming"])
@pytest.mark.parametrize(("shape", "axis", "cycles"), [((64, 48), 0, 8), ((32, 40, 36), 2, 6)])
def test_radial_spectrum_of_sinusoid_peaks_at_its_frequency(shape, axis, cycles, window):
    n = shape[axis]
    wave = np.cos(2 * np.pi * cycles * np.arange(n) / n)
    x = np.moveaxis(np.broadcast_to(wave, shape[:axis] + shape[axis + 1 :] + (n,)), -1, axis)
    f, p = radial_power_spectrum(x, window, n_bins=min(shape) // 2 + 1)
    np.testing.assert_allclose(f[np.argmax(p)], cycles / n, atol=0.5 / (min(shape) // 2))


def test_hamming_window_reduces_leakage():
    n = 64
    wave = np.cos(2 * np.pi * 10.5 * np.arange(n) / n)  # between two FFT bins: leaks
    x = np.outer(wave, np.ones(n)) + 0.5
    leak = {}
    for window in (None, "hamming"):
        f, p = radial_power_spectrum(x, window)
        far = np.abs(f - 10.5 / n) > 4 / n
        far &= f > 4 / n  # also away from the DC term
        leak[window] = p[far].sum() / p.sum()
    assert leak["hamming"] < leak[None] / 10


@pytest.mark.parametrize("window", [None, "hamming"])
def test_radial_spectrum_normalisation_white_noise(window, rng):
    x = rng.normal(scale=2.0, size=(128, 128))
    _, p = radial_power_spectrum(x, window, n_bins=9)
    np.testing.assert_allclose(p[1:], 4.0, rtol=0.15)


def test_radial_spectrum_shared_grid_for_different_sizes(rng):
    f1, _ = radial_power_spectrum(rng.normal(size=(16, 20)), n_bins=6)
    f2, _ = radial_power_spectrum(rng.normal(size=(12, 10, 30)), n_bins=6)
    np.testing.assert_array_equal(f1, f2)


def test_radial_spectrum_errors():
    with pytest.raises(ValueError, match=r"`image` must have 2 or 3 dimensions; got shape \(4,\)"):
        radial_power_spectrum(np.ones(4))
    with pytest.raises(ValueError, match=r"`n_bins` must be an int in \[2, 5\]; got 6"):
        radial_power_spectrum(np.ones((8, 9)), n_bins=6)
    with pytest.raises(ValueError, match="`image` must be at least 2 voxels along each axis"):
        radial_power_spectrum(np.ones((1, 9)))
    with pytest.raises(ValueError, match="`image` must not be empty"):
        radial_power_spectrum(np.ones((0, 9)))


# ----------------------------------------------------------------- Fig. 8 hotspots


@pytest.mark.parametrize("shape", [(16, 18), (9, 10, 12)])
def test_high_pass_equals_full_fft_reference(shape, rng):
    x = rng.normal(size=shape) + 2.0
    r = _radius(shape, shifted=False)
    keep = r > 2 * (min(shape) / 2) / 5 + 1e-9  # bands 2..4 of 5 and the corners
    want = np.fft.ifftn(np.fft.fftn(x) * keep).real
    np.testing.assert_allclose(high_pass_reconstruction(x), want, atol=1e-10)
    power = np.abs(np.fft.fftn(x)) ** 2 * keep
    np.testing.assert_allclose(high_pass_spectrum(x), np.fft.fftshift(power), rtol=1e-10)


def test_high_pass_keeps_high_and_drops_low_frequencies():
    i = np.arange(32)
    low = np.outer(np.cos(2 * np.pi * 2 * i / 32), np.ones(32))
    high = np.outer(np.ones(32), np.sin(2 * np.pi * 13 * i / 32))
    out = high_pass_reconstruction(3.0 + low + high, bands=4, high_band=2)
    np.testing.assert_allclose(out, high, atol=1e-10)
    assert high_pass_reconstruction(low, bands=4, high_band=0).std() > 0.5


def test_confidence_difference():
    np.testing.assert_allclose(confidence_difference([[0.9, 0.5]], [[0.6, 0.7]]), [[0.3, -0.2]])
    with pytest.raises(ValueError, match=r"`ours` must have the shape of `baseline` \(1, 2\)"):
        confidence_difference([[0.9, 0.5]], [0.6, 0.7, 0.1])


def test_numpy_side_never_imports_tensorflow():
    code = (
        "import speccal.analysis, speccal.plotting, speccal.plotting._figures, "
        "speccal.experiments, speccal.commands.figures; "
        "speccal.analysis.boundary_confidence_experiment(size=16)"
    )
    assert modules_loaded_by(code, ("tensorflow", "keras", "matplotlib")) == []
