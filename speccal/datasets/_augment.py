"""Training-time augmentation of paper appendix A.2 (numpy/scipy, seeded by a Generator)."""

import numpy as np
from scipy import ndimage


def _range(name, value, low=0.0):
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        lo = hi = float("nan")
    if not (low <= lo <= hi):
        raise ValueError(
            f"`{name}` must be a (low, high) pair with {low} <= low <= high; got {value!r}."
        )
    return lo, hi


class Augmenter:
    """Random flips, gamma, Gaussian noise, Gaussian blur and brightness (paper A.2).

    Each transform is applied with its own probability, per channel where it is an intensity
    transform, and drawn from the :class:`numpy.random.Generator` passed to the call, so a
    seeded generator reproduces the same patch. The defaults are nnU-Net's.

    Parameters
    ----------
    flip_prob : float, default=0.5
        Probability of flipping each spatial axis (image and label together).
    gamma_prob : float, default=0.3
        Probability of a gamma transform with exponent drawn from ``gamma_range``.
    gamma_range : tuple of 2 float, default=(0.7, 1.5)
    noise_prob : float, default=0.15
        Probability of additive Gaussian noise with variance drawn from ``noise_variance``.
    noise_variance : tuple of 2 float, default=(0.0, 0.1)
    blur_prob : float, default=0.2
        Probability of a Gaussian blur with sigma (voxels) drawn from ``blur_sigma``.
    blur_sigma : tuple of 2 float, default=(0.5, 1.0)
    brightness_prob : float, default=0.15
        Probability of multiplying by a factor drawn from ``brightness_range``.
    brightness_range : tuple of 2 float, default=(0.75, 1.25)

    Raises
    ------
    ValueError
        If a probability is outside [0, 1] or a range is not ``low <= high`` (names it).

    Notes
    -----
    Gamma acts on the channel rescaled to [0, 1] and maps back to its range:

    .. math:: x' = m + (M - m) \\left(\\frac{x - m}{M - m}\\right)^{\\gamma}

    with :math:`m, M` the channel's minimum and maximum.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.datasets import Augmenter
    >>> image, label = np.ones((8, 8, 8, 1), np.float32), np.zeros((8, 8, 8), np.uint8)
    >>> out, lab = Augmenter()(image, label, np.random.default_rng(0))
    >>> out.shape, out.dtype.name, lab.shape
    ((8, 8, 8, 1), 'float32', (8, 8, 8))
    """

    def __init__(
        self,
        *,
        flip_prob=0.5,
        gamma_prob=0.3,
        gamma_range=(0.7, 1.5),
        noise_prob=0.15,
        noise_variance=(0.0, 0.1),
        blur_prob=0.2,
        blur_sigma=(0.5, 1.0),
        brightness_prob=0.15,
        brightness_range=(0.75, 1.25),
    ):
        probs = {
            "flip_prob": flip_prob,
            "gamma_prob": gamma_prob,
            "noise_prob": noise_prob,
            "blur_prob": blur_prob,
            "brightness_prob": brightness_prob,
        }
        for name, p in probs.items():
            if not (isinstance(p, int | float) and 0 <= p <= 1):
                raise ValueError(f"`{name}` must be a probability in [0, 1]; got {p!r}.")
        self.flip_prob = float(flip_prob)
        self.gamma_prob = float(gamma_prob)
        self.gamma_range = _range("gamma_range", gamma_range, low=1e-3)
        self.noise_prob = float(noise_prob)
        self.noise_variance = _range("noise_variance", noise_variance)
        self.blur_prob = float(blur_prob)
        self.blur_sigma = _range("blur_sigma", blur_sigma)
        self.brightness_prob = float(brightness_prob)
        self.brightness_range = _range("brightness_range", brightness_range)

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"Augmenter({params})"

    def __call__(self, image, label, rng):
        """Augment one ``(image, label)`` pair.

        Parameters
        ----------
        image : ndarray of shape (X, Y, Z, n_channels)
        label : ndarray of shape (X, Y, Z) or None
        rng : numpy.random.Generator or int
            Source of randomness (an int seeds a new generator).

        Returns
        -------
        image : ndarray of shape (X, Y, Z, n_channels), float32
        label : ndarray of shape (X, Y, Z) or None
            Flipped like the image; never interpolated.
        """
        rng = np.random.default_rng(rng)
        image = np.array(image, dtype=np.float32)
        for axis in range(3):
            if rng.random() < self.flip_prob:
                image = np.flip(image, axis)
                label = None if label is None else np.flip(label, axis)
        for c in range(image.shape[-1]):
            image[..., c] = self._intensity(image[..., c], rng)
        label = None if label is None else np.ascontiguousarray(label)
        return np.ascontiguousarray(image), label

    def _intensity(self, x, rng):
        if rng.random() < self.blur_prob:
            x = ndimage.gaussian_filter(x, rng.uniform(*self.blur_sigma), mode="nearest")
        if rng.random() < self.noise_prob:
            std = np.sqrt(rng.uniform(*self.noise_variance))
            x = x + rng.normal(0.0, std, x.shape).astype(np.float32)
        if rng.random() < self.brightness_prob:
            x = x * np.float32(rng.uniform(*self.brightness_range))
        if rng.random() < self.gamma_prob:
            low, high = x.min(), x.max()
            if high > low:
                scaled = (x - low) / (high - low)
                x = low + (high - low) * scaled ** np.float32(rng.uniform(*self.gamma_range))
        return x
