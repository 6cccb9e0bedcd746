"""SmoothECE (Błasiok and Nakkiran 2023) with a binned kernel: O(n + grid log grid).

The residuals ``r_i = c_i - a_i`` (confidence minus hit) are spread once onto a fixed grid of
``G = n_grid + 1`` points ``t_j = j / n_grid`` by linear binning (each residual split between
its two neighbouring grid points), so every bandwidth then costs one FFT convolution of the
grid, independent of n. The reflected Gaussian kernel is a circular convolution: reflecting at
0 and 1 makes the data an even function of period 2, so the grid is extended evenly to
``2 n_grid`` points (a mass at 0 or 1 is its own mirror image and counts twice) and convolved
with the period-2 sum of the Gaussian.
"""

from numbers import Real

import numpy as np
from scipy import optimize

from speccal.metrics import _binning as kernel

#: Grid intervals on [0, 1] (a power of two: FFT-friendly).
N_GRID = 1 << 14
#: Smallest bandwidth searched for the fixed point (relplot's ``eps``).
MIN_BANDWIDTH = 1e-3


def residual_grid(confidence, hit, n_grid=N_GRID):
    """Linear binning of ``confidence - hit`` onto ``n_grid + 1`` points of [0, 1]."""
    position = np.multiply(confidence, n_grid, dtype=np.float64)
    left = np.minimum(position.astype(np.intp), n_grid - 1)
    right_share = position - left
    residual = confidence.astype(np.float64) - hit
    grid = np.bincount(left, weights=residual * (1.0 - right_share), minlength=n_grid + 1)
    grid += np.bincount(left + 1, weights=residual * right_share, minlength=n_grid + 1)
    return grid


def smooth_error_at(spectrum, n_samples, bandwidth):
    """``(1/n) ∫_0^1 |Σ_i K_σ^R(t, c_i) r_i| dt`` from the spectrum of the binned residuals.

    ``spectrum`` is :func:`residual_spectrum` of the grid. The period-2 Gaussian
    :math:`g(x) = \\sum_k \\phi_\\sigma(x + 2k)` has Fourier coefficients
    :math:`\\tfrac12 e^{-(\\pi m \\sigma)^2 / 2}`, so the DFT of its L = 2 n_grid samples is
    :math:`\\tfrac{L}{2} e^{-(\\pi m \\sigma)^2 / 2}` up to aliasing terms below
    :math:`e^{-(\\pi n_{grid} \\sigma)^2 / 2}` (nothing in float64 for σ >= 1e-3).
    """
    period = 2 * (spectrum.shape[0] - 1)
    n_grid = period // 2
    frequency = np.arange(spectrum.shape[0])
    gauss = 0.5 * period * np.exp(-0.5 * (np.pi * frequency * bandwidth) ** 2)
    smoothed = np.fft.irfft(spectrum * gauss, n=period)[: n_grid + 1]
    magnitude = np.abs(smoothed)
    integral = (magnitude.sum() - 0.5 * (magnitude[0] + magnitude[-1])) / n_grid
    return float(integral / n_samples)


def residual_spectrum(grid):
    """rfft of the grid extended evenly to period 2 (a mass at 0 or 1 counts twice)."""
    n_grid = grid.shape[0] - 1
    circle = np.zeros(2 * n_grid)
    circle[: n_grid + 1] = grid
    circle[n_grid + 1 :] = grid[n_grid - 1 : 0 : -1]  # the mirror image of the inner points
    circle[0] *= 2.0  # 0 and 1 are their own mirror images
    circle[n_grid] *= 2.0
    return np.fft.rfft(circle)


def check_bandwidth(bandwidth):
    """``bandwidth`` is None or a number in (0, 1]."""
    if bandwidth is None:
        return None
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, Real) or not 0 < bandwidth <= 1:
        raise ValueError(f"`bandwidth` must be None or a number in (0, 1]; got {bandwidth!r}.")
    return float(bandwidth)


