"""An independent numpy implementation of the paper's Algorithm 1 and its spectral ops (full
complex FFT, float radii, a Python list as the history buffer), shared by
``tests/test_spectral.py`` (the ops of ``speccal.spectral``) and
``tests/losses/test_spectral_regularizer.py`` (the loss)."""

import numpy as np

EPS = 1e-6


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
