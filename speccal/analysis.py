"""Spectral analysis of confidence maps in numpy (paper §3.1, Figs. 1, 3 and 8).

The numpy twins of :mod:`speccal.spectral` are named by what they take: :func:`confidence_map`
and :func:`spectral_entropy` take what their twins take; :func:`confidence_band_powers` takes
confidence maps where :func:`speccal.spectral.band_powers` takes logits. They use the one
shared band definition of :func:`speccal.spectral.band_powers`, so analysis numbers equal what the
loss sees. Around them: the radially averaged power spectral density
(:func:`radial_power_spectrum`, Figs. 1c and 3), the synthetic boundary-confidence experiment of
Fig. 1 (:func:`boundary_confidence_experiment`) and the high-frequency "hotspot" maps of Fig. 8
(:func:`high_pass_spectrum`, :func:`high_pass_reconstruction`, :func:`confidence_difference`).

This module never imports TensorFlow.
"""

from dataclasses import dataclass

import numpy as np

from speccal._bands import band_index, rfft_weights, separable_window
from speccal._utils import check_scalar

__all__ = [
    "BoundaryExperimentResult",
    "boundary_confidence_experiment",
    "confidence_band_powers",
    "confidence_difference",
    "confidence_map",
    "high_pass_reconstruction",
    "high_pass_spectrum",
    "radial_power_spectrum",
    "spectral_entropy",
]


# ---------------------------------------------------------------------------- validation


