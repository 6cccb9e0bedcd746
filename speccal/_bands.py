"""Radial frequency bands shared by the TensorFlow loss and the numpy analysis.

This module is pure numpy so that :mod:`speccal.spectral` (TensorFlow) and
:mod:`speccal.analysis` (numpy) use one band definition (DESIGN §1.3, paper Eq. 4).
"""

import numpy as np

_LAYOUTS = ("shifted", "fft", "rfft")


def _axis_frequencies(n, layout, last):
    """Integer frequency index of every position along one axis of length ``n``."""
    if layout == "shifted":
        return np.arange(n) - n // 2
    if layout == "rfft" and last:
        return np.arange(n // 2 + 1)
    return np.rint(np.fft.fftfreq(n) * n).astype(np.int64)


def band_index(spatial_shape, bands, *, include_dc=False, include_corners=False, layout="shifted"):
    """Radial band of every frequency of a spectrum.

    Parameters
    ----------
    spatial_shape : tuple of int
        Spatial size ``(H, W)`` or ``(D, H, W)`` of the map whose spectrum is taken.
    bands : int
        Number of bands ``K``.
    include_dc : bool, default=False
        Put the DC term (radius 0) in the first band. Under the strict reading of
        Eq. 4 it belongs to no band.
    include_corners : bool, default=False
        Put the corner frequencies (radius > R) in the last band. Under the strict
        reading of Eq. 4 they belong to no band.
    layout : {"shifted", "fft", "rfft"}, default="shifted"
        ``"shifted"``: the centred spectrum (after ``fftshift``), where position ``i``
        on an axis of length ``n`` has frequency ``i - n // 2``. ``"fft"``: the
        unshifted output of a full FFT. ``"rfft"``: the unshifted output of a
        real-input FFT, whose last axis has ``n // 2 + 1`` entries.

    Returns
    -------
    index : ndarray of int64, shape of the spectrum
        Band ``0 .. K-1`` of each frequency, ``-1`` where it falls in no band.

    Notes
    -----
    With frequency indices :math:`u, v, w`, radius :math:`r = \\sqrt{u^2 + v^2 + w^2}`,
    :math:`R = \\min(S) / 2` and :math:`r_k = k R / K`, band :math:`k` holds
    :math:`r_{k-1} < r \\le r_k`. The comparison is done exactly in integers
    (:math:`4 K^2 r^2 \\le k^2 \\min(S)^2`), so frequencies on a band edge never
    flip with floating-point rounding.
    """
    spatial_shape = tuple(int(n) for n in spatial_shape)
    if len(spatial_shape) not in (2, 3) or min(spatial_shape) < 1:
        raise ValueError(f"`spatial_shape` must be 2 or 3 positive sizes; got {spatial_shape!r}.")
    if isinstance(bands, bool) or not isinstance(bands, (int, np.integer)) or bands < 1:
        raise ValueError(f"`bands` must be an int >= 1; got {bands!r}.")
    if layout not in _LAYOUTS:
        raise ValueError(f"`layout` must be one of {_LAYOUTS}; got {layout!r}.")
    last = len(spatial_shape) - 1
    freqs = [_axis_frequencies(n, layout, axis == last) for axis, n in enumerate(spatial_shape)]
    grids = np.meshgrid(*freqs, indexing="ij")
    r2 = sum(g.astype(np.int64) ** 2 for g in grids)
    m = min(spatial_shape)
    k = np.arange(1, bands + 1, dtype=np.int64)
    # Smallest k with 4 K^2 r^2 <= k^2 m^2 (index k - 1), found among the increasing k^2 m^2;
    # equals `bands` when no k qualifies (r > R).
    index = np.searchsorted(k**2 * m**2, 4 * bands**2 * r2, side="left").astype(np.int64)
    if include_corners:
        index = np.minimum(index, bands - 1)
    else:
        index[index == bands] = -1
    if not include_dc:
        index[r2 == 0] = -1
    return index


def rfft_weights(spatial_shape):
    """Multiplicity of each entry of a real-input FFT's half spectrum.

    Entries on the last axis at frequency 0 and (for even sizes) at the Nyquist
    frequency stand for themselves; every other entry also stands for its
    Hermitian mirror, so it counts twice. Weighted sums over the half spectrum then
    equal sums over the full spectrum, band by band, because a mirrored frequency
    has the same radius.

    Returns
    -------
    weights : ndarray of float64, shape ``(..., n_last // 2 + 1)``
    """
    n = int(spatial_shape[-1])
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return np.broadcast_to(w, (*tuple(spatial_shape[:-1]), n // 2 + 1)).copy()


def separable_window(spatial_shape, name):
    """Separable window of ``spatial_shape``: the outer product of 1D windows, one per axis.

    The one window definition of the tapered loss (:mod:`speccal.spectral`) and the numpy
    analysis (:mod:`speccal.analysis`).

    Parameters
    ----------
    spatial_shape : tuple of int
        Map size ``(H, W)`` or ``(D, H, W)``.
    name : str
        A window name of :func:`scipy.signal.get_window` (e.g. ``"hamming"``), in its
        periodic form (``fftbins=True``), the usual choice before an FFT.

    Returns
    -------
    window : ndarray of float64, shape ``spatial_shape``

    Raises
    ------
    ValueError, TypeError
        From :func:`scipy.signal.get_window` for an unknown window; callers name their own
        argument in the message.
    """
    from scipy.signal import get_window

    out = np.ones(())
    for n in spatial_shape:
        out = np.multiply.outer(out, get_window(name, int(n)))
    return out
