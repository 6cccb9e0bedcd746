"""Spectral ops on segmentation logits (TensorFlow, channels last, 2D and 3D).

These are the building blocks of the spectral entropy regularizer (paper §3, DESIGN §1):
the max-logit confidence map (Eq. 1), its centred power spectrum (Eq. 2-3), radial band
powers (Eq. 4-5) and the spectral entropy of a band-power vector (Eq. 7-8). The radial bands
come from :func:`speccal._bands.band_index`, the one band definition shared with the numpy
twins in :mod:`speccal.analysis`.

Every op computes in float32, also when the logits are float16 (``mixed_float16``), and
works eagerly, inside :func:`tf.function` and under XLA (``jit_compile=True``).
"""

import functools
import numbers

import numpy as np
import tensorflow as tf

from speccal._bands import band_index, rfft_weights

__all__ = ["band_powers", "confidence_map", "power_spectrum", "spectral_entropy"]

_RFFT = {2: (tf.signal.rfft2d, tf.signal.irfft2d), 3: (tf.signal.rfft3d, tf.signal.irfft3d)}
_FFT = {2: tf.signal.fft2d, 3: tf.signal.fft3d}
_MAX_CHAIN = 16  # class counts up to which the max is a chain of elementwise maxima


def _check_spatial(tensor, name, n_trailing):
    """Validate a float tensor ``(batch, *spatial, *trailing)``; return it and ``spatial``."""
    tensor = tf.convert_to_tensor(tensor)
    if not tensor.dtype.is_floating:
        raise TypeError(
            f"`{name}` must be a floating-point tensor; got dtype {tensor.dtype.name}."
        )
    shape = tuple(tensor.shape)
    if tensor.shape.rank is None or len(shape) - 1 - n_trailing not in (2, 3):
        layout = "(batch, *spatial, n_classes)" if n_trailing else "(batch, *spatial)"
        raise ValueError(
            f"`{name}` must have shape {layout} with 2 or 3 spatial axes; got shape {shape!r}."
        )
    spatial = shape[1 : len(shape) - n_trailing]
    if any(n is None for n in spatial):
        raise ValueError(f"`{name}` must have static spatial sizes; got shape {shape!r}.")
    return tensor, spatial


def confidence_map(logits):
    """Max-logit confidence map of a batch of segmentation logits (Eq. 1).

    Parameters
    ----------
    logits : tf.Tensor of shape (batch, height, width, n_classes) or \
(batch, depth, height, width, n_classes)
        Logits (not probabilities), channels last, any float dtype.

    Returns
    -------
    tf.Tensor of float32, shape (batch, *spatial)
        :math:`c_b = \\max_c z_{b,c}` at every voxel.

    Raises
    ------
    TypeError
        If ``logits`` is not a floating-point tensor.
    ValueError
        If ``logits`` does not have 2 or 3 static spatial axes and a class axis.

    Notes
    -----
    .. math:: c_b(\\mathbf{x}) = \\max_{c = 1, \\dots, C} z_{b,c}(\\mathbf{x}) \\qquad (1)

    The maximum is taken in the input dtype (it is exact) and cast to float32.

    Examples
    --------
    >>> import tensorflow as tf
    >>> from speccal.spectral import confidence_map
    >>> confidence_map(tf.constant([[[[0.0, 2.0], [1.0, -1.0]]]])).numpy()
    array([[[2., 1.]]], dtype=float32)
    """
    logits, _ = _check_spatial(logits, "logits", 1)
    return _channel_max(logits)


def _channel_max(logits):
    """float32 max over the class axis, with a one-pass gradient.

    The maximum is a chain of elementwise maxima over the class slices, which XLA fuses into a
    single pass (``tf.reduce_max`` over a short innermost axis is several times slower). The
    gradient goes to the maximal class, split evenly between tied classes, as TensorFlow's
    own ``Max`` gradient does.
    """
    if logits.shape[-1] > _MAX_CHAIN:
        return tf.cast(tf.reduce_max(logits, axis=-1), tf.float32)

    @tf.custom_gradient
    def forward(x):
        conf = functools.reduce(tf.maximum, tf.unstack(x, axis=-1))

        def backward(upstream):
            hit = tf.equal(x, conf[..., None])
            share = upstream / tf.math.count_nonzero(hit, axis=-1, dtype=upstream.dtype)
            return tf.where(hit, share[..., None], tf.zeros((), upstream.dtype))

        return conf, backward

    return tf.cast(forward(logits), tf.float32)