def _finite_array(x, name, ndims=None):
    """``x`` as a float64 array; checks the number of dimensions and finiteness."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be an array of numbers; got {type(x).__name__}.") from exc
    if ndims is not None and arr.ndim not in ndims:
        dims = " or ".join(str(d) for d in ndims)
        raise ValueError(f"`{name}` must have {dims} dimensions; got shape {arr.shape!r}.")
    if arr.size == 0:
        raise ValueError(f"`{name}` must not be empty; got shape {arr.shape!r}.")
    if not np.isfinite(arr).all():
        bad = int(np.size(arr) - np.isfinite(arr).sum())
        raise ValueError(f"`{name}` must be finite; got {bad} NaN or infinite values.")
    return arr


def _window(spatial_shape, window):
    """Separable window of ``spatial_shape`` (outer product of 1D windows), or None."""
    if window is None:
        return None
    try:
        return separable_window(spatial_shape, window)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"`window` must be None or a window name of scipy.signal.get_window such as "
            f"'hamming'; got {window!r}."
        ) from exc


def _high_band(bands, high_band):
    bands = check_scalar("bands", bands, integer=True, minimum=1)
    if high_band is None:
        return bands, bands // 2
    return bands, check_scalar("high_band", high_band, integer=True, minimum=0, maximum=bands - 1)


# ------------------------------------------------------------------- twins of spectral.py


def confidence_map(logits):
    """Voxel-wise maximum logit over the class axis (paper equation 1).

    Parameters
    ----------
    logits : array-like of shape (..., n_classes)
        Logits, channels last, e.g. ``(batch, depth, height, width, n_classes)``.

    Returns
    -------
    confidence : ndarray of float64, shape (...)
        :math:`z(\\mathbf{x}) = \\max_c z_c(\\mathbf{x})`.

    Raises
    ------
    ValueError
        If ``logits`` has fewer than 2 dimensions or non-finite values.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.analysis import confidence_map
    >>> confidence_map(np.array([[[0.0, 2.0], [3.0, -1.0]]])).tolist()
    [[2.0, 3.0]]
    """
    arr = _finite_array(logits, "logits")
    if arr.ndim < 2:
        raise ValueError(f"`logits` must have shape (..., n_classes); got shape {arr.shape!r}.")
    return arr.max(axis=-1)


def confidence_band_powers(
    confidence_maps, bands=5, *, include_dc=False, include_corners=False, window=None
):
    """Spectral power of each confidence map in K radial bands (paper equations 2–5).

    The numpy twin of :func:`speccal.spectral.band_powers`, named by what it takes: that one
    takes logits, this one their confidence maps. On the same data,
    ``confidence_band_powers(confidence_map(logits))`` equals ``band_powers(logits)`` (up to
    float32 rounding there).

    Parameters
    ----------
    confidence_maps : array-like of shape (batch, height, width) or (batch, depth, height, width)
        One 2D or 3D confidence map per sample (e.g. from :func:`confidence_map`). A single
        map ``m`` is passed as ``m[None]``.
    bands : int, default=5
        Number of radial bands ``K``.
    include_dc : bool, default=False
        Count the DC term (radius 0) in the first band.
    include_corners : bool, default=False
        Count the corner frequencies (radius > min(S)/2) in the last band.
    window : None or str, default=None
        Separable window applied to each map before the FFT (any name of
        :func:`scipy.signal.get_window`, e.g. ``"hamming"``, periodic form). ``None`` is what
        the loss does by default; ``window="hamming"`` is the twin of the loss's
        ``taper="hamming"``.

    Returns
    -------
    powers : ndarray of float64, shape (batch, bands)
        :math:`S_b^{(k)}`.

    Raises
    ------
    ValueError
        If the maps are not 3 or 4 dimensional, are empty or hold non-finite values.

    Notes
    -----
    With :math:`E_b = |\\mathrm{shift}(\\mathcal{F}[z_b])|^2` and the shells
    :math:`\\mathcal{I}_k` (the bands of the method page, step 3),

    .. math:: S_b^{(k)} = \\sum_{(u, v, w) \\in \\mathcal{I}_k} E_b(u, v, w).

    The sums are taken over the half spectrum of a real FFT, each entry weighted by its
    Hermitian multiplicity, which equals the sum over
    the full spectrum.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.analysis import confidence_band_powers
    >>> maps = np.random.default_rng(0).normal(size=(2, 16, 16))
    >>> confidence_band_powers(maps, bands=4).shape
    (2, 4)
    """
    maps = _finite_array(confidence_maps, "confidence_maps", ndims=(3, 4))
    bands = check_scalar("bands", bands, integer=True, minimum=1)
    spatial = maps.shape[1:]
    w = _window(spatial, window)
    if w is not None:
        maps = maps * w
    axes = tuple(range(1, maps.ndim))
    power = np.abs(np.fft.rfftn(maps, axes=axes)) ** 2
    index = band_index(
        spatial, bands, include_dc=include_dc, include_corners=include_corners, layout="rfft"
    )
    # One (n_frequencies, bands) matrix: membership times Hermitian multiplicity.
    onehot = (index.reshape(-1, 1) == np.arange(bands)) * rfft_weights(spatial).reshape(-1, 1)
    return power.reshape(len(maps), -1) @ onehot


def spectral_entropy(powers, eps=1e-6):
    """Shannon entropy of normalised band powers (paper equations 7–8).

    The numpy twin of :func:`speccal.spectral.spectral_entropy`.

    Parameters
    ----------
    powers : array-like of shape (..., bands)
        Non-negative band powers, e.g. from :func:`confidence_band_powers`.
    eps : float, default=1e-6
        The :math:`\\varepsilon` of Eqs. 7–8.

    Returns
    -------
    entropy : ndarray of float64, shape (...)
        Between 0 (all power in one band, or no power at all) and :math:`\\log K` (equal
        power in every band).

    Raises
    ------
    ValueError
        If ``powers`` holds negative or non-finite values, or ``eps`` is not positive.

    Notes
    -----
    .. math::

        P^{(k)} = \\frac{S^{(k)}}{\\sum_{j=1}^K S^{(j)} + \\varepsilon}, \\qquad
        H_{\\mathrm{spec}}(P) = -\\sum_{k=1}^K P^{(k)} \\log\\left(P^{(k)} + \\varepsilon\\right).

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.analysis import spectral_entropy
    >>> round(float(spectral_entropy(np.ones(4), eps=0.0)), 6) == round(float(np.log(4)), 6)
    True
    """
    s = _finite_array(powers, "powers")
    if s.ndim < 1:
        raise ValueError(f"`powers` must have shape (..., bands); got shape {s.shape!r}.")
    if (s < 0).any():
        raise ValueError(f"`powers` must be non-negative; got minimum {float(s.min())!r}.")
    eps = check_scalar("eps", eps, minimum=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / (s.sum(axis=-1, keepdims=True) + eps)  # 0/0 only when eps=0 and no power
        terms = np.where(p > 0, p * np.log(p + eps), 0.0)
    return -terms.sum(axis=-1)


# ------------------------------------------------------------------------- radial spectra


def radial_power_spectrum(image, window=None, *, n_bins=None):
    """Radially averaged power spectral density of a 2D or 3D map (figures 1c and 3).

    Parameters
    ----------
    image : array-like of shape (height, width) or (depth, height, width)
        A confidence (or logit) map.
    window : None or str, default=None
        Separable window applied before the FFT; ``"hamming"`` is the paper's choice (it
        reduces the spectral leakage caused by the map's borders). Any name of
        :func:`scipy.signal.get_window` is accepted (periodic windows).
    n_bins : int, optional
        Number of radial frequency bins, evenly spaced from 0 to 0.5 cycles per voxel.
        Default ``min(S) // 2 + 1``, one bin per frequency index of the shortest axis. Maps of
        different sizes analysed with the same ``n_bins`` share one frequency grid, so their
        spectra can be averaged.

    Returns
    -------
    frequencies : ndarray of float64, shape (n_bins,)
        Radial frequency of each bin in cycles per voxel, ``linspace(0, 0.5, n_bins)``.
    power : ndarray of float64, shape (n_bins,)
        Mean power of the frequencies in each bin.

    Raises
    ------
    ValueError
        If the map is not 2D or 3D, is non-finite, has an axis shorter than 2, or
        ``n_bins`` is outside ``[2, min(S) // 2 + 1]`` (beyond it some bins would be empty).

    Notes
    -----
    The periodogram of the windowed map :math:`w \\cdot c` is

    .. math:: E(\\mathbf{f}) = \\frac{|\\mathcal{F}[w \\cdot c](\\mathbf{f})|^2}
              {\\sum_{\\mathbf{x}} w(\\mathbf{x})^2},

    normalised so that white noise of variance :math:`\\sigma^2` has :math:`E = \\sigma^2` with
    or without the window. A frequency of radius :math:`|\\mathbf{f}|` (cycles per voxel)
    joins bin :math:`\\lfloor |\\mathbf{f}| / \\Delta + 1/2 \\rfloor` with
    :math:`\\Delta = 0.5 / (n_{bins} - 1)`; corner frequencies beyond the last bin are left
    out.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.analysis import radial_power_spectrum
    >>> x = np.cos(2 * np.pi * 8 * np.arange(64) / 64)[:, None] * np.ones((64, 64))
    >>> f, p = radial_power_spectrum(x, window="hamming")
    >>> float(f[np.argmax(p)])
    0.125
    """
    img = _finite_array(image, "image", ndims=(2, 3))
    m = min(img.shape)
    if m < 2:
        raise ValueError(f"`image` must be at least 2 voxels along each axis; got {img.shape!r}.")
    n_bins = (
        m // 2 + 1
        if n_bins is None
        else check_scalar("n_bins", n_bins, integer=True, minimum=2, maximum=m // 2 + 1)
    )
    w = _window(img.shape, window)
    norm = img.size if w is None else float((w**2).sum())
    if w is not None:
        img = img * w
    power = np.abs(np.fft.rfftn(img)) ** 2 / norm
    freqs = [np.fft.fftfreq(n) for n in img.shape[:-1]] + [np.fft.rfftfreq(img.shape[-1])]
    grids = np.meshgrid(*freqs, indexing="ij")
    radius = np.sqrt(sum(g**2 for g in grids))
    step = 0.5 / (n_bins - 1)
    ring = np.floor(radius / step + 0.5).astype(np.int64).ravel()
    keep = ring < n_bins
    weight = rfft_weights(img.shape).ravel()[keep]
    sums = np.bincount(ring[keep], weights=power.ravel()[keep] * weight, minlength=n_bins)
    counts = np.bincount(ring[keep], weights=weight, minlength=n_bins)
    return np.linspace(0.0, 0.5, n_bins), sums / counts


# ------------------------------------------------------------------ Fig. 1 experiment


@dataclass(frozen=True)
class BoundaryExperimentResult:
    """Outcome of :func:`boundary_confidence_experiment`, one row per α.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
        Boundary confidences.
    maps : ndarray of shape (n_alphas, *spatial)
        The synthetic confidence maps (Fig. 1b).
    frequencies : ndarray of shape (n_frequencies,)
        Radial frequencies of ``spectra`` in cycles per pixel.
    spectra : ndarray of shape (n_alphas, n_frequencies)
        Radially averaged PSD of each map (Fig. 1c).
    band_powers : ndarray of shape (n_alphas, bands)
        Band powers of each windowed map.
    high_frequency_power : ndarray of shape (n_alphas,)
        Sum of ``band_powers`` over bands ``high_band`` and above.
    spectral_entropy : ndarray of shape (n_alphas,)
        Spectral entropy of ``band_powers``.

    Examples
    --------
    >>> from speccal.analysis import boundary_confidence_experiment
    >>> res = boundary_confidence_experiment(alphas=(1.0, 0.5), size=16, bands=4)
    >>> res.maps.shape, res.band_powers.shape, res.spectral_entropy.shape
    ((2, 16, 16), (2, 4), (2,))
    >>> float(res.maps[1].min())  # the boundary voxels of the α = 0.5 map
    0.5
    """

    alphas: np.ndarray
    maps: np.ndarray
    frequencies: np.ndarray
    spectra: np.ndarray
    band_powers: np.ndarray
    high_frequency_power: np.ndarray
    spectral_entropy: np.ndarray


def _boundary_masks(size, ndim, radius, boundary_width):
    """Foreground ball and its inner boundary shell of ``boundary_width`` voxels."""
    from scipy import ndimage

    grid = np.indices((size,) * ndim, dtype=np.float64) - (size - 1) / 2
    foreground = (grid**2).sum(axis=0) <= radius**2
    interior = ndimage.binary_erosion(foreground, iterations=boundary_width)
    boundary = foreground & ~interior
    if not interior.any():
        raise ValueError(
            f"`boundary_width` must leave an interior inside the radius-{radius} object; "
            f"got {boundary_width!r}."
        )
    return boundary


def boundary_confidence_experiment(
    alphas=(1.0, 0.9, 0.8, 0.7, 0.6, 0.5),
    *,
    size=64,
    ndim=2,
    radius=None,
    boundary_width=1,
    interior=1.0,
    bands=5,
    high_band=None,
    window="hamming",
):
    """The synthetic boundary-confidence experiment of the paper's figure 1.

    A binary segmentation of a disk (or ball): every voxel is predicted correctly with
    confidence ``interior`` (foreground inside, background outside), except the boundary
    voxels of the object, whose foreground confidence is ``α``. As α falls from 1.0
    (overconfident) to 0.5 (maximally uncertain, the calibrated state at a boundary), the map's
    power spectrum gets richer: high-frequency power rises and the spectral entropy increases.

    Parameters
    ----------
    alphas : sequence of float, default=(1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
        Boundary confidences, each in [0.5, 1].
    size : int, default=64
        Side of the square (cubic) map.
    ndim : {2, 3}, default=2
        Disk or ball.
    radius : float, optional
        Object radius in voxels; default ``size / 4``.
    boundary_width : int, default=1
        Thickness of the boundary shell, inside the object, in voxels.
    interior : float, default=1.0
        Confidence of every non-boundary voxel.
    bands : int, default=5
        Number of radial bands for ``band_powers`` and the entropy.
    high_band : int, optional
        First band (0-based) counted as high frequency; default ``bands // 2``.
    window : None or str, default="hamming"
        Window applied before every FFT, as in Fig. 1c.

    Returns
    -------
    result : BoundaryExperimentResult

    Raises
    ------
    ValueError
        If an α is outside [0.5, 1], ``ndim`` is not 2 or 3, ``radius`` does not fit in the
        map, or ``boundary_width`` leaves no interior.

    Notes
    -----
    The map is :math:`c = c_0 - (c_0 - \\alpha)\\,\\mathbf{1}_{\\partial}`, with
    :math:`\\mathbf{1}_{\\partial}` the boundary indicator. Without a window and without the
    DC term, the band powers of :math:`c` are those of :math:`\\mathbf{1}_{\\partial}` times
    :math:`(c_0 - \\alpha)^2`, so the entropy, being scale invariant, would be the same for
    every :math:`\\alpha < c_0`. With the Hamming window (the paper's setting) the saturated
    map leaks a fixed amount of low-frequency power through the window's spectrum, and the
    boundary term grows against it: the spectral entropy then rises monotonically as α falls.

    Examples
    --------
    >>> from speccal.analysis import boundary_confidence_experiment
    >>> res = boundary_confidence_experiment(alphas=(1.0, 0.75, 0.5), size=32)
    >>> bool((res.spectral_entropy[1:] > res.spectral_entropy[:-1]).all())
    True
    """
    a = _finite_array(alphas, "alphas", ndims=(1,))
    if ((a < 0.5) | (a > 1.0)).any():
        raise ValueError(f"`alphas` must lie in [0.5, 1]; got {a.tolist()!r}.")
    size = check_scalar("size", size, integer=True, minimum=4)
    if isinstance(ndim, bool) or not isinstance(ndim, (int, np.integer)) or ndim not in (2, 3):
        raise ValueError(f"`ndim` must be 2 or 3; got {ndim!r}.")
    radius = size / 4 if radius is None else check_scalar("radius", radius)
    if not 1 <= radius < size / 2:
        raise ValueError(f"`radius` must be in [1, size / 2); got {radius!r}.")
    boundary_width = check_scalar("boundary_width", boundary_width, integer=True, minimum=1)
    bands, high_band = _high_band(bands, high_band)
    boundary = _boundary_masks(size, ndim, radius, boundary_width)

    maps = np.full((len(a),) + boundary.shape, check_scalar("interior", interior))
    maps[:, boundary] = a[:, None]
    spectra = [radial_power_spectrum(m, window) for m in maps]
    powers = confidence_band_powers(maps, bands, window=window)
    return BoundaryExperimentResult(
        alphas=a,
        maps=maps,
        frequencies=spectra[0][0],
        spectra=np.stack([p for _, p in spectra]),
        band_powers=powers,
        high_frequency_power=powers[:, high_band:].sum(axis=1),
        spectral_entropy=spectral_entropy(powers),
    )


# ---------------------------------------------------------------- Fig. 8 hotspot maps


def _high_mask(shape, bands, high_band, layout):
    index = band_index(shape, bands, include_corners=True, layout=layout)
    return index >= high_band


def high_pass_spectrum(confidence_map, *, bands=5, high_band=None):
    """Centred power spectrum of a map keeping only its high-frequency bands (figure 8a).

    Parameters
    ----------
    confidence_map : array-like of shape (height, width) or (depth, height, width)
        A logit or confidence map.
    bands : int, default=5
        Number of radial bands (the bands of the method page, step 3).
    high_band : int, optional
        First band (0-based) kept; default ``bands // 2``. The corner frequencies beyond the
        last band are kept too.

    Returns
    -------
    power : ndarray of float64, same shape as the map
        :math:`|\\mathrm{shift}(\\mathcal{F}[c])|^2` on the kept bands, 0 elsewhere.

    Raises
    ------
    ValueError
        If the map is not 2D or 3D or not finite, or ``high_band`` is outside ``[0, bands)``.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.analysis import high_pass_spectrum
    >>> float(high_pass_spectrum(np.ones((8, 8))).sum())  # a constant map: no high frequencies
    0.0
    """
    c = _finite_array(confidence_map, "confidence_map", ndims=(2, 3))
    bands, high_band = _high_band(bands, high_band)
    power = np.abs(np.fft.fftshift(np.fft.fftn(c))) ** 2
    return np.where(_high_mask(c.shape, bands, high_band, "shifted"), power, 0.0)


def high_pass_reconstruction(confidence_map, *, bands=5, high_band=None):
    """Spatial map of a map's high-frequency bands: inverse FFT of them (figure 8b).

    Parameters
    ----------
    confidence_map : array-like of shape (height, width) or (depth, height, width)
        A logit or confidence map (the paper uses the baseline model's logits).
    bands : int, default=5
        Number of radial bands (the bands of the method page, step 3).
    high_band : int, optional
        First band (0-based) kept; default ``bands // 2``. The corner frequencies beyond the
        last band are kept too; the DC term never is.

    Returns
    -------
    reconstruction : ndarray of float64, same shape as the map
        :math:`\\mathcal{F}^{-1}[\\mathbf{1}_{k \\ge k_h} \\mathcal{F}[c]]`; its large positive
        values are the "hotspots" of Fig. 8b.

    Raises
    ------
    ValueError
        If the map is not 2D or 3D or not finite, or ``high_band`` is outside ``[0, bands)``.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.analysis import high_pass_reconstruction
    >>> x = np.cos(2 * np.pi * 7 * np.arange(16) / 16)[:, None] * np.ones((16, 16))
    >>> bool(np.allclose(high_pass_reconstruction(x), x))  # a high-frequency map passes
    True
    """
    c = _finite_array(confidence_map, "confidence_map", ndims=(2, 3))
    bands, high_band = _high_band(bands, high_band)
    spectrum = np.fft.rfftn(c) * _high_mask(c.shape, bands, high_band, "rfft")
    return np.fft.irfftn(spectrum, s=c.shape, axes=tuple(range(c.ndim)))


def confidence_difference(baseline, ours):
    """Confidence difference map ``baseline - ours`` (figure 8c).

    Parameters
    ----------
    baseline, ours : array-like of the same shape
        Confidence maps of two models on the same case.

    Returns
    -------
    difference : ndarray of float64
        Positive where the baseline is more confident: the overconfidence removed by ``ours``.

    Raises
    ------
    ValueError
        If the shapes differ or a map is not finite.

    Examples
    --------
    >>> from speccal.analysis import confidence_difference
    >>> confidence_difference([[0.9, 0.6]], [[0.7, 0.6]]).round(2).tolist()
    [[0.2, 0.0]]
    """
    a = _finite_array(baseline, "baseline")
    b = _finite_array(ours, "ours")
    if a.shape != b.shape:
        raise ValueError(
            f"`ours` must have the shape of `baseline` {a.shape!r}; got shape {b.shape!r}."
        )
    return a - b
