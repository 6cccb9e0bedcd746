"""Spectral ops on segmentation logits (TensorFlow, channels last, 2D and 3D).

These are the building blocks of the spectral entropy regularizer (paper §3, DESIGN §1):
the max-logit confidence map (Eq. 1), its centred power spectrum (Eq. 2-3), radial band
powers (Eq. 4-5) and the spectral entropy of a band-power vector (Eq. 7-8). The radial bands
come from :func:`speccal._bands.band_index`, the one band definition shared with the numpy
twins in :mod:`speccal.analysis`.

Every op computes in float32, also when the logits are float16 (``mixed_float16``), and
works eagerly, inside :func:`tf.function` and under XLA (``jit_compile=True``). The heavy
parts run as small XLA-compiled kernels even when the caller is not compiled, so the first
call for a new input shape takes a moment to compile.
"""

import functools
import numbers
import sys

import numpy as np
import tensorflow as tf

from speccal._bands import band_index, rfft_weights

__all__ = ["band_powers", "confidence_map", "power_spectrum", "spectral_entropy"]

_RFFT = {2: (tf.signal.rfft2d, tf.signal.irfft2d), 3: (tf.signal.rfft3d, tf.signal.irfft3d)}
_FFT = {2: tf.signal.fft2d, 3: tf.signal.fft3d}
_MAX_CHAIN = 16  # class counts up to which the max is a chain of elementwise maxima

# The kernels below are XLA-compiled even when their caller is not (Keras trains without XLA
# on CPU-only hosts): XLA fuses each into one or two passes over the logits, where plain
# TensorFlow runs one pass per op. Inside an XLA-compiled caller they are simply inlined.
# TensorFlow's Apple GPU plugin has no XLA, so macOS runs them as ordinary graphs.
_xla = functools.partial(tf.function, jit_compile=sys.platform != "darwin", autograph=False)


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
    return _channel_max(logits)[0]


def _channel_max(logits):
    """float32 max over the class axis with a one-pass gradient, and whether all logits are
    finite (found in the same pass, see :func:`_max_kernel`).

    Up to 16 classes the forward pass also records which classes reach the maximum as a
    per-voxel bit mask (:func:`_max_mask_kernel`), so the backward pass writes the gradient
    from the mask without reading the logits again.
    """
    n_classes = logits.shape[-1]
    if n_classes is not None and n_classes <= _MAX_CHAIN:
        conf, finite, mask = _max_mask_kernel(tf.stop_gradient(logits))

        @tf.custom_gradient
        def attach_gradient(x):
            return conf, lambda upstream: _mask_grad_kernel(mask, upstream, n_classes)

    else:
        conf, finite = _max_kernel(tf.stop_gradient(logits))

        @tf.custom_gradient
        def attach_gradient(x):
            return conf, lambda upstream: _max_grad_kernel(x, conf, upstream)

    return tf.cast(attach_gradient(logits), tf.float32), finite


def _class_bits(n_classes):
    """Bit ``c`` for class ``c``, in the narrowest unsigned dtype that holds them all."""
    dtype = tf.uint8 if n_classes <= 8 else tf.uint16
    return tf.constant(1 << np.arange(n_classes), dtype)


@_xla
def _max_kernel(x):
    """Max over the last axis and an all-finite flag, in one fused pass under XLA.

    The max is a chain of elementwise maxima over the class slices (``tf.reduce_max`` over a
    short innermost axis is several times slower).
    """
    finite = tf.reduce_all(tf.math.is_finite(x))
    if x.shape[-1] > _MAX_CHAIN:
        return tf.reduce_max(x, axis=-1), finite
    return functools.reduce(tf.maximum, tf.unstack(x, axis=-1)), finite


@_xla
def _max_mask_kernel(x):
    """:func:`_max_kernel` and the bit mask of the classes equal to the max (at most 16)."""
    conf, finite = _max_kernel.python_function(x)
    bits = _class_bits(x.shape[-1])
    hit = tf.equal(x, conf[..., None])
    return conf, finite, tf.reduce_sum(tf.where(hit, bits, tf.zeros((), bits.dtype)), axis=-1)


@_xla
def _mask_grad_kernel(mask, upstream, n_classes):
    """:func:`_max_grad_kernel` from the bit mask of :func:`_max_mask_kernel`: the same
    values, without a second pass over the logits."""
    bits = _class_bits(n_classes)
    hit = tf.not_equal(tf.bitwise.bitwise_and(mask[..., None], bits), 0)
    share = upstream / tf.math.count_nonzero(hit, axis=-1, dtype=upstream.dtype)
    return tf.where(hit, share[..., None], tf.zeros((), upstream.dtype))