def power_spectrum(conf):
    """Centred power spectrum of a batch of confidence maps (Eq. 2-3).

    This is the full, zero-frequency-centred spectrum, for inspection and plots;
    :func:`band_powers` reaches the same band sums faster through a real-input FFT.

    Parameters
    ----------
    conf : tf.Tensor of shape (batch, height, width) or (batch, depth, height, width)
        Confidence maps, e.g. from :func:`confidence_map`.

    Returns
    -------
    tf.Tensor of float32, same shape as ``conf``
        :math:`E_b = |\\mathrm{shift}(\\mathcal{F}(c_b))|^2`; on an axis of length ``n``
        position ``i`` holds frequency ``i - n // 2``.

    Raises
    ------
    TypeError
        If ``conf`` is not a floating-point tensor.
    ValueError
        If ``conf`` does not have 2 or 3 static spatial axes after the batch axis.

    Notes
    -----
    .. math::
        F_b = \\mathrm{SC}\\left(\\mathcal{F}[c_b]\\right) \\quad (2), \\qquad
        E_b = |F_b|^2 \\quad (3)

    Examples
    --------
    >>> import tensorflow as tf
    >>> from speccal.spectral import power_spectrum
    >>> power_spectrum(tf.ones((1, 2, 2))).numpy()  # all power at the centre (DC)
    array([[[ 0.,  0.],
            [ 0., 16.]]], dtype=float32)
    """
    conf, spatial = _check_spatial(conf, "conf", 0)
    axes = tuple(range(1, len(spatial) + 1))
    spectrum = _FFT[len(spatial)](tf.complex(tf.cast(conf, tf.float32), 0.0))
    real, imag = tf.math.real(spectrum), tf.math.imag(spectrum)
    return tf.signal.fftshift(real * real + imag * imag, axes=axes)


def _band_matrix(spatial_shape, bands, include_dc, include_corners):
    """One-hot ``(n_freq, bands)`` matrix of the flattened rfft half spectrum, and weights.

    ``onehot[f, k] = 1`` when frequency ``f`` lies in band ``k``; ``weights[f]`` is the
    Hermitian multiplicity of ``f``, so that weighted half-spectrum sums equal full-spectrum
    sums.
    """
    index = band_index(
        spatial_shape,
        bands,
        include_dc=include_dc,
        include_corners=include_corners,
        layout="rfft",
    )
    onehot = (index.reshape(-1, 1) == np.arange(bands)).astype(np.float32)
    return onehot, rfft_weights(spatial_shape).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _band_constants(spatial_shape, bands, include_dc, include_corners):
    """The band matrix and weights as cached eager constants, captured by graphs."""
    onehot, weights = _band_matrix(spatial_shape, bands, include_dc, include_corners)
    with tf.init_scope():
        return tf.constant(onehot), tf.constant(weights)


def _rfft_band_powers(conf, onehot, weights):
    """Band powers of real maps via a real-input FFT, with an explicit gradient.

    TensorFlow registers no gradient for ``RFFT3D``. For band powers
    :math:`S_k = \\sum_f M_{fk} |Y_f|^2` of a real map ``x`` with full spectrum
    :math:`Y = \\mathcal{F}x`, the gradient given upstream ``g`` is
    :math:`\\partial L / \\partial x = 2 N\\, \\mathcal{F}^{-1}(A \\odot Y)` with
    :math:`A_f = \\sum_k g_k M_{fk}`. ``A`` is real and even (bands are radial), so
    :math:`A \\odot Y` is Hermitian and the inverse transform is the inverse real FFT of the
    half spectrum.
    """
    spatial = tuple(conf.shape[1:])
    rfft, irfft = _RFFT[len(spatial)]
    n_voxels = float(np.prod(spatial))

    @tf.custom_gradient
    def forward(x):
        spectrum = rfft(x)
        real, imag = tf.math.real(spectrum), tf.math.imag(spectrum)
        power = tf.reshape((real * real + imag * imag) * weights, (tf.shape(x)[0], -1))
        powers = tf.linalg.matmul(power, onehot)

        def backward(upstream):
            scale = tf.linalg.matmul(upstream, onehot, transpose_b=True) * (2.0 * n_voxels)
            scale = tf.cast(tf.reshape(scale, tf.shape(spectrum)), spectrum.dtype)
            return irfft(spectrum * scale, fft_length=spatial)

        return powers, backward

    return forward(conf)