def smooth_calibration_error(y_true, y_prob, *, bandwidth=None, n_grid=N_GRID, class_axis=-1):
    """SmoothECE: the L1 calibration error of a kernel-smoothed reliability diagram.

    Parameters
    ----------
    y_true : array-like of int of shape (...)
        True labels in [0, n_classes).
    y_prob : array-like of float of shape (..., n_classes)
        Predicted probabilities in [0, 1]; each row sums to 1 within 1e-3.
    bandwidth : float in (0, 1] or None, default=None
        Kernel bandwidth σ; None: the unique σ* with ``smECE_σ* = σ*`` (Błasiok and
        Nakkiran's choice, searched in [1e-3, 1]; below 1e-3 the value at 1e-3).
    n_grid : int, default=16384
        Grid intervals on [0, 1] of the binned kernel (at least 16 per σ is kept by the
        search floor 1e-3).
    class_axis : int, default=-1
        Axis of ``y_prob`` holding the classes (0 for ``(n_classes, D, H, W)``); read without
        a transposed copy of the whole array, same value as channels last.

    Returns
    -------
    float
        SmoothECE of the top-label confidence, in [0, 1].

    Raises
    ------
    ValueError
        If the shapes do not match, a label or probability is invalid, or a parameter is out
        of range; the message names the argument.

    See Also
    --------
    expected_calibration_error : the binned L1 error.
    debiased_calibration_error : a debiased binned L2 error.

    Notes
    -----
    With confidences :math:`c_i`, hits :math:`a_i` and the reflected Gaussian kernel
    :math:`K^R_\\sigma(t, c) = \\sum_{k \\in \\mathbb{Z}} [\\phi_\\sigma(t - c - 2k) +
    \\phi_\\sigma(t + c - 2k)]` on [0, 1] (the density at t of :math:`c + \\eta` folded into
    [0, 1], :math:`\\eta \\sim N(0, \\sigma^2)`),

    .. math:: \\mathrm{smECE}_\\sigma = \\int_0^1 |\\hat r_\\sigma(t)| \\hat\\delta_\\sigma(t)
        \\, dt = \\frac{1}{n} \\int_0^1 \\Big| \\sum_i K^R_\\sigma(t, c_i) (c_i - a_i) \\Big|
        \\, dt,

    :math:`\\hat r_\\sigma` the smoothed residual and :math:`\\hat\\delta_\\sigma` the kernel
    density of the confidences; SmoothECE is :math:`\\mathrm{smECE}_{\\sigma^*}` at the
    fixed point :math:`\\sigma^* = \\mathrm{smECE}_{\\sigma^*}` (unique, as smECE_σ does not
    increase with σ), found by Brent's method to 1e-9.

    Cost O(n + G log G): the residuals are binned once onto the grid (linear binning), then
    each σ of the search is one inverse FFT (the Gaussian's transform is known in closed
    form); the integral is the trapezoidal rule on the grid. Against a direct sum of the
    kernel over the samples the binned value agrees to 1e-6 in the tests (linear binning
    moves a kernel centre by less than 1/G; the error is :math:`O((G\\sigma)^{-2})` relative).

    Against the ``relplot`` package's ``smECE`` (1.0.3; a test-only extra), on 36 data sets
    (n = 500 to 50 000, miscalibrated both ways, confidences in [0.5, 0.995)) the values
    differed by at most 2.7e-4 at σ*, 2.4e-4 at σ = 0.05 and 1.4e-3 at σ = 0.2. relplot is
    not closer because its bisection for σ* stops after 10 halvings of [0, 1] and returns
    the upper end (σ up to 2^-10 above the fixed point); its grid has
    ``max(2000, 20/σ) // 2 + 1`` points; its reflection adds one mirror image on each side of
    a kernel cut at ±0.5 (hence the larger gap at σ = 0.2); it adds 1e-4 to the density and
    reads the curves on a second 200-point grid. It also leaves out the mirror image of a
    mass at exactly 0 or 1, so that such a sample weighs half as much as the others: with
    10 % of the confidences at 1.0 — common in segmentation, where float32 softmax
    saturates — the two differed by 1.3e-2, and speccal's value is the one of the
    definition (checked against the direct sum).

    References
    ----------
    .. [1] Błasiok, Nakkiran. "Smooth ECE: principled reliability diagrams via kernel
       smoothing." ICLR 2024 (arXiv:2309.12236, 2023).

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.metrics import smooth_calibration_error
    >>> rng = np.random.default_rng(0)
    >>> confidence = rng.uniform(0.5, 1.0, 2000)
    >>> y_prob = np.stack([confidence, 1 - confidence], axis=-1)
    >>> y_true = (rng.random(2000) > confidence ** 2).astype(int)  # over-confident
    >>> round(smooth_calibration_error(y_true, y_prob), 2)
    0.16
    """
    bandwidth = check_bandwidth(bandwidth)
    n_grid = kernel.check_n_bins(n_grid, "n_grid")
    labels, probs = kernel.as_samples(y_true, y_prob, class_axis=class_axis)
    grid = np.zeros(n_grid + 1)
    for chunk_labels, chunk_probs in kernel.iter_chunks(labels, probs):
        confidence, hit = kernel.top_label(chunk_labels, chunk_probs)
        grid += residual_grid(confidence, hit, n_grid)
    n = labels.shape[0]
    spectrum = residual_spectrum(grid)
    if bandwidth is not None:
        return smooth_error_at(spectrum, n, bandwidth)
    gap = lambda sigma: smooth_error_at(spectrum, n, sigma) - sigma  # noqa: E731
    if gap(MIN_BANDWIDTH) <= 0:
        return smooth_error_at(spectrum, n, MIN_BANDWIDTH)
    sigma = optimize.brentq(gap, MIN_BANDWIDTH, 1.0, xtol=1e-9)
    return smooth_error_at(spectrum, n, sigma)