@_xla
def _max_grad_kernel(x, conf, upstream):
    """Gradient of the max: to the maximal class, split evenly between tied classes (as
    TensorFlow's own ``Max`` gradient does)."""
    hit = tf.equal(x, conf[..., None])
    share = upstream / tf.math.count_nonzero(hit, axis=-1, dtype=upstream.dtype)
    return tf.where(hit, share[..., None], tf.zeros((), upstream.dtype))


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
    """Band constants of the flattened rfft half spectrum (``n_freq`` frequencies).

    Returns ``onehot_t`` of shape ``(bands, n_freq)``, with ``onehot_t[k, f] = 1`` when
    frequency ``f`` lies in band ``k``; ``index`` of shape ``(n_freq,)``, the band of each
    frequency (``bands`` for none); and ``weights``, the Hermitian multiplicity of each
    half-spectrum entry, so that weighted half-spectrum sums equal full-spectrum sums.
    """
    index = band_index(
        spatial_shape,
        bands,
        include_dc=include_dc,
        include_corners=include_corners,
        layout="rfft",
    ).reshape(-1)
    onehot_t = (np.arange(bands)[:, None] == index).astype(np.float32)
    index = np.where(index < 0, bands, index).astype(np.int32)
    return onehot_t, index, rfft_weights(spatial_shape).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _band_constants(spatial_shape, bands, include_dc, include_corners):
    """:func:`_band_matrix` as cached eager constants, which graphs capture."""
    arrays = _band_matrix(spatial_shape, bands, include_dc, include_corners)
    with tf.init_scope():
        return tuple(tf.constant(a) for a in arrays)


def _rfft_band_powers(conf, onehot_t, index, weights):
    """Band powers of real maps via a real-input FFT, with an explicit gradient.

    TensorFlow registers no gradient for ``RFFT3D``. For band powers
    :math:`S_k = \\sum_f M_{fk} |Y_f|^2` of a real map ``x`` with full spectrum
    :math:`Y = \\mathcal{F}x`, the gradient given upstream ``g`` is
    :math:`\\partial L / \\partial x = 2 N\\, \\mathcal{F}^{-1}(A \\odot Y)` with
    :math:`A_f = \\sum_k g_k M_{fk} = g_{k(f)}`. ``A`` is real and even (bands are radial),
    so :math:`A \\odot Y` is Hermitian and the inverse transform is the inverse real FFT of
    the half spectrum.
    """
    spatial = tuple(conf.shape[1:])

    @tf.custom_gradient
    def forward(x):
        powers, spectrum = _power_kernel(tf.stop_gradient(x), onehot_t, weights)
        return powers, lambda upstream: _power_grad_kernel(spectrum, upstream, index, spatial)

    return forward(conf)


@_xla
def _power_kernel(x, onehot_t, weights):
    """Weighted half-spectrum power summed into bands, and the spectrum.

    The band sum is a matmul with the constant one-hot matrix, stored transposed: under XLA
    ``(bands, n_freq) @ (n_freq, batch)`` runs about three times faster than
    ``(batch, n_freq) @ (n_freq, bands)``.
    """
    spectrum = _RFFT[x.shape.rank - 1][0](x)
    real, imag = tf.math.real(spectrum), tf.math.imag(spectrum)
    power = tf.reshape((real * real + imag * imag) * weights, (tf.shape(x)[0], -1))
    return tf.transpose(tf.linalg.matmul(onehot_t, power, transpose_b=True)), spectrum


@_xla
def _power_grad_kernel(spectrum, upstream, index, spatial):
    """:math:`2 N \\, \\mathcal{F}^{-1}(A \\odot Y)`: ``A`` gathered by band, inverse real FFT."""
    scale = tf.pad(upstream * (2.0 * np.prod(spatial)), [[0, 0], [0, 1]])  # band `bands`: 0
    scale = tf.reshape(tf.gather(scale, index, axis=1), tf.shape(spectrum))
    return _RFFT[len(spatial)][1](spectrum * tf.cast(scale, spectrum.dtype), fft_length=spatial)


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
    return _band_powers_and_finite(logits, bands, include_dc, include_corners)[0]


def _band_powers_and_finite(logits, bands, include_dc, include_corners):
    """:func:`band_powers` and whether all logits are finite (for the regularizer's check)."""
    logits, spatial = _check_spatial(logits, "logits", 1)
    conf, finite = _channel_max(logits)
    # `bands` is validated by the shared `band_index`.
    constants = _band_constants(spatial, bands, bool(include_dc), bool(include_corners))
    return _rfft_band_powers(conf, *constants), finite


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