def band_powers(logits, bands=5, *, include_dc=False, include_corners=False):
    """Radial band powers of the confidence maps of a batch of logits (Eq. 1-5).

    Parameters
    ----------
    logits : tf.Tensor of shape (batch, height, width, n_classes) or \
(batch, depth, height, width, n_classes)
        Logits, channels last, any float dtype; spatial sizes must be static.
    bands : int, default=5
        Number of radial bands ``K``.
    include_dc : bool, default=False
        Count the DC term (radius 0) in the first band.
    include_corners : bool, default=False
        Count the corner frequencies (radius above ``min(spatial) / 2``) in the last band.

    Returns
    -------
    tf.Tensor of float32, shape (batch, bands)
        :math:`S_b^{(k)}`, the power of each sample's confidence map in each band.

    Raises
    ------
    TypeError
        If ``logits`` is not a floating-point tensor.
    ValueError
        If ``logits`` has the wrong rank or dynamic spatial sizes, or ``bands < 1``.

    Notes
    -----
    With frequency indices :math:`(u, v, w)` of the centred spectrum, :math:`R = \\min(S)/2`
    and :math:`r_k = kR/K`,

    .. math::
        \\mathcal{I}_k = \\{(u, v, w) : r_{k-1} < \\sqrt{u^2 + v^2 + w^2} \\le r_k\\}
        \\quad (4), \\qquad
        S_b^{(k)} = \\sum_{(u, v, w) \\in \\mathcal{I}_k} E_b(u, v, w) \\quad (5)

    The power is taken from a real-input FFT (``rfft3d``/``rfft2d``) of the confidence map;
    each half-spectrum entry is weighted by its Hermitian multiplicity, so the sums equal
    full-spectrum sums. The band sum is a matmul with a constant one-hot matrix, and the
    gradient is supplied explicitly (an inverse real FFT), because TensorFlow has none
    registered for ``RFFT3D``.

    Examples
    --------
    >>> import numpy as np, tensorflow as tf
    >>> from speccal.spectral import band_powers
    >>> logits = tf.constant(np.random.default_rng(0).normal(size=(2, 8, 9, 10, 3)), tf.float32)
    >>> band_powers(logits, bands=4).shape
    TensorShape([2, 4])
    """
    conf = confidence_map(logits)  # `bands` is validated by the shared `band_index`
    spatial = tuple(int(n) for n in conf.shape[1:])
    onehot, weights = _band_constants(spatial, bands, bool(include_dc), bool(include_corners))
    return _rfft_band_powers(conf, onehot, weights)


def spectral_entropy(powers, eps=1e-6):
    """Shannon entropy of normalised band powers (Eq. 7-8).

    Parameters
    ----------
    powers : tf.Tensor of shape (..., bands)
        Non-negative band powers, e.g. from :func:`band_powers`.
    eps : float, default=1e-6
        The :math:`\\varepsilon` of the normalisation and of the logarithm.

    Returns
    -------
    tf.Tensor of float32, shape (...)
        :math:`H(P)` for each power vector; ``(batch,)`` for ``(batch, bands)`` input.

    Raises
    ------
    ValueError
        If ``eps`` is not a positive number.

    Notes
    -----
    .. math::
        P^{(k)} = \\frac{S^{(k)}}{\\sum_{j=1}^K S^{(j)} + \\varepsilon} \\quad (7), \\qquad
        H(P) = -\\sum_{k=1}^K P^{(k)} \\log\\left(P^{(k)} + \\varepsilon\\right) \\quad (8)

    A zero power vector (a constant map with the DC term excluded) has entropy 0.

    Examples
    --------
    >>> import tensorflow as tf
    >>> from speccal.spectral import spectral_entropy
    >>> round(float(spectral_entropy(tf.constant([[1.0, 1.0, 1.0, 1.0]]))[0]), 4)  # log 4
    1.3863
    """
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps > 0:
        raise ValueError(f"`eps` must be a positive float; got {eps!r}.")
    powers = tf.cast(powers, tf.float32)
    prob = powers / (tf.reduce_sum(powers, axis=-1, keepdims=True) + eps)
    return -tf.reduce_sum(prob * tf.math.log(prob + eps), axis=-1)
